"""Client stage labels → the pack's stage ids, by meaning (:func:`propose_stage_values`, ``StageMatcher``).

A label is compared with every stage's id, names, trigger, touchpoint names and ``synonyms`` (pack.yaml) in
both languages: whole, by containment (提车 ⊂ 交车提车; in a Chinese compound the head, its last word, decides:
账单分期 is an instalment), by :func:`cemkit.ingest.understand.similarity`, and on its parts (``售后-首保``,
``Purchase 购买``) with survey words (回访, 满意度, survey …) and line-of-business prefixes (销售, 售后, Sales …)
taken off. Before that the label is read: a leading code (``05 交车``, ``S03 交付``) is dropped, English
ordinals read as words (``1st`` → first) and ``&`` as "and". When the pack's stages are periods of time (the
first year, years 1-2, 2+ years, stated in their names), a label stating a period (``入住3个月``, ``收房不到一年``,
``Living here 1-2 years``) goes to the stage whose period holds it. A label naming what only one stage is about
(an attribute it drives: 装修审批 → the first year) gets that stage as a suggestion only (``weak``), placed
when the label names it as a completed event (装修审批完成). A point in time on a period boundary (入伙一年)
closes the earlier stage; English names match by their words' stems (Picked up an online order)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ..packs import Pack
from .cells import _key
from .stage_verbs import en_verb, en_verb_stems, expand_abbrev, first_stem, zh_around, zh_verb
from .stage_verbs import stems as _stems
from .stage_verbs import words as verb_words
from .understand import read_question, similarity

# what a DMS / CRM trigger name adds after its event (新车交付7日回访, 首保完成次日回访, 开卡成功后T+1推送,
# Delivery + 3 days follow-up): when the survey went out, by what medium, that the event was completed
_OFFSET = (r"满?(?:\d+|[一二两三四五六七八九十半]+)个?(?:日|天|小时|周|个月|月|分钟)(?:内|后|以后|之后)?|当日|当天|次日|隔日|"
           r"t\d+|第\d+天|\d+(?:days?|hours?|hrs?|h|weeks?|d)(?:later|after)?|day\d+")
_STAGE_SUFFIX = re.compile(r"(环节|阶段|问卷|调研|调查|满意度|体验|场景|触点|回访|评价|咨询|办理|服务|业务|后|之后|以后|期|"
                           r"短信|推送|提醒|邀约|邀请|完成|结束|关闭|办结|结案|成功|survey|stage|feedback|followup|"
                           r"callback|sms|invite|invitation|questionnaire|after|later|completed?|closed|done|"
                           + _OFFSET + r")+$")
_STAGE_PREFIX = re.compile(r"^(新车|销售|售后|业主|客户|会员|线上|线下|门店|sales|service|customer|post|after)+")
# parts: split on dashes (not in a range such as 1-2), slashes, bars, colons, and between Chinese and Latin words
_LABEL_SPLIT = re.compile(r"\s*(?:(?<!\d)[-–—]|[-–—](?!\d)|[/|｜·:：])\s*|\s+(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+")
_CONJUNCTION = re.compile(r"\s*(?:与|及|和|、|&|\band\b)\s*", re.IGNORECASE)
STAGE_AUTO_MIN = 0.8  # a label matched by similarity alone is used in a run without a mapping from this score
VERB_SCORE = 0.9  # the stage a label's verb names (激活新卡, I returned …); the object's stages stay below
ABOUT_SCORE = 0.75  # a label naming an attribute of one stage only: "weak", suggested in the draft, never used
EVENT_SCORE = 0.82  # ... named as a completed event (装修审批完成): used
_EVENT_DONE = re.compile(r"(完成|办结|结束|成功|已办|completed?|done|finished|closed)\s*$", re.IGNORECASE)
# a leading code before the label's words: "05 交车", "S03 交付", "A1. Delivery", "3、提车" (not "1-2年", "4S店")
_CODE = re.compile(r"^\s*[a-z]{0,3}\d{1,4}[a-z]?(?:\s*[.、:：)）_\-]\s*|\s+)(?=[^\d\s.、:：)）_\-])", re.IGNORECASE)
_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth"}
_ORDINAL = re.compile(r"\b(1st|2nd|3rd|4th|5th)\b", re.IGNORECASE)


def read_label(label: str) -> str:
    """A stage label as the matcher reads it: NFKC, a leading code dropped, ordinals as words, & as "and",
    industry abbreviations as their words (RO结算 → 维修结算)."""
    s = expand_abbrev(unicodedata.normalize("NFKC", str(label)).strip())
    rest = _CODE.sub("", s, count=1)
    if any(ch.isalpha() for ch in rest):
        s = rest
    s = _ORDINAL.sub(lambda m: _ORDINALS[m.group(1).lower()], s)
    return re.sub(r"\s*&\s*", " and ", s).strip()


# ------------------------------------------------------------------------------------------- periods of time
_CN_NUM = {"半": 0.5, "一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUM = r"(\d+(?:\.\d+)?|[半一两二三四五六七八九十]|an?|one|two|three|four|five|six)"
_EN_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_UNIT = r"\s*(个月|月|年|周年|years?|yrs?|months?)"
_TO = r"\s*(?:-|~|～|至|到|—|–|to)\s*"
_RANGE_P = re.compile(_NUM + _TO + _NUM + _UNIT, re.IGNORECASE)
_RANGE_UNIT_FIRST = re.compile(r"\b(years?|yrs?|months?)\s*" + _NUM + _TO + _NUM, re.IGNORECASE)  # years 1-2
_ONE_P = re.compile(_NUM + r"\s*(\+)?" + _UNIT + r"\s*(\+|以上|及以上|或以上|多|or more|and (?:over|more)|plus)?",
                    re.IGNORECASE)
_BELOW = re.compile(r"不到|不满|不足|未满|少于|以内|之内|内|less than|under|within|up to|below|fewer than",
                    re.IGNORECASE)
_ABOVE_BEFORE = re.compile(r"(超过|多于|over|more than|at least)\s*$", re.IGNORECASE)
_NTH_YEAR = re.compile(r"第\s*([一二两三四五\d])\s*年|(first|second|third|fourth|fifth)\s+year|首年", re.IGNORECASE)
_NTH_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_INF = float("inf")
_HALF = re.compile(r"(\d+|[一两二三四五六七八九十])\s*(?:(年)半|个半(月))")  # 两年半 → 2.5年, 一个半月 → 1.5个月


def _num(t: str) -> float:
    t = t.lower()
    return float(_EN_NUM.get(t) or _CN_NUM.get(t) or t)


def _years(x: float, unit: str) -> float:
    return x / 12 if unit.lower().startswith(("月", "个月", "month")) else x


def period(text: str) -> tuple[float, float] | None:
    """The period of time a stage name or label states, in years, as (from, to): ``入住3个月`` (0.25, 0.25),
    ``收房不到一年`` (0, 1), ``入住1-2年`` (1, 2), ``2+ years`` / ``两年以上`` (2, inf), ``first year`` /
    ``第一年`` (0, 1); None when it states none."""
    s = _HALF.sub(lambda m: f"{_num(m.group(1)) + 0.5:g}{'年' if m.group(2) else '个月'}",
                  unicodedata.normalize("NFKC", str(text)))
    m = _RANGE_P.search(s)
    if m:
        return _years(_num(m.group(1)), m.group(3)), _years(_num(m.group(2)), m.group(3))
    m = _RANGE_UNIT_FIRST.search(s)
    if m:
        return _years(_num(m.group(2)), m.group(1)), _years(_num(m.group(3)), m.group(1))
    m = _NTH_YEAR.search(s)
    if m:
        n = 1 if m.group(0) == "首年" else _num(m.group(1)) if m.group(1) else _NTH_EN[m.group(2).lower()]
        return n - 1, n
    m = _ONE_P.search(s)
    if m:
        x = _years(_num(m.group(1)), m.group(3))
        if m.group(2) or m.group(4) or _ABOVE_BEFORE.search(s[: m.start()]):
            return x, _INF
        if _BELOW.search(s[: m.start()]) or re.match(r"\s*(以内|之内|内)", s[m.end():]):
            return 0.0, x
        return x, x
    return None


_NEGATION = re.compile(r"(未|没有|没|不|无|非|not|no|never|didnt|without)$")


def _negated(core: str, name: str) -> bool:
    """Is every place the name appears in the label negated (加购未下单: no order was placed)?"""
    starts = [m.start() for m in re.finditer(re.escape(name), core)]
    return bool(starts) and all(_NEGATION.search(core[:i]) for i in starts)


def _holds(outer: tuple[float, float], inner: tuple[float, float]) -> bool:
    return outer[0] - 1e-9 <= inner[0] and inner[1] <= outer[1] + 1e-9


# ------------------------------------------------------------------------------------------- the matcher
class StageMatcher:
    """See the module docstring."""

    def __init__(self, pack: Pack):
        self.names: dict[str, set[str]] = {}
        self.raw: dict[str, list[str]] = {}
        self.periods: dict[str, tuple[float, float]] = {}
        self.order = {st.id: i for i, st in enumerate(pack.stages)}  # the journey's order
        for st in pack.stages:
            for n in (
                st.id,
                st.id.replace("_", " "),
                st.name.zh,
                st.name.en,
                *(st.trigger and (st.trigger.zh, st.trigger.en) or ()),
                *(x for tp in st.touchpoints for x in (tp.name.zh, tp.name.en)),
                *getattr(st, "synonyms", ()),
            ):
                k = _key(n)
                if k:
                    self.names.setdefault(k, set()).add(st.id)
                    self.raw.setdefault(st.id, []).append(n)
            for n in (st.name.zh, st.name.en):  # the period the stage's own name states
                p = period(n)
                if p is not None and st.id not in self.periods:
                    self.periods[st.id] = p
        for sid, raws in list(self.raw.items()):  # alternatives in a trigger or touchpoint: 收楼满3个月/报修完成
            for n in list(raws):
                for part in re.split(r"\s*[/／]\s*", n) if re.search(r"[/／]", n) else ():
                    pk = _key(part)
                    if len(pk) >= 2:
                        self.names.setdefault(pk, set()).add(sid)
                        raws.append(part)
        # parts of a name joined by 与 / 及 / 和 / and (报价与金融, Online order and payment): weaker evidence than a
        # whole name (a label holding a part of one stage's name and a whole name of another is the other's)
        self.parts: dict[str, set[str]] = {}
        for sid, raws in self.raw.items():
            for n in raws:
                parts = [p for p in _CONJUNCTION.split(n) if _key(p)]
                for part in parts if len(parts) > 1 else ():
                    pk = _key(part)
                    if len(pk) >= 2 and pk not in self.names:
                        self.parts.setdefault(pk, set()).add(sid)
        # English names of two words or more (picked up my order), as sets of stems, matched within a label
        self.words: dict[str, list[frozenset[str]]] = {}
        for sid, raws in self.raw.items():
            for n in raws:
                ws = _stems(n) if str(n).isascii() else frozenset()
                if len(ws) >= 2 and len(re.findall(r"[a-z]+", str(n).lower())) >= 2:
                    self.words.setdefault(sid, []).append(ws)
        # English names of one word (returns, shopping, activate, trade-in), by stem: the verb of a sentence label
        # names a stage when it is one of them (a name of several words is matched by all its words, above)
        self.en_verbs: dict[str, set[str]] = {}
        for sid, raws in self.raw.items():
            for n in raws:
                fs = first_stem(n) if str(n).isascii() and len(_stems(n)) == 1 else None
                if fs and len(fs) >= 3:
                    self.en_verbs.setdefault(fs, set()).add(sid)
        if len(self.periods) < 2:
            self.periods = {}  # one stage stating a period is no time line
        # what a stage is about: the names of its attributes (drivers), each with the stages it drives; only
        # specific names (three Chinese characters or two English words: 装修审批, not 装修 or 收费)
        self.about: dict[str, set[str]] = {}
        for st in pack.stages:
            for aid in st.drivers:
                a = pack.attributes.get(aid)
                for n in (a.name.zh, a.name.en, a.short.zh, a.short.en, *a.synonyms) if a else ():
                    k = _key(n)
                    if (len(k) >= 3 and not k.isascii()) or len(str(n).split()) >= 2:
                        self.about.setdefault(k, set()).add(st.id)

    def _cores(self, label: str) -> list[str]:
        label = read_label(label)
        k = _key(label)
        out = [k, _STAGE_SUFFIX.sub("", k)]
        out.append(_STAGE_PREFIX.sub("", out[-1]))
        parts = [p for p in _LABEL_SPLIT.split(label) if _key(p)]
        if any(not any(ch.isalpha() for ch in p) for p in parts):
            parts = []  # a part that is only digits (交车 139****6666): the label holds something else, not read by parts
        if len(parts) > 1:
            for p in reversed(parts):
                pk = _key(p)
                if not _STAGE_PREFIX.sub("", pk):
                    continue  # a line of business beside a stage (售后-首保, Service - Warranty)
                out += [pk, _STAGE_SUFFIX.sub("", pk), _STAGE_PREFIX.sub("", _STAGE_SUFFIX.sub("", pk))]
        return list(dict.fromkeys(c for c in out if c))

    def verb_stage(self, label: str, bare: bool = False) -> str | None:
        """The one stage a label's verb names (激活新卡 → activation, 还信用卡 → repayment, I returned something I
        bought → returns; :mod:`cemkit.ingest.stage_verbs`), or None. ``bare``: also an English sentence without
        its subject (Returned a jacket)."""
        read = read_label(label)
        zv = zh_verb(_key(read))
        if zv is not None and zv[0] is not None:
            # the verb is a name, or the head of one (积分兑换, 账单还款), or opens one whose rest the label holds
            # (等待交付 in 等待新房交付; not in 等待审批)
            # a verb of taking possession (提取新车, 领取钥匙) lists the words names use for the hand-over:
            # a name of one of them and a word of the object (提车, 交钥匙) is the stage
            ws, rest = ([zv[0]] if isinstance(zv[0], str) else list(zv[0])), zv[1]
            ids = {sid for word in ws for n, ids in self.names.items() if not n.isascii() and len(n) >= 2
                   and ((len(word) >= 2 and n.endswith(word)) or (n.startswith(word) and n[len(word):] in rest))
                   for sid in ids}
        else:
            verb = en_verb(read, bare)  # its own stem, else the verbs it is the same as (look at → browse)
            ids = next((self.en_verbs[v] for v in en_verb_stems(verb) if v in self.en_verbs), set()) if verb else set()
        return next(iter(ids)) if len(ids) == 1 else None

    def _best(self, part: str) -> str | None:
        """The one stage a part of a label names with confidence (≥ 0.85, no other within 0.02), or None."""
        ranked = sorted(self.scores(part).items(), key=lambda kv: -kv[1]) if len(part) >= 2 else []
        if not ranked or ranked[0][1] < 0.85 or (len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - 0.02):
            return None
        return ranked[0][0]

    def _object(self, label: str) -> str | None:
        """The object of a label opening with a verb that only says "did it" (办理车贷 → 车贷), else None."""
        zv = zh_verb(_key(read_label(label)))
        if zv is None or zv[0] is not None or not _STAGE_SUFFIX.sub("", zv[1]) or zv[1] in verb_words()["zh"]["vague"]:
            return None  # 咨询活动, 办理业务: an object that is only a survey or event word names nothing
        return zv[1]

    def by_period(self, label: str) -> str | None:
        """The one stage whose period holds the period the label states (None: no period, or not one stage)."""
        if not self.periods:
            return None
        p = period(read_label(label))
        if p is None:
            return None
        if p[0] == p[1]:  # a point (入伙一年): periods run from their start (excluded) to their end (included),
            x = p[0]  # so a point on a boundary closes the earlier stage (one year in is the end of the first year)
            fits = [sid for sid, sp in self.periods.items() if sp[0] < x <= sp[1] or sp[0] == x == 0]
        else:
            fits = [sid for sid, sp in self.periods.items() if _holds(sp, p)]
        return fits[0] if len(fits) == 1 else None

    def scores(self, label: str) -> dict[str, float]:
        """Stage id → how well the label names it (0-1)."""
        out: dict[str, float] = {}
        cores = self._cores(label)
        named = [(n, ids, 1.0) for n, ids in self.names.items()] + [(n, ids, 0.9) for n, ids in self.parts.items()]
        for i, core in enumerate(cores):
            for n, ids, cap in named:
                if core == n:
                    s = 1.0
                elif len(core) >= 2 and len(n) >= 2 and (core in n or (n in core and not _negated(core, n))):
                    share = min(len(core), len(n)) / max(len(core), len(n))
                    # a short name inside a long label is a match where it is the label's head (the end of
                    # a Chinese compound: 热线 in 信用卡热线, 分期 in 账单分期) or an English word; elsewhere
                    # (展厅 in 展厅外活动, an event outside the showroom) only a hint
                    cjk_head = n in core and core.endswith(n) and not n.isascii()
                    head = cjk_head or (n.isascii() and len(n) >= 4)
                    s = 0.85 + 0.1 * share if share >= 0.5 or core in n or head else 0.7 + 0.1 * share
                    s += 0.03 if cjk_head else 0.0
                    s -= 0.03 if i else 0.0  # a core with its suffix or prefix taken off is weaker evidence
                else:
                    continue
                s = min(s, 0.99, cap if core == n else cap - 0.06)
                for sid in ids:
                    out[sid] = max(out.get(sid, 0.0), s)
        held = {sid for n, ids in self.names.items() if len(n) >= 2 and n in cores[0] and not _negated(cores[0], n)
                for sid in ids}
        if len(held) == 1:  # the label holds two names of one stage and none of another (刚交付（收房中）), or
            sid = next(iter(held))  # one name and the negated name of another (加购未下单: carted, no order)
            negated = any(len(n) >= 2 and n in cores[0] and _negated(cores[0], n) and sid not in ids
                          for n, ids in self.names.items())
            if negated or sum(len(n) >= 2 and n in cores[0] and sid in ids and not _negated(cores[0], n)
                              for n, ids in self.names.items()) >= 2:
                out[sid] = max(out.get(sid, 0.0), 0.86)
        words, n_words = _stems(read_label(label), pairs=True), len(_stems(read_label(label)))
        for sid, names in self.words.items():  # English names by their words (Picked up an online order)
            for ws in names:
                if ws <= words:
                    out[sid] = max(out.get(sid, 0.0), min(0.99, 0.85 + 0.1 * len(ws) / max(n_words, len(ws))))
        about = {sid for n, ids in self.about.items() if n in cores[0] and not _negated(cores[0], n) for sid in ids}
        if len(about) == 1:  # it names what only one stage is about (装修审批: a renovation, in the first year):
            sid = next(iter(about))  # a suggestion for the draft, never used unattended (a service may be used in any
            # stage: 快递代收 is no mark of a mature estate) -- unless the label names it as an event that was
            # completed (装修审批完成, 额度调整成功): the survey that event triggers is that stage's
            event = _EVENT_DONE.search(read_label(label))
            out[sid] = max(out.get(sid, 0.0), EVENT_SCORE if event else ABOUT_SCORE)
        q = read_question(read_label(label))
        shortest = min(len(c) for c in cores)
        for sid, names in self.raw.items():
            # names much shorter than the label were weighed by containment above (展厅 in 展厅外活动)
            sims = [similarity(q, n, loose=True) for n in names if 2 * len(_key(n)) >= shortest]
            sim = max(sims, default=0.0)
            if sim > out.get(sid, 0.0):
                out[sid] = sim
        obj = self._object(label)
        for sid, s in (self.scores(obj) if obj else {}).items():  # 办理车贷: the object names the stage
            out[sid] = max(out.get(sid, 0.0), s - 0.02)
        around = zh_around(cores[0])
        named = {self._best(part) for part in around or ()} - {None}
        if len(named) == 1:  # 热线咨询保单: the channel (or place, or object) on one side of 咨询 names a stage
            sid = next(iter(named))
            out[sid] = max(out.get(sid, 0.0), 0.86)
        verb = self.verb_stage(label)
        if verb is None and max(out.values(), default=0.0) < STAGE_AUTO_MIN:
            verb = self.verb_stage(label, bare=True)  # Returned a jacket: only where nothing else names a stage
        if verb is not None:  # the verb names the stage; the object (新卡, 信用卡, a flat) is context
            out = {sid: min(s, VERB_SCORE - 0.06) for sid, s in out.items() if sid != verb} | {
                verb: max(VERB_SCORE, out.get(verb, 0.0))}
        return out

    def match(self, label: str) -> tuple[str | None, str]:
        """(stage id, how) with how ∈ exact | contains | similar | weak; (None, "") when nothing fits or two
        stages fit as well."""
        k = _key(read_label(label))
        if not k:
            return None, ""
        parts = [p for p in _CONJUNCTION.split(read_label(label)) if _key(p)]
        if len(parts) > 1 and len({self.match(p)[0] for p in parts} - {None}) > 1:
            return None, ""  # two stages joined (交车与首保): the client must say which
        sid = self.by_period(label)
        if sid is not None:
            return sid, "exact"
        obj = self._object(label)
        for key in [*self._cores(label)[:3], *(self._cores(obj)[:3] if obj else ())]:
            ids = self.names.get(key)
            if ids and len(ids) == 1:
                return next(iter(ids)), "exact"
        ranked = sorted(self.scores(label).items(), key=lambda kv: -kv[1])
        if not ranked or ranked[0][1] < 0.7:
            return None, ""
        if len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - 0.02:
            sid = self._opening(label, ranked)
            return (sid, "contains") if sid else (None, "")
        top, s = ranked[0]
        return top, ("contains" if s >= 0.85 else "similar" if s >= STAGE_AUTO_MIN else "weak")

    def _opening(self, label: str, ranked: list[tuple[str, float]]) -> str | None:
        """Of stages tied for a label that opens a process (提交订单, Submitted an order: the order is paid in one
        stage and received in a later one), the earliest of the pack's journey; None for any other label."""
        key = _key(read_label(label))
        zv = zh_verb(key)
        if zv is not None and zv[0] is None:
            verb = key[: len(key) - len(zv[1])]
        else:
            verb = en_verb(read_label(label), bare=True) or ""
        if ranked[0][1] < 0.85 or verb not in {*verb_words()["zh"]["opening"], *verb_words()["en"]["opening"]}:
            return None
        tied = [sid for sid, s in ranked if s >= ranked[0][1] - 0.02]
        return min(tied, key=self.order.__getitem__)

    def suggest(self, label: str) -> str | None:
        """The closest stage for a label left unmatched (for the draft's comment)."""
        ranked = sorted(self.scores(label).items(), key=lambda kv: -kv[1])
        return ranked[0][0] if ranked and ranked[0][1] >= 0.5 else None


def propose_stage_values(labels: Iterable[str], pack: Pack) -> dict[str, str | None]:
    """A draft ``stage_values``: each distinct client label → the stage id it names (None when unsure)."""
    m = StageMatcher(pack)
    out = {}
    for lab in labels:
        if lab is None or not str(lab).strip():
            continue
        sid, how = m.match(str(lab))
        out[str(lab)] = sid if how in ("exact", "contains", "similar") else None
    return out
