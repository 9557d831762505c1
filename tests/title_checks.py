"""Each slide's title read back against what the same slide plots: the numbers and names a title states are
taken from the deck's own tags (the facts filled into it) and compared with the chart's categories and values
(or the table's cells) on that slide — the check a partner does by eye. Every storyline slide whose title
states a fact must have a check here (or be listed in ``NO_NUMBER_CHECK`` with the reason)."""

from __future__ import annotations

import json
import re

from pptx import Presentation

from cemkit.render.tags import FIELDS_TAG, ID_TAG, SLIDE_TAG, get_slide_tags, get_tags

# slides whose title facts are not plotted on the slide itself, and why
NO_NUMBER_CHECK = {
    "title": "cover",
    "findings": "lists the other slides' checked titles",
    "roadmap": "the decisions table states each uplift; the total is their unrounded sum",
    "playbooks": "segment table: the detractor share is its first row (checked in test_render_pptx)",
    "league_table": "appendix table named by its unit",
    "stage_drivers": "appendix table named by its size",
    "journey_table": "appendix table named by its wave",
    "prediction_weak": "states the model's AUC, which no chart plots",
    "prediction_refused": "states why there is no model",
    "since_last": "compares with the previous run; its bullets state each change (tested in test_since_last)",
}


def _cat(c) -> str:
    """A category as the reader sees its name: without the value shown beside it, the marker (▼▲↑↓) and the
    second line (峰值, low base)."""
    name = str(c).split("\n")[0]
    name = re.sub(r"\s{2}-?[\d,.]+%?[▼▲↑↓]?$", "", name)  # a bar with an interval: "郑州金水店  -40"
    return re.sub(r"\s*[▼▲↑↓]$", "", name).strip()


def read_deck(path) -> list[dict]:
    """One dict per slide: storyline id, title text, title facts {fact: text shown}, chart categories and
    series {name: values}, table rows, all text."""
    out = []
    for slide in Presentation(str(path)).slides:
        item = {"id": get_slide_tags(slide).get(SLIDE_TAG), "title": "", "facts": {}, "cats": [], "series": {},
                "rows": [], "text": [], "fields": []}
        for sh in slide.shapes:
            tags = get_tags(slide, sh)
            if tags.get(ID_TAG) == "title":
                item["title"] = sh.text_frame.text
                item["fields"] = json.loads(tags.get(FIELDS_TAG) or "[]")
                item["facts"] = {f: text for f, _spec, text in item["fields"]}
            if sh.has_text_frame:
                item["text"].append(sh.text_frame.text)
            if sh.has_chart and not item["cats"]:
                plot = sh.chart.plots[0]
                item["cats"] = [_cat(c) for c in plot.categories]
                item["low_base"] = [any(w in str(c) for w in ("低基数", "low base")) for c in plot.categories]
                item["series"] = {s.name: list(s.values) for s in plot.series}
            if sh.has_table:
                item["rows"] += [[c.text for c in r.cells] for r in sh.table.rows]
        out.append(item)
    return out


def _num(text: str) -> float:
    return float(str(text).replace(",", "").replace("%", ""))


def _r(v: float, decimals: int = 0) -> float:
    return round(v + 0.0, decimals)


def _first(series: dict) -> list:
    return next(iter(series.values()))


def _extreme(cats, values, highest: bool, skip=("整体", "Overall")):
    pairs = [(c, v) for c, v in zip(cats, values) if v is not None and c not in skip]
    return (max if highest else min)(pairs, key=lambda p: p[1])


def check_slide(s: dict, deck: list[dict]) -> None:
    """Assert that the title of slide ``s`` says what its chart or table shows (AssertionError otherwise)."""
    f, sid, cats, series = s["facts"], s["id"], s["cats"], s["series"]
    where = f"{sid}: {s['title']}"
    if sid == "exec_summary" and "overall" in f:
        comp = next((d for d in deck if d["id"] == "nps_composition"), None)
        if comp:  # the summary's NPS is the composition's overall bar: promoters minus detractors
            i = next(i for i, c in enumerate(comp["cats"]) if c in ("整体", "Overall"))
            det, _pas, pro = (v[i] for v in list(comp["series"].values())[:3])
            assert _r(pro - det) == _num(f["overall"]), where
    elif sid == "journey_curve" and "worst_stage" in f:
        vals = _first(series)
        name, low = _extreme(cats, vals, highest=False)
        assert name == f["worst_stage"] and _r(low) == _num(f["worst_value"]), where
        if "gap" in f:
            peak, high = _extreme(cats, vals, highest=True)
            assert peak == f["peak_stage"] and _r(high - low) == _num(f["gap"]), where
    elif sid == "nps_composition" and "most_detractors_stage" in f:
        name, high = _extreme(cats, _first(series), highest=True)
        assert name == f["most_detractors_stage"] and _r(high) == _num(f["most_detractors_share"]), where
    elif sid == "wave_trend" and "change_stage" in f:
        line = series[f["change_stage"]]
        change = line[-1] - line[-2]
        assert _r(abs(change)) == _num(f["change"]), where
        direction = next(text for fact, spec, text in s["fields"] if fact == "change" and spec == "dir")
        assert (change < 0) == (direction in ("下降", "down")), where
    elif sid == "league_chart" and "n_ranked" in f:
        ranked = len(cats) - sum(s.get("low_base") or [])  # low bases are shown greyed, not ranked
        assert ranked == int(_num(f["n_ranked"])), where
    elif sid == "stage_importance" and "top_stage" in f:
        name, high = _extreme(cats, _first(series), highest=True)
        assert name == f["top_stage"] and _r(high) == _num(f["top_share"]), where
    elif sid in ("priority_bar", "priority_matrix") and "top_fix" in f and cats:
        name, high = _extreme(cats, _first(series), highest=True)
        assert name == f["top_fix"], where
        if "top_fix_share" in f:
            assert _r(high) == _num(f["top_fix_share"]), where
    elif sid == "themes" and "top_neg_theme" in f:
        neg = next(v for k, v in series.items() if "负面" in k or "egative" in k)
        name, high = _extreme(cats, neg, highest=True)
        assert name == f["top_neg_theme"] and _r(high, 1) == _num(f["top_neg_rate"]), where
        if "second_neg_rate" in f:
            second = sorted(neg, reverse=True)[1]
            assert _r(second, 1) == _num(f["second_neg_rate"]), where
    elif sid == "theme_impact" and "most_damaging" in f:
        name, low = _extreme(cats, _first(series), highest=False)
        assert name == f["most_damaging"] and _r(-low) == _num(f["most_damaging_gap"]), where
    elif sid == "theme_stage" and "heat_high" in f:
        cells = [float(m.group(1)) for row in s["rows"][1:] for c in row[1:]
                 if (m := re.match(r"^(\d+)%", c))]
        assert min(cells) == _num(f["heat_low"]) and max(cells) == _num(f["heat_high"]), where
        if "hot_rate" in f:
            assert max(cells) == _num(f["hot_rate"]), where
    elif sid == "distinctive_words" and "detractor_words" in f:
        words = re.split(r"、|, ", f["detractor_words"])
        assert cats[: len(words)] == words, where
        assert all(v < 0 for v in _first(series)[: len(words)]), where
    elif sid == "emerging" and "new_topic" in f:
        assert any(f["new_topic"] in t and f["new_n"] in t for t in s["text"] if t != s["title"]), where
    elif sid == "alerts" and "n_alerts" in f:
        totals = [sum(v[i] or 0 for v in series.values()) for i in range(len(cats))]
        assert _r(sum(totals)) == _num(f["n_alerts"]), where
        if "top_owner" in f:
            name, high = _extreme(cats, totals, highest=True)
            assert name == f["top_owner"] and _r(high) == _num(f["top_owner_n"]), where
        if "p1_share" in f:
            assert _r(100 * sum(v or 0 for v in _first(series)) / sum(totals)) == _num(f["p1_share"]), where
    elif sid == "prediction" and "hit_rate" in f:
        assert _r(_first(series)[0]) == _num(f["hit_rate"]), where
    elif sid in ("method", "data_quality") and f and not re.search(r"（续 |\(continued ", s["title"]):
        cells = " ".join(c for row in s["rows"] for c in row)
        for k in ("n_used", "input_rows", "quarantined"):
            if k in f:
                assert f[k] in cells, where


def checked_ids() -> set[str]:
    """The storyline slide ids :func:`check_slide` knows (read from its source: one branch per id)."""
    import inspect

    src = inspect.getsource(check_slide)
    return set(re.findall(r'sid == "(\w+)"', src)) | {x for tup in re.findall(r"sid in \(([^)]*)\)", src)
                                                     for x in re.findall(r'"(\w+)"', tup)}
