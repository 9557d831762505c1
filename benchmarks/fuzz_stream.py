"""Differential fuzz of the streamed ingest: every generated hostile export is ingested whole and in small
batches, and the two must agree table by table (issue 20: "the same rules and the same accounting").

Run: PYTHONPATH=src:tests python benchmarks/fuzz_stream.py [--files 300] [--start 7000] [--batches 7,50]

Each seed draws an export with ``tests/hostile_data.py`` (personal data in random columns, formula prefixes,
control characters, ragged lines, line breaks in quoted cells, blank lines, title rows, BOM, CRLF, GBK), then
``tests/test_stream.check_same`` compares, for the export and for a Parquet copy of each CSV export
(``hostile_data.write_parquet_copy``: typed columns, nulls, blank rows at the end, small row groups) and
a copy of each CSV export without its response id column (ids made from file and line), the clean responses, the quarantine (true rows and lines) and the accounting of ``cemkit.ingest.prepare`` (whole file) and ``cemkit.ingest.stream.prepare_streamed`` at each
batch size (GBK and mixed GBK/UTF-8 exports stream too). A file the stream does not take (``NotStreamed``: xlsx, a decision that differs between batches…)
is counted with its reason; so is bad input (a ``UserError``, both paths must refuse it). Prints one line
per disagreeing file and a summary; exits 1 when any file disagrees.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("CEMKIT_PSEUDONYM_KEY", "cemkit-fuzz")


def kind(path: Path, spec) -> str:
    """What the file is, for the tally: parquet, xlsx, or the CSV's encoding."""
    return path.suffix.lstrip(".") if path.suffix != ".csv" else f"csv {spec.encoding}"


def one(seed: int, batches: list[int], pack, variant: str = "") -> tuple[str, str, str]:
    """(kind, "same" | "not streamed" | "bad input" | "differs", detail) for one seed; ``variant``
    "parquet": the export's Parquet copy (``hostile_data.write_parquet_copy``), "no id": the export without
    its response id column, instead of the export (an xlsx: skipped)."""
    import dataclasses

    import hostile_data as hd

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = hd.random_spec(seed)
        if variant and spec.fmt != "csv":
            return variant, "skipped", ""
        if variant == "no id":
            spec = dataclasses.replace(spec, drop_id=True)
        ex = hd.write_export(spec, tmp / "in")
        path = ex.path
        if variant == "parquet":
            path = hd.write_parquet_copy(ex, tmp / "in", seed)
        what = kind(path, spec) + (" without ids" if variant == "no id" else "")
        return (what, *compare(path, batches, pack, tmp))


def compare(path: Path, batches: list[int], pack, tmp: Path) -> tuple[str, str]:
    """Ingest ``path`` whole and in batches of each size; ("same" | …, detail)."""
    from test_stream import check_same

    from cemkit.errors import UserError
    from cemkit.ingest import prepare
    from cemkit.ingest.batches import NotStreamed
    from cemkit.ingest.mapping import load_mapping, mapping_for
    from cemkit.ingest.stream import prepare_streamed, streams

    if not streams(path, "duckdb"):
        return "not streamed", f"{path.suffix} files are read whole"
    try:
        whole = prepare(path, pack, out_dir=tmp / "whole")
    except UserError as exc:
        for size in batches:  # the stream must refuse it too
            try:
                mp = mapping_for(load_mapping(None, pack), path, pack)
                prepare_streamed(path, pack, mp, tmp / f"s{size}", {}, batch_rows=size)
            except (UserError, NotStreamed):
                continue
            return "differs", f"whole refused ({exc}) but batches of {size} did not"
        return "bad input", str(exc)[:80]
    for size in batches:
        out = tmp / "streamed"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        try:
            mp = mapping_for(load_mapping(None, pack), path, pack)
            streamed = prepare_streamed(path, pack, mp, out, {}, batch_rows=size)
        except NotStreamed as exc:
            return "not streamed", str(exc)[:60]
        except Exception as exc:  # noqa: BLE001 - a disagreement to report, not to hide
            return "differs", f"batches of {size}: {type(exc).__name__}: {exc}"[:300]
        try:
            check_same(whole, streamed, tmp)
        except AssertionError as exc:
            return "differs", f"batches of {size}: {exc}"[:300] or traceback.format_exc(limit=2)[-300:]
    return "same", ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--start", type=int, default=7000)
    ap.add_argument("--batches", default="7,50")
    ap.add_argument("--pack", default="auto")
    args = ap.parse_args()
    import warnings

    from cemkit.packs import load_pack

    warnings.simplefilter("ignore")
    pack = load_pack(args.pack)
    batches = [int(x) for x in args.batches.split(",")]
    tally: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    for seed in range(args.start, args.start + args.files):
        for variant in ("", "parquet", "no id"):
            what, verdict, detail = one(seed, batches, pack, variant)
            if verdict == "skipped":
                continue
            tally[verdict] += 1
            kinds[(what, verdict)] += 1
            if verdict == "differs":
                print(f"seed {seed} ({what}): {detail}", flush=True)
            elif verdict == "not streamed":
                reasons[detail] += 1
    print(f"{sum(tally.values())} files (seeds {args.start}–{args.start + args.files - 1}, each export, and of each "
          f"CSV its Parquet copy and a copy without response ids), batches of {batches}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    for (what, verdict), n in sorted(kinds.items()):
        print(f"  {what}: {verdict} {n}")
    for why, n in reasons.most_common():
        print(f"  not streamed ({n}): {why}")
    return 1 if tally["differs"] else 0


if __name__ == "__main__":
    sys.exit(main())
