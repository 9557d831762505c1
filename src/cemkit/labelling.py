"""The labelling loop's commands: ``cemkit label`` (a sheet of comments to label), ``cemkit learn`` (learn
from the filled sheets, keep the model only if it beats the rules, save it) and ``cemkit eval-text
--labels`` (rules vs learned model on a held-out part of the labels).

The analysis lives in :mod:`cemkit.text.learn` and :mod:`cemkit.text.labels`; this module reads a run
folder, writes the workbook with :func:`cemkit.workbook.write_workbook` (the one Excel writer: every
comment is written as text, never as a formula) and prints what happened. docs/text.md, "Learning from
labels", walks through a round.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, UserError

__all__ = ["eval_labels", "eval_text_cli", "label_cli", "learn_cli", "load_labels", "text_hash"]

THEME_PATCH = "theme_keywords.yaml"


def text_hash(text: str) -> str:
    """A short fingerprint of a comment (the model records those it was trained on, so an evaluation can
    leave them out without keeping the comments themselves)."""
    return hashlib.sha256(" ".join(str(text).split()).encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- the run
def _run_info(run_dir: str | Path) -> tuple[Path, dict, Any]:
    from .packs import load_pack

    run = Path(run_dir)
    if not (run / "data" / "responses.parquet").is_file():
        raise InputError(f"{run}: not a cemkit run folder (no data/responses.parquet); pass the folder "
                         "`cemkit run` printed, e.g. reports/auto-latest")
    info = json.loads((run / "run.json").read_text(encoding="utf-8")) if (run / "run.json").is_file() else {}
    if not info.get("pack"):
        raise InputError(f"{run}: run.json names no pack")
    return run, info, load_pack(info["pack"])


def _mask(texts: pd.Series, pack: Any) -> pd.Series:
    from .privacy import mask_text

    masked, _ = mask_text(texts.astype("string"), plates=bool((pack.privacy or {}).get("plates")))
    return masked


# ------------------------------------------------------------------------------------------ cemkit label
def _free_path(path: Path) -> Path:
    """``path``, or ``name-2.xlsx``, ``name-3.xlsx`` … when it exists (a filled sheet is never overwritten)."""
    if not path.exists():
        return path
    k = 2
    while (cand := path.with_name(f"{path.stem}-{k}{path.suffix}")).exists():
        k += 1
    return cand


def build_label_sheet(run_dir: str | Path, n: int = 200, *, model: Any = None, exclude: list[str] | None = None,
                      lang: str | None = None, seed: int = 0) -> tuple[dict[str, pd.DataFrame], dict]:
    """The labelling workbook's sheets for a run (see :func:`cemkit.text.labels.select_for_labelling`) and
    a summary."""
    from . import text
    from .text.labels import HEADERS, PICKED, READING, select_for_labelling
    from .views import read_responses

    run, info, pack = _run_info(run_dir)
    lang = lang or info.get("lang") or pack.language
    df = read_responses(run)
    if "comment" not in df or not df["comment"].notna().any():
        raise InputError(f"{run}: the run has no comments to label")
    nps = df.get("nps")
    sel = select_for_labelling(df["comment"], pack, n=n, model=model, nps=nps, exclude=exclude or [], seed=seed)
    if sel.empty:
        raise InputError(f"{run}: no comment left to label (all are labelled already or too short)")
    first = sel["first"].to_numpy()
    tags = text.analyze(sel["text"], pack, model=model).tags()
    names = {t.id: t.name.get(lang) for t in pack.themes}
    tag_names = tags.assign(name=tags["theme"].astype(str).map(names)).groupby("row")["name"].agg("、".join)
    stage_names = {s.id: s.name.get(lang) for s in pack.stages}
    H = {k: v[lang] for k, v in HEADERS.items()}
    sheet = pd.DataFrame({
        H["item"]: np.arange(1, len(sel) + 1),
        H["comment"]: _mask(sel["text"], pack).astype(object).to_numpy(),
        H["label"]: "",
        H["theme_label"]: "",
        H["reading"]: sel["polarity"].map(READING[lang]).to_numpy(),
        H["themes"]: tag_names.reindex(range(len(sel))).fillna("").to_numpy(),
        H["stage"]: df["stage"].iloc[first].map(stage_names).fillna("").to_numpy() if "stage" in df else "",
        H["nps"]: pd.to_numeric(nps.iloc[first], errors="coerce").to_numpy() if nps is not None else np.nan,
        H["count"]: sel["count"].to_numpy(),
        H["picked_by"]: sel["picked_by"].map(PICKED[lang]).to_numpy(),
    })
    themes = pd.DataFrame({"id": [t.id for t in pack.themes], "name": [t.name.get(lang) for t in pack.themes],
                           "level1": [str(t.level1) for t in pack.themes]})
    n_unc, n_rnd = int((sel["picked_by"] == "uncertain").sum()), int((sel["picked_by"] == "random").sum())
    how = {
        "zh": [f"在「{H['label']}」列填写：正面 / 负面 / 中性（也可 positive / negative / neutral）；留空表示跳过。",
               (f"「{H['theme_label']}」列（可选）：评论提到、但「{H['themes']}」中没有的主题，"
                "填主题名称或id（见「主题」表），多个用、分隔。"),
               f"「{H['reading']}」是当前（规则或已学模型）的判断，仅供参考，请按评论本意标注。",
               "评论中的个人信息已脱敏。填好后运行：cemkit learn --run <运行目录> --labels <本文件>。",
               f"抽样：{n_unc}条为最不确定且彼此不同的评论，{n_rnd}条随机抽取（用于衡量整体准确率）。"],
        "en": [(f"Fill the '{H['label']}' column: positive / negative / neutral (or 正面 / 负面 / 中性); "
                "leave it blank to skip a comment."),
               (f"'{H['theme_label']}' (optional): a theme the comment is about that '{H['themes']}' misses — "
                "its name or id (sheet 'themes'); several separated by | or 、."),
               (f"'{H['reading']}' is the current reading (rules or the learned model), for reference only: "
                "label what the comment means."),
               "Personal data in comments is masked. Then run: cemkit learn --run <run folder> --labels <this file>.",
               (f"Picked: {n_unc} most uncertain, mutually different comments and {n_rnd} at random (to measure "
                "accuracy on ordinary comments).")],
    }[lang]
    sheets = {("标注" if lang == "zh" else "labels"): sheet,
              ("说明" if lang == "zh" else "how_to"): pd.DataFrame({("说明" if lang == "zh" else "how to"): how}),
              ("主题" if lang == "zh" else "themes"): themes}
    summary = {"run": str(run), "pack": pack.id, "n": len(sel), "uncertain": int((sel["picked_by"] == "uncertain").sum()),
               "random": int((sel["picked_by"] == "random").sum()), "model": model is not None and model.kept}
    return sheets, summary


def label_cli(args: Any) -> int:
    """``cemkit label --run RUN [--n 200] [--out FILE] [--labels OLD.xlsx …] [--sentiment-model M]``: the
    sheet goes to ``--out`` or ``./labelling-<run>.xlsx`` (the engagement folder one works in), never over an
    existing file."""
    from .text.model_file import load_sentiment_model, resolve_model
    from .workbook import write_workbook

    run, _info, pack = _run_info(args.run)
    mpath = resolve_model(getattr(args, "sentiment_model", None), pack)
    model = load_sentiment_model(mpath) if mpath else None
    exclude = load_labels(args.labels)["text"].tolist() if getattr(args, "labels", None) else []
    if int(args.n) < 1:
        raise UserError("--n must be at least 1")
    sheets, summary = build_label_sheet(run, int(args.n), model=model, exclude=exclude, lang=getattr(args, "lang", None))
    out = _free_path(Path(args.out) if getattr(args, "out", None) else Path(f"labelling-{run.resolve().name}.xlsx"))
    write_workbook(out, sheets)
    by = "the learned model is (or where it and the rules disagree)" if summary["model"] else "the rules are"
    print(f"cemkit label: {summary['n']} comments to label → {out}\n"
          f"  {summary['uncertain']} where {by} least sure (mutually different), {summary['random']} at random"
          + (f"; {len(exclude)} labelled comments left out" if exclude else "") +
          f"\n  fill the label column (正面 / 负面 / 中性), then: cemkit learn --run {run} --labels {out}")
    return 0


# ------------------------------------------------------------------------------------------ cemkit learn
def load_labels(paths: list[str]) -> pd.DataFrame:
    """The labelled comments of one or more sheets (:func:`cemkit.text.labels.read_label_sheet`); a comment
    labelled in several rows keeps its last label (later sheets correct earlier ones). Columns ``text,
    label, theme_label, sheet, line`` plus ``source`` (the file)."""
    from .text.labels import read_label_sheet

    frames = []
    for p in paths:
        f = read_label_sheet(p)
        f["source"] = str(p)
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    df["key"] = df["text"].map(lambda t: " ".join(str(t).split()))
    df = df[df["key"] != ""]
    df = df.drop_duplicates("key", keep="last").drop(columns="key").reset_index(drop=True)
    return df


def learn_cli(args: Any) -> int:
    """``cemkit learn --run RUN --labels SHEET.xlsx [--labels …] [--out FILE | --to-pack]``."""
    from .text.labels import parse_theme_labels, propose_theme_keywords, write_theme_patch_yaml
    from .text.learn import learn_sentiment
    from .text.model_file import MODEL_FILE

    _run, info, pack = _run_info(args.run)
    lang = getattr(args, "lang", None) or info.get("lang") or pack.language
    labels = load_labels(args.labels)
    sent = labels[labels["label"].notna()]
    model = learn_sentiment(sent["text"], sent["label"], pack)
    model.info["trained_on"] = sorted(text_hash(t) for t in sent["text"])
    if getattr(args, "to_pack", False):
        out = Path(pack.root) / MODEL_FILE
    elif getattr(args, "out", None):
        out = Path(args.out)
    else:
        out = Path(args.labels[0]).resolve().parent / MODEL_FILE
    lines = [f"cemkit learn: {len(sent)} sentiment labels from {len(args.labels)} sheet(s) (pack {pack.id})",
             "  " + model.report(lang)]
    if model.kept:
        model.save(out)
        lines.append(f"  model saved → {out}")
        lines.append(f"  later runs: cemkit run … --sentiment-model {out}"
                     + (" (runs of this pack pick it up from the pack folder)" if out.parent == Path(pack.root) else ""))
    else:
        lines.append("  no model saved: runs keep the rules")
    themed = labels[labels["theme_label"].notna()]
    if len(themed):
        ids = parse_theme_labels(themed["theme_label"].tolist(), pack, where=f"{args.labels[0]}: theme labels")
        tags = __import__("cemkit.text", fromlist=["analyze"]).analyze(themed["text"].tolist(), pack).tags()
        caught = set(zip(tags["row"].tolist(), tags["theme"].astype(str).tolist()))
        missed = [[t for t in ts if (i, t) not in caught] for i, ts in enumerate(ids)]
        props = propose_theme_keywords(themed["text"].tolist(), missed, pack)
        n_missed = sum(bool(m) for m in missed)
        if len(props):
            ex = {tid: [t for t, m in zip(themed["text"], missed) if tid in m] for tid in props["theme"].unique()}
            patch = out.parent / THEME_PATCH
            write_theme_patch_yaml(props, pack, patch, examples=ex)
            lines.append(f"  themes: {n_missed} labelled comments name a theme the dictionary missed; "
                         f"{len(props)} keywords proposed for {props['theme'].nunique()} theme(s) → {patch} "
                         "(review, then add them to themes.yaml)")
        else:
            lines.append(f"  themes: {n_missed} labelled comments name a theme the dictionary missed; no keyword "
                         "occurs often enough to propose (label more, or add keywords by hand)")
    print("\n".join(lines))
    return 0


# ------------------------------------------------------------------------------------ eval on the labels
def eval_labels(labels: pd.DataFrame, pack: Any, *, model: Any = None, test_share: float = 0.3,
                seed: int = 0) -> dict[str, Any]:
    """Rules vs learned model on labelled comments the model did not learn from.

    With ``model``: the labels whose comment is not among those it was trained on. Without: a seeded
    stratified split — a model learned on ``1 − test_share`` of the labels (guard included), both measured
    on the rest. Returns ``n_test``, ``rules_accuracy``, ``model_accuracy``, ``kept``, ``report`` (the
    guard's sentence), ``excluded`` (labels left out as training comments) and ``confusion`` tables."""
    from sklearn.model_selection import train_test_split

    from .text.learn import POLARITY, learn_sentiment

    lab = labels[labels["label"].notna()].reset_index(drop=True)
    excluded = 0
    if model is None:
        if len(lab) < 10 or lab["label"].value_counts().min() < 2:
            raise UserError(f"{len(lab)} sentiment labels are too few to hold some back for a test")
        tr, te = train_test_split(np.arange(len(lab)), test_size=test_share, random_state=seed,
                                  stratify=lab["label"])
        model = learn_sentiment(lab["text"].iloc[tr], lab["label"].iloc[tr], pack, seed=seed)
        test = lab.iloc[np.sort(te)]
    else:
        seen = set(model.info.get("trained_on") or [])
        mask = lab["text"].map(text_hash).isin(seen)
        excluded = int(mask.sum())
        test = lab[~mask]
    from .text import analyze

    a = analyze(test["text"].tolist(), pack, model=model)
    truth = test["label"].map(POLARITY).to_numpy()
    rules = np.sign(a.sentiment.to_numpy()).astype(int)
    learned = a.polarity().to_numpy().astype(int)
    cats = [-1, 0, 1]

    def conf(pred: np.ndarray) -> pd.DataFrame:
        return pd.crosstab(pd.Categorical(truth, cats), pd.Categorical(pred, cats), rownames=["label"],
                           colnames=["predicted"], dropna=False)

    n = len(test)
    return {"n_test": n, "excluded": excluded,
            "rules_accuracy": float((rules == truth).mean()) if n else float("nan"),
            "model_accuracy": float((learned == truth).mean()) if n else float("nan"),
            "kept": bool(model.kept), "report": model.report(), "rules_confusion": conf(rules),
            "model_confusion": conf(learned)}


def eval_labels_report(paths: list[str], pack: Any, model_path: str | None = None, seed: int = 0) -> str:
    """Printable :func:`eval_labels` (what ``cemkit eval-text --labels`` prints)."""
    from .text.model_file import load_sentiment_model

    model = load_sentiment_model(model_path) if model_path else None
    r = eval_labels(load_labels(paths), pack, model=model, seed=seed)
    how = (f"model {model_path}; {r['excluded']} labels it was trained on left out" if model_path else
           "model learned on 70% of the labels (seeded split), measured on the other 30%")
    lines = [f"Labels {', '.join(map(str, paths))} — pack {pack.id}: {how}",
             f"held-out labels: {r['n_test']}",
             f"rules accuracy:         {r['rules_accuracy']:.3f}",
             f"learned model accuracy: {r['model_accuracy']:.3f}"
             + ("" if r["kept"] else "  (not kept by its guard: these are the rules' answers)"),
             "guard: " + r["report"], "", "learned model confusion (rows: label −1/0/+1, columns: predicted)",
             r["model_confusion"].to_string()]
    return "\n".join(lines)


def eval_text_cli(args: Any) -> int:
    """``cemkit eval-text --pack P [--corpus CSV] [--labels SHEET … [--sentiment-model M]]``: the pack's
    labelled set (:func:`cemkit.text.evaluate.eval_text_cli`), or with ``--labels`` rules vs learned model on
    held-out labels."""
    from .packs import load_pack
    from .text.evaluate import eval_text_cli as pack_eval

    if not getattr(args, "labels", None):
        if getattr(args, "sentiment_model", None):
            raise UserError("--sentiment-model needs --labels (the labelled comments to measure it on)")
        return pack_eval(args)
    print(eval_labels_report(args.labels, load_pack(args.pack), getattr(args, "sentiment_model", None)))
    return 0
