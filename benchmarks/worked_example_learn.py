"""The worked example of docs/text.md, "Learning from labels": two labelling rounds on a synthetic demo.

Run: PYTHONPATH=src python benchmarks/worked_example_learn.py [--n 20000] [--work DIR]

1. A copy of the auto pack whose ``demo.yaml`` adds client jargon to its phrase banks (demo data are
   synthetic): 上周刚修完又返厂了 / 第二次返厂 to the repair-quality complaints, 现车零加价 / 零加价提的车 to
   the price praise. ``cemkit run --pack COPY --demo-n N`` (rules only).
2. ``cemkit label --run RUN --n 200``; the consultant is played by :func:`consultant`, which labels each
   comment from the banks that generated it — any complaint makes a comment negative (the survey
   convention), praise only positive, a filler as the auto pack's labelled set reads it (挺好的 positive,
   一般般 negative, 还行吧 / 没什么意见 neutral …) — and names the theme
   repair_quality where the dictionary found no theme in a 返厂 comment.
3. ``cemkit learn`` → the guard's sentence, ``theme_keywords.yaml``; a run with the model.
4. Round 2: ``cemkit label --n 100 --labels round1 --sentiment-model …``, learn from both sheets, a run.

Printed: each step's sentences, the negative share of the mentions of the themes the jargon touches in the
reporting wave against the share planted by the generator, and comment polarity against the consultant's
convention over every comment of the run. (Three runs of the pipeline: minutes, so no test runs it; the
pieces — label, learn, a run with a model — are tested in tests/test_learn.py.)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

JARGON = {("repair_quality", "neg"): ["上周刚修完又返厂了", "第二次返厂"],
          ("price", "pos"): ["现车零加价", "零加价提的车"]}
THEMES = ("price", "delivery_time", "repair_quality", "sales_consultant")
#: the demo's fillers as the auto pack's labelled set (industry_packs/auto/eval_text.csv) reads them
FILLERS = {"挺好的": 1, "继续加油": 1, "一般般": -1, "整体感觉一般": -1, "还行吧": 0, "总体还可以": 0,
           "希望越来越好": 0, "没什么意见": 0}


def make_pack(work: Path) -> Path:
    """A copy of the auto pack with the jargon in its demo phrase banks."""
    from cemkit.paths import packs_dir

    dst = work / "auto"
    shutil.copytree(packs_dir() / "auto", dst, ignore=shutil.ignore_patterns("sentiment_model.json"))
    spec = yaml.safe_load((dst / "demo.yaml").read_text(encoding="utf-8"))
    for (theme, side), words in JARGON.items():
        spec["themes"][theme][side] = list(spec["themes"][theme][side]) + words
    (dst / "demo.yaml").write_text("# SYNTHETIC demo settings (worked example of docs/text.md)\n"
                                   + yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dst


def banks(pack_dir: Path) -> dict[str, tuple[str, str]]:
    """phrase → (theme, side) for every bank phrase (the untagged topic's phrases: side neg, theme None)."""
    from cemkit.demo import _FILLERS

    if set(_FILLERS) != set(FILLERS):
        raise SystemExit(f"the demo's fillers changed: {_FILLERS}; give each a reading in FILLERS")

    spec = yaml.safe_load((pack_dir / "demo.yaml").read_text(encoding="utf-8"))
    out: dict[str, tuple[str, str]] = {}
    for tid, t in spec["themes"].items():
        for side in ("pos", "neg"):
            for ph in t.get(side) or []:
                out[ph] = (tid, side)
    for ph in spec.get("untagged_topic", {}).get("phrases", []):
        out[ph] = (None, "neg")
    return out


def phrases(comment: str) -> list[str]:
    return [p for p in str(comment).rstrip("。").split("，") if p]


def convention(comment: str, bank: dict) -> int:
    """The consultant's label: −1 if any phrase is a complaint, +1 if any is praise, else the filler's
    reading (``FILLERS``; 0 for anything else)."""
    ps = phrases(comment)
    sides = {bank[p][1] for p in ps if p in bank}
    if sides:
        return -1 if "neg" in sides else 1
    return next((FILLERS[p] for p in ps if p in FILLERS), 0)


def consultant(sheet: Path, bank: dict) -> None:
    """Fill the sheet's 情感标注 (and 主题标注 for 返厂 comments without a theme) as the consultant would."""
    from openpyxl import load_workbook

    from cemkit.text.labels import HEADERS

    wb = load_workbook(sheet)
    ws = wb.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    col = {k: head[HEADERS[k]["zh"]] for k in ("comment", "label", "theme_label", "themes")}
    names = {1: "正面", -1: "负面", 0: "中性"}
    for r in range(2, ws.max_row + 1):
        text = ws.cell(r, col["comment"]).value
        if text is None:
            continue
        ws.cell(r, col["label"]).value = names[convention(text, bank)]
        if "返厂" in str(text) and not ws.cell(r, col["themes"]).value:
            ws.cell(r, col["theme_label"]).value = "repair_quality"
    wb.save(sheet)


def cli(*args: str) -> str:
    """Run a cemkit command in this process; its standard output (it must succeed)."""
    from cemkit.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(args))
    if rc not in (0, None):
        raise SystemExit(f"cemkit {' '.join(args)} exited {rc}:\n{buf.getvalue()}")
    return buf.getvalue()


def latest_run(out: Path, before: set[Path]) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir() and p not in before and not p.name.startswith(".")
            and not p.is_symlink() and (p / "run.json").exists()]
    return max(runs, key=lambda p: p.stat().st_mtime)


def run(pack_dir: Path, out: Path, n: int, model: Path | None) -> Path:
    before = set(out.iterdir()) if out.exists() else set()
    cli("run", "--pack", str(pack_dir), "--demo-n", str(n), "--out", str(out), "--quiet",
        "--sentiment-model", str(model) if model else "none")
    return latest_run(out, before)


def measure(run_dir: Path, pack_dir: Path, model_path: Path | None, bank: dict) -> dict:
    """Negative share of the mentions of THEMES in the reporting wave (rules or the model, as the run used),
    the planted share, and comment polarity accuracy against the convention (all comments of the run)."""
    import json

    from cemkit import text
    from cemkit.packs import load_pack
    from cemkit.views import read_responses

    pack = load_pack(str(pack_dir))
    df = read_responses(run_dir)
    wave = (json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("wave") or {}).get("report")
    model = text.load_sentiment_model(model_path) if model_path else None
    c = df["comment"]
    has = c.notna() & (c.astype(str).str.strip() != "")
    a = text.analyze(c[has], pack, model=model)
    truth = c[has].map(lambda t: convention(t, bank)).to_numpy()
    acc = float((a.polarity().to_numpy() == truth).mean())
    tags = a.tags()  # "row": the index label of the comment in df
    if wave and "wave" in df:
        tags = tags[tags["row"].map(df["wave"].astype(str)) == str(wave)]
    rows = {}
    for th in THEMES:
        t = tags[tags["theme"].astype(str) == th]
        planted = [any(bank.get(p) == (th, "neg") for p in phrases(df.at[r, "comment"])) for r in t["row"]]
        rows[th] = {"mentions": len(t), "negative": float((t["polarity"] < 0).mean()) if len(t) else np.nan,
                    "planted": float(np.mean(planted)) if planted else np.nan}
    return {"accuracy": acc, "comments": int(has.sum()), "wave": wave, "themes": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--work", help="folder for the pack copy, runs and sheets (default: a temporary one)")
    ap.add_argument("--measure-only", action="store_true", help="re-measure the runs already in --work")
    args = ap.parse_args()
    if args.measure_only:
        return remeasure(Path(args.work))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cemkit-worked-"))
    work.mkdir(parents=True, exist_ok=True)
    pack_dir = make_pack(work)
    bank = banks(pack_dir)
    out = work / "reports"
    r0 = run(pack_dir, out, args.n, None)
    s1 = work / "round1.xlsx"
    print(cli("label", "--run", str(r0), "--n", "200", "--out", str(s1)).strip())
    sheet = pd.read_excel(s1, sheet_name=0)
    top = sheet.sort_values("出现次数", ascending=False).head(8)
    print("round 1, most frequent picks:", "; ".join(f"{t} ×{k}" for t, k in zip(top["评论"], top["出现次数"])))
    consultant(s1, bank)
    m1 = work / "model1.json"
    print(cli("learn", "--run", str(r0), "--labels", str(s1), "--out", str(m1)).strip())
    kw = work / "theme_keywords.yaml"
    if kw.exists():
        print("theme_keywords.yaml:", kw.read_text(encoding="utf-8")[:600])
    res = {"rules": measure(r0, pack_dir, None, bank)}
    if m1.exists():
        r1 = run(pack_dir, out, args.n, m1)
        res["round 1"] = measure(r1, pack_dir, m1, bank)
        s2 = work / "round2.xlsx"
        print(cli("label", "--run", str(r1), "--n", "100", "--out", str(s2), "--labels", str(s1),
                  "--sentiment-model", str(m1)).strip())
        sheet2 = pd.read_excel(s2, sheet_name=0)
        top = sheet2.sort_values("出现次数", ascending=False).head(8)
        print("round 2, most frequent picks:", "; ".join(f"{t} ×{k}" for t, k in zip(top["评论"], top["出现次数"])))
        consultant(s2, bank)
        m2 = work / "model2.json"
        print(cli("learn", "--run", str(r0), "--labels", str(s1), "--labels", str(s2), "--out", str(m2)).strip())
        if m2.exists():
            r2 = run(pack_dir, out, args.n, m2)
            res["rounds 1–2"] = measure(r2, pack_dir, m2, bank)
    table(res)
    print(f"(work folder: {work})")


def remeasure(work: Path) -> None:
    """The table again from the runs of an earlier call (rules, round 1, rounds 1–2: oldest first)."""
    pack_dir = work / "auto"
    bank = banks(pack_dir)
    runs = sorted((p for p in (work / "reports").iterdir() if (p / "run.json").exists() and not p.is_symlink()),
                  key=lambda p: p.name)
    models = [None, work / "model1.json", work / "model2.json"]
    names = ["rules", "round 1", "rounds 1–2"]
    table({k: measure(r, pack_dir, m, bank) for k, r, m in zip(names, runs, models)})


def table(res: dict) -> None:
    first = next(iter(res.values()))
    print(f"\nreporting wave {first['wave']}: negative share of the mentions (planted by the generator last)")
    print(f"{'theme':<18}{'mentions':>9}" + "".join(f"{k:>12}" for k in res) + f"{'planted':>10}")
    for th in THEMES:
        t0 = first["themes"][th]
        print(f"{th:<18}{t0['mentions']:>9}" + "".join(f"{100 * r['themes'][th]['negative']:>11.1f}%" for r in res.values())
              + f"{100 * t0['planted']:>9.1f}%")
    print(f"comment polarity against the consultant's convention, all {first['comments']:,} comments: " +
          ", ".join(f"{k} {r['accuracy']:.3f}" for k, r in res.items()))


if __name__ == "__main__":
    main()
