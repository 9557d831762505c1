"""The fact catalogue (cemkit/data/results.yaml) says what a demo run really writes, both ways.

validate-pack checks every fact a storyline names against the catalogue; if the catalogue listed a fact
no notebook writes, a title could pass validation and fail at render, and if a notebook wrote a fact the
catalogue lacks, a pack could not use it. This test runs the auto pack's demo end to end and compares.
"""

from __future__ import annotations

import json

import pytest

from cemkit.cli import main as cli_main
from cemkit.results import catalogue


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, set[str]]:
    out = tmp_path_factory.mktemp("runs")
    # all four waves pooled: 3,000 responses give every result (the latest wave's 750 alone are too few for
    # the theme × stage heat map); the facts a result writes are the same keys for any reporting wave
    assert cli_main(["run", "--pack", "auto", "--demo-n", "3000", "--wave", "all", "--out", str(out),
                     "--quiet"]) == 0
    run_dir = next(p for p in out.iterdir() if p.name.startswith("auto-2"))
    return {p.stem: set(json.loads(p.read_text(encoding="utf-8")).get("facts") or {})
            for p in (run_dir / "results").glob("*.json")}


@pytest.mark.slow
def test_every_fact_a_run_writes_is_in_the_catalogue(written):
    cat = catalogue()
    unknown = sorted(set(written) - set(cat.notebook))
    assert not unknown, f"results missing from cemkit/data/results.yaml: {unknown}"
    for name, facts in written.items():
        extra = facts - cat.facts[name] - cat.sometimes[name]
        assert not extra, f"{name}: facts missing from cemkit/data/results.yaml: {sorted(extra)}"


@pytest.mark.slow
def test_every_catalogued_fact_is_written(written):
    cat = catalogue()
    for name, notebook in cat.notebook.items():
        if notebook == "render" or name in cat.needs:  # built by the renderer / needs what this run lacks
            continue                                     # (tests/test_tracking_run.py checks those)
        assert name in written, f"{name} ({notebook}) was not written by the demo run"
        missing = cat.facts[name] - written[name]
        assert not missing, f"{name}: catalogued facts the run did not write: {sorted(missing)}"


def test_catalogue_is_well_formed():
    cat = catalogue()
    assert {"client", "pack_name", "period", "n_used"} <= cat.every_slide
    for name in cat.notebook:
        assert not (cat.facts[name] & cat.sometimes[name]), name
    assert cat.provides("league") >= {"best_unit", "client"}
