"""One run: notebooks executed by papermill in a staging folder, deliverables rendered, then published.

Steps: (1) check the pack, storyline and template before any work; (2) write the demo data when no data is
given; (3) run ``01_data_check`` (ingest), then the analysis notebooks two at a time (each starts its own
kernel, so two cores are used); (4) render PPTX, HTML and the xlsx data pack from ``results/`` only;
(5) move the staging folder to ``<out>/<pack>-<timestamp>`` in one rename. A failed run leaves the last good
run untouched, and its staging folder is renamed ``<out>/.failed-<id>`` (``-2``, ``-3``… when two fail in
the same second) with ``run.log`` inside. ``cemkit render`` (:func:`rerender`) publishes the same way: into a
staging copy that replaces the run folder once every deliverable is written. An ``--out`` that is a file or
cannot be written, and a full disk, are bad input (exit 2, one sentence), not a traceback.

How the notebooks are run and scheduled is in :mod:`cemkit.pipeline.notebooks`; rendering and publishing
folders (staging, atomic rename, ``cemkit render`` and ``refresh``) in :mod:`cemkit.pipeline.publish`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, PackError, UserError
from ..kernels import WarmKernels
from ..packs import Pack, load_pack, validate_pack
from ..paths import notebooks_dir
from ..privacy import mask_message
from .notebooks import (
    ONE_AT_A_TIME_ROWS,
    _execute,
    _responses_rows,
    _submit_notebooks,
    notebook_list,
    user_error_names,
)
from .publish import (
    _moved,
    _point_latest,
    _rename_unique,
    _staging,
    disk_full,
    own_name,
    refresh,
    render,
    rerender,
)

__all__ = ["RunOptions", "RunSummary", "disk_full", "notebook_list", "refresh", "render", "rerender", "run",
           "user_error_names"]


@dataclass
class RunOptions:
    pack: str
    data: str | Sequence[str] | None = None      # files, folders or glob patterns (None: demo data)
    odata: tuple[str, ...] = ()
    mapping: str | Sequence[str] | None = None   # one mapping, or one per data file
    out: str = "reports"
    client: str = ""
    lang: str | None = None
    template: str | None = None
    html_engine: str = "builtin"
    demo_n: int | None = None
    seed: int | None = None
    parallel: int = 2
    quiet: bool = False
    wave: str | None = None        # reporting wave: None = the latest, "all" = pooled, or a label
    compare: str | None = None     # wave changes are measured against: None = the one before, "none", a label
    sentiment_model: str | None = None  # learned model file; "none": the rules; None: the pack folder's, if any
    previous: str | None = None    # the run this one builds on (cemkit.tracking): alerts for new responses only
    closed_alerts: str | None = None  # the client's file of closed alert ids (with previous)
    alert_window: float = 30       # days: a customer with an open alert gets no second one within them
    wave_from_date: str | None = None  # files without a wave column: the wave from the date (half, quarter …)
    engine: str = "auto"           # analysis reads: "pandas", "duckdb" or "auto" (by size; cemkit.engine)


@dataclass
class RunSummary:
    run_dir: Path
    outputs: dict[str, Path]
    accounting: dict[str, Any]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    sentiment_model: dict[str, Any] | None = None  # the learned model given to the run, and whether it was used



class _Progress:
    def __init__(self, steps: list[str], quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=len(steps), file=sys.stderr, bar_format="{l_bar}{bar:30}| {n_fmt}/{total_fmt} {elapsed}",
                            leave=False)

    def step(self, label: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(label[:24].ljust(24))
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()



def run(opts: RunOptions, log: Callable[[str], None] = print) -> RunSummary:
    """Execute a whole run. Raises UserError (exit 2) for bad input; anything else is a bug (exit 1)."""
    t0 = time.perf_counter()
    pack = load_pack(opts.pack)
    lang = opts.lang or pack.language
    if lang not in ("zh", "en"):
        raise UserError(f"--lang must be zh or en, not {lang!r}")
    problems = validate_pack(pack.root)  # fail fast on any pack file (storyline, alerts, playbooks, demo)
    if problems:
        raise PackError(problems)
    if opts.html_engine == "quarto" and shutil.which("quarto") is None:
        raise UserError("--html-engine quarto needs the quarto command on PATH; it is not installed "
                        "(the built-in HTML engine needs nothing: drop the option)")
    if opts.parallel > 1:  # kernels run side by side: one BLAS thread each, or they thrash the cores
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
    notebooks = notebook_list()
    if not notebooks:
        raise RuntimeError(f"no notebooks found in {notebooks_dir()}")

    maps = _items(opts.mapping)
    _check_inputs(maps, _items(opts.data), pack)  # and on a missing file or a mapping that cannot be read
    # the ingest notebook's kernel starts now, while the template and the sentiment model are checked (≈ 2 s
    # of each run); it moves into the run folder when the notebook takes it
    warm = WarmKernels(len(notebooks), None, ahead=1)
    try:
        from ..render.pptx import open_template

        open_template(opts.template)  # and on a template missing a layout
        model_path, model_info = _sentiment_model(opts, pack)  # and on a model file that cannot be used
        out = Path(opts.out).resolve()  # absolute: papermill changes the working directory while it runs
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{pack.id}-{stamp}"
        staging = _staging(out, f".staging-{run_id}")
        (staging / "notebooks").mkdir()
    except BaseException:
        warm.close()
        raise
    logfile = staging / "run.log"
    timings: dict[str, float] = {}
    kernels: dict[str, dict] = {}  # notebook → its kernel's process id and CPU seconds
    steps = [nb.stem for nb in notebooks] + ["render"]
    progress = _Progress(steps, opts.quiet)
    try:
        data, odata = _items(opts.data) or _mapped_files(maps, pack), list(opts.odata)
        if opts.wave_from_date and data:
            maps = _with_wave_rule(maps, opts.wave_from_date, staging)
        synthetic = not data
        if synthetic:
            from ..demo import write_demo

            t = time.perf_counter()
            rpath, opath = write_demo(pack, staging / "input", n=opts.demo_n, seed=opts.seed)
            data, odata = [str(rpath)], [str(opath)]
            timings["demo data"] = time.perf_counter() - t
        from ..ingest import data_files

        data = [str(f.resolve()) for f in data_files(data)]  # folders and patterns → files; missing → exit 2
        previous = _previous(opts)
        for path in odata:
            if path and not Path(path).exists():
                raise InputError(f"{path}: file not found")
            if path and Path(path).is_dir():
                raise InputError(f"{path} is a folder; give the file itself (an export: CSV, XLSX, SAV or "
                                 "Parquet; a mapping: YAML)")
        nb_dir = staging / "notebooks"  # the kernels' working folder: the run folder is ".." from there

        def here(path: str) -> str:
            """A path as the notebooks see it: relative when inside the run folder (the demo input), so an
            executed notebook still runs where it lies after the run is published."""
            p = Path(path).resolve()
            return os.path.relpath(p, nb_dir) if p.is_relative_to(staging.resolve()) else str(p)

        params = {
            "pack": str(pack.root), "data": [here(d) for d in data],
            "odata": [here(p) for p in odata],
            "mapping": [str(Path(m).resolve()) for m in maps] if len(maps) > 1 else
                       (str(Path(maps[0]).resolve()) if maps else ""),
            "run_dir": "..", "client": opts.client, "lang": lang, "synthetic": synthetic,
            "wave": opts.wave or "", "compare": opts.compare or "", "previous": previous,
            "closed_alerts": str(Path(opts.closed_alerts).resolve()) if opts.closed_alerts else "",
            "alert_window": float(opts.alert_window),
            "engine": opts.engine,
            "sentiment_model": str(model_path or ""),
        }
        first, rest = notebooks[0], notebooks[1:]
        warm.move(nb_dir)
        # the analysis notebooks' kernels start while ingest runs; beside a streamed ingest (the run's peak) one
        # waits, not two (an idle kernel holds ≈ 240 MB: two took the 1M run to 1.90 GB of its 2 GB)
        from ..ingest.stream import streams

        warm.keep(1 if any(streams(p, opts.engine) for p in data) else 2)
        timings[first.stem] = _execute(first, nb_dir / first.name, params, nb_dir, warm, kernels)
        progress.step(first.stem)
        # after it, two: each notebook of the longest chain (journey → text → actions) then finds its kernel
        # ready; one waiting cost it ≈ 2.5–3 s twice at 1M (the kernel started when the one before was taken)
        warm.keep(2)
        with ThreadPoolExecutor(max_workers=max(1, opts.parallel)) as pool:  # waits for every notebook on leaving
            futures = _submit_notebooks(pool, rest, nb_dir, params, warm,
                                        one_at_a_time=_responses_rows(staging) >= ONE_AT_A_TIME_ROWS,
                                        kernels=kernels)
            for name, fut in futures.items():
                timings[name] = fut.result()
                progress.step(name)
        t = time.perf_counter()
        outputs = render(staging, pack, lang=lang, client=opts.client, template=opts.template,
                         synthetic=synthetic, html_engine=opts.html_engine)
        timings["render"] = time.perf_counter() - t
        progress.step("render")
        for extra in ("alerts.xlsx", "alerts.csv", "playbooks.xlsx", "playbooks.csv", "top_risk.xlsx",
                      "discovery_candidates.yaml"):
            if (staging / extra).exists():
                outputs[extra] = staging / extra
        accounting = _accounting(staging)
        if not maps and not synthetic and accounting:  # unattended: say which mapping the run used
            from ..ingest.draft import used_mapping_yaml

            (staging / "mapping.used.yaml").write_text(used_mapping_yaml(accounting, data), encoding="utf-8")
            outputs["mapping.used.yaml"] = staging / "mapping.used.yaml"
        if model_info is not None:  # the text notebook judged whether the comments are in the model's domain
            model_info = {**model_info, **_model_used(staging)}
        seconds = time.perf_counter() - t0
        (staging / "run.json").write_text(json.dumps({
            "pack": pack.id, "lang": lang, "client": opts.client, "synthetic": synthetic, "data": data,
            "odata": odata, "mapping": opts.mapping, "wave": _wave_facts(staging),
            "previous": {"run": Path(previous).name, "path": previous} if previous else None,
            "closed_alerts": opts.closed_alerts, "seconds": round(seconds, 2),
            "timings": {k: round(v, 2) for k, v in timings.items()},
            "kernels": {k: {**v, "cpu_s": v["cpu_s"] and round(v["cpu_s"], 2)} for k, v in kernels.items()},
            "accounting": accounting,
            "sentiment_model": model_info,
        }, ensure_ascii=False, indent=1), encoding="utf-8")
        final = out / run_id
        if final.exists():
            final = out / own_name(run_id)
        staging.rename(final)  # the publish step: one atomic rename on the same filesystem
        _point_latest(out, pack.id, final)
        outputs = {k: final / v.name for k, v in outputs.items()}
        return RunSummary(final, outputs, accounting, seconds, timings, model_info)
    except BaseException as exc:
        detail = traceback.format_exc() if not isinstance(exc, UserError) else str(exc)
        try:
            logfile.write_text(mask_message(detail), encoding="utf-8")
        except OSError:
            pass
        failed = _rename_unique(staging, out, f".failed-{run_id}")
        if failed is not None:
            if isinstance(exc, UserError):  # a message that names a file in the staging folder: it moved
                exc.args = tuple(_moved(a, staging, failed) for a in exc.args)
            exc.add_note(f"partial run and its log: {failed / 'run.log'}")
        if disk_full(exc):
            raise UserError(f"the disk is full (no space left on device while writing in {out}); free some "
                            "space and run again") from exc
        raise
    finally:
        warm.close()
        progress.close()


def _sentiment_model(opts: RunOptions, pack: Pack) -> tuple[Path | None, dict | None]:
    """The learned sentiment model the run uses (see :func:`cemkit.text.model_file.resolve_model`), loaded once
    here so a bad file stops the run before any work; and what run.json records about it."""
    from ..text.model_file import load_sentiment_model, resolve_model

    path = resolve_model(opts.sentiment_model, pack)
    if path is None:
        return None, None
    model = load_sentiment_model(path)
    return path, {"path": str(path), "kept": model.kept, "n_labels": model.info.get("n"),
                  "cv_accuracy": model.info.get("cv_accuracy"), "rules_accuracy": model.info.get("rules_accuracy")}


def _model_used(run_dir: Path) -> dict[str, bool]:
    """Whether the run's sentiment followed the learned model (the text view's facts)."""
    from ..results import load_json

    try:
        facts = load_json(run_dir, "sentiment_model").get("facts") or {}
    except FileNotFoundError:  # no comments in the reporting wave: the model had nothing to read
        return {"used": False, "out_of_domain": False}
    return {"used": bool(facts.get("sentiment_learned")), "out_of_domain": bool(facts.get("sentiment_out_of_domain"))}


def _previous(opts: RunOptions) -> str:
    """The previous run's folder (absolute), checked to be a finished run; '' without one."""
    if opts.closed_alerts and not opts.previous:
        raise InputError("--closed-alerts closes the alerts of a previous run: give --previous RUN too")
    if opts.closed_alerts and not Path(opts.closed_alerts).is_file():
        raise InputError(f"{opts.closed_alerts}: file not found")
    if not opts.previous:
        return ""
    prev = Path(opts.previous).resolve()
    if not (prev / "run.json").is_file():
        raise InputError(f"--previous {opts.previous}: not a finished cemkit run (no run.json in the folder)")
    return str(prev)


def _with_wave_rule(maps: list[str], rule: str, staging: Path) -> list[str]:
    """The mappings with the engagement's wave rule (``wave: {from_date: …}``) where they give none, written
    into the staging folder (the run's audit trail keeps them)."""
    import yaml

    from ..packfiles import read_yaml

    out = []
    for i, path in enumerate(maps or [None]):
        data = (read_yaml(Path(path))[0] if path else None) or {}
        if not isinstance(data, dict):
            out.append(path)
            continue
        wave = data.get("wave") if isinstance(data.get("wave"), dict) else {}
        data["wave"] = {"from_date": rule, **wave}
        target = staging / f"mapping_{i + 1}.yaml"
        target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        out.append(str(target))
    return out


def _items(value: str | Sequence[str] | None) -> list[str]:
    """An option that may be given once or several times (``--data``, ``--mapping``) as a list."""
    if value is None or value == "":
        return []
    return [str(value)] if isinstance(value, (str, Path)) else [str(v) for v in value if v]


def _check_inputs(maps: list[str], data: list[str], pack: Pack) -> None:
    """Bad input found before any work (no staging or .failed folder): a mapping that is missing or cannot
    be read (YAML errors with their line, alias bombs), a --data item that names no file."""
    from ..ingest import data_files
    from ..ingest.mapping import load_mapping

    for path in maps:
        if not Path(path).is_file():
            raise InputError(f"{path}: mapping file not found")
        load_mapping(path, pack)
    if data:
        data_files(data)


def _mapped_files(maps: list[str], pack: Pack) -> list[str]:
    """The data files a single mapping names (``source.file`` or ``sources``) when ``--data`` is not given."""
    if len(maps) != 1:
        return []
    from ..ingest.mapping import load_mapping, source_files

    return source_files(load_mapping(maps[0], pack))


def _wave_facts(run_dir: Path) -> dict:
    """The run's reporting and comparison waves (as the data-check notebook resolved them) for run.json."""
    path = run_dir / "results" / "data_quality.json"
    facts = (json.loads(path.read_text(encoding="utf-8")).get("facts") or {}) if path.exists() else {}
    return {"report": facts.get("wave_id"), "compare": facts.get("compare_wave"), "waves": facts.get("waves"),
            "n_report": facts.get("n_wave")}


def _accounting(run_dir: Path) -> dict:
    path = run_dir / "data" / "accounting.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
