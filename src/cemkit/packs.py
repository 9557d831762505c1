"""Industry packs: YAML data files loaded into frozen dataclasses and validated on load.

A pack is a folder under ``industry_packs/`` (see docs/packs.md). ``load_pack`` reads ``pack.yaml`` and the
files it names, checks every key, and raises one :class:`~cemkit.errors.PackError` listing *all* problems,
each with the file, the dotted key and the YAML line. ``validate_pack`` returns the same problems as a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import PackError, Problem
from .paths import packs_dir

LANGS = ("zh", "en")
SCALE_KINDS = ("nps", "csat", "ces", "rating")
#: survey data-quality checks (``rules.quality`` in pack.yaml, ``quality`` in a mapping): a speeder answered
#: faster than ``speeder_seconds`` or than ``speeder_median_share`` × the median duration (the larger of the two
#: when both are set; 0 or null switches a rule off); a straightliner gave one score to every attribute it
#: rated (at least ``straightliner_min_items``), flagged in the data or quarantined
QUALITY_DEFAULTS: dict[str, Any] = {
    "speeder_seconds": None,
    "speeder_median_share": 1 / 3,
    "straightliners": "flag",
    "straightliner_min_items": 5,
}
STRAIGHTLINER_MODES = ("flag", "quarantine")
QUADRANTS = (
    "high_importance_low_performance",
    "high_importance_high_performance",
    "low_importance_low_performance",
    "low_importance_high_performance",
)


# --------------------------------------------------------------------------------------------- objects
@dataclass(frozen=True)
class Label:
    """A bilingual display name."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:  # Chinese first: the packs are Chinese-market packs
        return self.zh


@dataclass(frozen=True)
class Scale:
    id: str
    kind: str
    min: float
    max: float
    good: tuple[float, ...] = ()

    @property
    def points(self) -> int:
        return int(self.max - self.min + 1)


@dataclass(frozen=True)
class KPI:
    id: str
    name: Label
    scale: Scale


@dataclass(frozen=True)
class Attribute:
    id: str
    name: Label
    short: Label
    scale: Scale


@dataclass(frozen=True)
class Touchpoint:
    id: str
    name: Label
    owner: Label


@dataclass(frozen=True)
class Stage:
    id: str
    name: Label
    kpis: tuple[str, ...]
    drivers: tuple[str, ...]
    touchpoints: tuple[Touchpoint, ...]
    trigger: Label | None = None
    key: bool = False

    @property
    def owner(self) -> Label | None:
        return self.touchpoints[0].owner if self.touchpoints else None


@dataclass(frozen=True)
class Segment:
    id: str
    name: Label
    league: bool = False


@dataclass(frozen=True)
class FieldSpec:
    id: str
    required: bool = False
    pii: bool = False
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Theme:
    id: str
    level1: Label
    name: Label
    keywords: tuple[str, ...]
    regex: tuple[str, ...] = ()
    critical: bool = False


@dataclass(frozen=True)
class Rules:
    suppress_below: int = 30
    caution_below: int = 100
    alpha: float = 0.05
    correction: str = "holm"
    driver_method: str = "shapley"
    driver_target: str = "nps"
    driver_min_n: int = 100
    driver_min_per_driver: int = 10
    quadrant_split: Any = "median"
    quadrant_names: dict[str, Label] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=lambda: dict(QUALITY_DEFAULTS))


@dataclass(frozen=True)
class Pack:
    """A loaded, validated industry pack. Sections that other modules own (storyline, demo, alerts,
    playbooks) are kept as parsed YAML in ``raw`` and validated by those modules."""

    id: str
    root: Path
    name: Label
    language: str
    scales: dict[str, Scale]
    kpis: dict[str, KPI]
    attributes: dict[str, Attribute]
    stages: tuple[Stage, ...]
    segments: tuple[Segment, ...]
    fields: dict[str, FieldSpec]
    odata: dict[str, Any]
    rules: Rules
    themes: tuple[Theme, ...]
    files: dict[str, Path]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    privacy: dict[str, Any] = field(default_factory=dict)   # e.g. {plates: true}: extra masking in ingest

    # convenience look-ups -------------------------------------------------------------------------
    @property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    def stage_name(self, stage_id: str, lang: str = "zh") -> str:
        return self.stage(stage_id).name.get(lang)

    @property
    def segment_ids(self) -> list[str]:
        return [s.id for s in self.segments]

    @property
    def attribute_ids(self) -> list[str]:
        return list(self.attributes)

    def file(self, key: str) -> Path | None:
        """Path of a file the pack names under ``files:`` (None when it names none)."""
        return self.files.get(key)

    def section(self, key: str) -> Any:
        """Parsed YAML of a pack file named under ``files:`` (storyline, demo, alerts, playbooks...)."""
        return self.raw.get(key)


# ----------------------------------------------------------------------------------------- yaml + lines
def read_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse a YAML file; return the data and a map from key path to 1-based line number.

    A syntax error becomes a PackError naming the file and the line the parser reports."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PackError([Problem(path, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise PackError([Problem(path, "", f"not UTF-8 text ({exc.reason})")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(str(getattr(exc, "problem", "") or exc).split())
        raise PackError([Problem(path, "", f"YAML syntax error: {msg}", line)]) from None
    lines: dict[tuple, int] = {}
    _index_lines(node, (), lines)
    return data, lines


def _index_lines(node: Any, prefix: tuple, out: dict[tuple, int]) -> None:
    if node is None:
        return
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = prefix + (k.value,)
            out[key] = k.start_mark.line + 1
            _index_lines(v, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _index_lines(v, prefix + (i,), out)


class Checker:
    """Collects problems for one file with line numbers (pandera-style: report all, then raise)."""

    def __init__(self, path: Path, lines: dict[tuple, int], problems: list[Problem]):
        self.path, self.lines, self.problems = path, lines, problems

    def add(self, keypath: Iterable, message: str) -> None:
        keypath = tuple(keypath)
        line = None
        for cut in range(len(keypath), -1, -1):
            line = self.lines.get(keypath[:cut])
            if line:
                break
        self.problems.append(Problem(self.path.name if self.path else "", _dotted(keypath), message, line))

    def label(self, value: Any, keypath: tuple, default: str | None = None) -> Label:
        if value is None and default is not None:
            return Label(default, default)
        if isinstance(value, str) and value.strip():
            return Label(value, value)
        if isinstance(value, dict) and all(isinstance(value.get(lang), str) for lang in LANGS):
            return Label(value["zh"], value["en"])
        self.add(keypath, "needs a name: a string or {zh: ..., en: ...}")
        return Label("?", "?")

    def mapping(self, value: Any, keypath: tuple) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(keypath, f"must be a mapping, found {type(value).__name__}")
            return {}
        return value

    def listing(self, value: Any, keypath: tuple) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(keypath, f"must be a list, found {type(value).__name__}")
            return []
        return value


def _dotted(keypath: Iterable) -> str:
    out = ""
    for k in keypath:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


# ------------------------------------------------------------------------------------------- loading
def pack_path(name_or_path: str | Path) -> Path:
    """Resolve a pack name (folder under industry_packs/) or a path to a pack folder or pack.yaml."""
    p = Path(name_or_path)
    if p.is_file():
        return p.parent
    if p.is_dir() and (p / "pack.yaml").exists():
        return p
    candidate = packs_dir() / str(name_or_path)
    if (candidate / "pack.yaml").exists():
        return candidate
    known = ", ".join(list_packs()) or "none"
    raise PackError([Problem(str(name_or_path), "", f"no such pack (known packs: {known})")])


def list_packs() -> list[str]:
    """Names of the packs under industry_packs/ (folders with a pack.yaml, not starting with '_')."""
    root = packs_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "pack.yaml").exists() and not p.name.startswith("_"))


def load_pack(name_or_path: str | Path) -> Pack:
    """Load and validate a pack. Raises PackError listing every problem (file, key, line)."""
    pack, problems = _load(pack_path(name_or_path))
    if problems:
        raise PackError(problems)
    return pack


def validate_pack(name_or_path: str | Path) -> list[Problem]:
    """Every problem in a pack, across its files: pack.yaml, themes, dictionary, and the sections that
    other modules own (storyline, demo, alerts, playbooks), each checked by its module."""
    try:
        root = pack_path(name_or_path)
        pack, problems = _load(root)
    except PackError as exc:
        return exc.problems
    if pack is not None:
        for check in _section_validators():
            problems.extend(check(pack))
    return problems


def _section_validators():
    """Validators of pack sections owned by other modules (imported lazily: they import this one)."""
    from . import storyline

    found = [storyline.validate]
    for modname in ("demo", "alerts", "playbooks"):
        try:
            mod = __import__(f"cemkit.{modname}", fromlist=["validate"])
        except ImportError:
            continue
        if hasattr(mod, "validate"):
            found.append(mod.validate)
    return found


def _load(root: Path) -> tuple[Pack | None, list[Problem]]:
    problems: list[Problem] = []
    path = root / "pack.yaml"
    data, lines = read_yaml(path)
    c = Checker(path, lines, problems)
    if not isinstance(data, dict):
        c.add((), "pack.yaml must be a mapping of sections")
        return None, problems

    for key in ("pack", "name", "scales", "kpis", "stages"):
        if key not in data:
            c.add((key,), "required section is missing")
    pack_id = str(data.get("pack") or root.name)
    name = c.label(data.get("name"), ("name",), default=pack_id)
    language = data.get("language", "zh")
    if language not in LANGS:
        c.add(("language",), f"must be one of {LANGS}")

    scales = _scales(c, c.mapping(data.get("scales"), ("scales",)))
    kpis = _kpis(c, c.mapping(data.get("kpis"), ("kpis",)), scales)
    attributes = _attributes(c, c.mapping(data.get("attributes"), ("attributes",)), scales)
    stages = _stages(c, c.listing(data.get("stages"), ("stages",)), kpis, attributes)
    segments = _segments(c, c.listing(data.get("segments"), ("segments",)))
    fields_ = _fields(c, c.mapping(data.get("fields"), ("fields",)))
    rules = _rules(c, c.mapping(data.get("rules"), ("rules",)))
    odata = c.mapping(data.get("odata"), ("odata",))
    privacy = c.mapping(data.get("privacy"), ("privacy",))

    files: dict[str, Path] = {}
    raw: dict[str, Any] = {}
    for key, rel in c.mapping(data.get("files"), ("files",)).items():
        fpath = root / str(rel)
        if not fpath.exists():
            c.add(("files", key), f"names {rel}, which does not exist in {root}")
            continue
        files[key] = fpath
        if fpath.suffix in (".yaml", ".yml") and key != "themes":
            try:
                raw[key], raw[f"{key}.__lines__"] = read_yaml(fpath)
            except PackError as exc:
                problems.extend(exc.problems)

    themes: tuple[Theme, ...] = ()
    if "themes" in files:
        try:
            tdata, tlines = read_yaml(files["themes"])
            themes = _themes(Checker(files["themes"], tlines, problems), tdata)
        except PackError as exc:
            problems.extend(exc.problems)
    if "dictionary" in files:
        problems.extend(check_dictionary(files["dictionary"]))

    pack = Pack(
        id=pack_id, root=root, name=name, language=language, scales=scales, kpis=kpis,
        attributes=attributes, stages=stages, segments=segments, fields=fields_, odata=odata,
        rules=rules, themes=themes, files=files, raw=raw, privacy=privacy,
    )
    return pack, problems


def _scales(c: Checker, data: dict) -> dict[str, Scale]:
    out = {}
    for sid, spec in data.items():
        kp = ("scales", sid)
        spec = c.mapping(spec, kp)
        kind = spec.get("kind")
        if kind not in SCALE_KINDS:
            c.add(kp + ("kind",), f"must be one of {', '.join(SCALE_KINDS)}, found {kind!r}")
            continue
        lo, hi = spec.get("min"), spec.get("max")
        if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)) or lo >= hi:
            c.add(kp, "needs numeric min < max")
            continue
        if kind == "nps" and (lo, hi) != (0, 10):
            c.add(kp, "an nps scale runs from 0 to 10")
        good = tuple(c.listing(spec.get("good"), kp + ("good",)))
        if kind in ("csat", "ces") and not good:
            c.add(kp + ("good",), f"a {kind} scale must list its good (top-box / low-effort) answers")
        if any(not (lo <= g <= hi) for g in good if isinstance(g, (int, float))):
            c.add(kp + ("good",), f"answers must lie within {lo}..{hi}")
        out[sid] = Scale(sid, kind, float(lo), float(hi), tuple(float(g) for g in good))
    return out


def _kpis(c: Checker, data: dict, scales: dict[str, Scale]) -> dict[str, KPI]:
    out = {}
    for kid, spec in data.items():
        kp = ("kpis", kid)
        spec = c.mapping(spec, kp)
        scale = spec.get("scale")
        if scale is None:
            c.add(kp + ("scale",), "KPI has no scale")
            continue
        if scale not in scales:
            c.add(kp + ("scale",), f"unknown scale {scale!r} (scales: {', '.join(scales)})")
            continue
        out[kid] = KPI(kid, c.label(spec.get("name"), kp + ("name",), default=kid), scales[scale])
    if "nps" not in out and data:
        c.add(("kpis",), "a pack needs an 'nps' KPI (the journey and driver views are built on it)")
    return out


def _attributes(c: Checker, data: dict, scales: dict[str, Scale]) -> dict[str, Attribute]:
    out = {}
    for aid, spec in data.items():
        kp = ("attributes", aid)
        spec = c.mapping(spec, kp)
        scale = spec.get("scale")
        if scale not in scales:
            c.add(kp + ("scale",), f"unknown or missing scale {scale!r}")
            continue
        name = c.label(spec.get("name"), kp + ("name",))
        short = c.label(spec.get("short"), kp + ("short",)) if spec.get("short") else name
        out[aid] = Attribute(aid, name, short, scales[scale])
    return out


def _stages(c: Checker, data: list, kpis: dict, attributes: dict) -> tuple[Stage, ...]:
    out, seen = [], set()
    for i, spec in enumerate(data):
        kp = ("stages", i)
        spec = c.mapping(spec, kp)
        sid = spec.get("id")
        if not sid:
            c.add(kp, "stage needs an id")
            continue
        if sid in seen:
            c.add(kp + ("id",), f"duplicate stage id {sid!r}")
        seen.add(sid)
        stage_kpis = tuple(c.listing(spec.get("kpis", ["nps"]), kp + ("kpis",)))
        for k in stage_kpis:
            if k not in kpis:
                c.add(kp + ("kpis",), f"unknown KPI {k!r} (kpis: {', '.join(kpis)})")
        drivers = tuple(c.listing(spec.get("drivers"), kp + ("drivers",)))
        for a in drivers:
            if a not in attributes:
                c.add(kp + ("drivers",), f"unknown attribute {a!r}")
        tps = []
        for j, tp in enumerate(c.listing(spec.get("touchpoints"), kp + ("touchpoints",))):
            tkp = kp + ("touchpoints", j)
            tp = c.mapping(tp, tkp)
            if not tp.get("id"):
                c.add(tkp, "touchpoint needs an id")
                continue
            tps.append(Touchpoint(tp["id"], c.label(tp.get("name"), tkp + ("name",), default=tp["id"]),
                                  c.label(tp.get("owner"), tkp + ("owner",))))
        trigger = c.label(spec["trigger"], kp + ("trigger",)) if spec.get("trigger") else None
        out.append(Stage(sid, c.label(spec.get("name"), kp + ("name",)), stage_kpis, drivers, tuple(tps),
                         trigger, bool(spec.get("key", False))))
    return tuple(out)


def _segments(c: Checker, data: list) -> tuple[Segment, ...]:
    out = []
    for i, spec in enumerate(data):
        kp = ("segments", i)
        spec = c.mapping(spec, kp)
        if not spec.get("id"):
            c.add(kp, "segment needs an id")
            continue
        out.append(Segment(spec["id"], c.label(spec.get("name"), kp + ("name",), default=spec["id"]),
                           bool(spec.get("league", False))))
    return tuple(out)


def _fields(c: Checker, data: dict) -> dict[str, FieldSpec]:
    out = {}
    for fid, spec in data.items():
        kp = ("fields", fid)
        spec = c.mapping(spec, kp)
        syn = tuple(str(s) for s in c.listing(spec.get("synonyms"), kp + ("synonyms",)))
        out[fid] = FieldSpec(fid, bool(spec.get("required", False)), bool(spec.get("pii", False)), syn)
    return out


def _rules(c: Checker, data: dict) -> Rules:
    base = c.mapping(data.get("base"), ("rules", "base"))
    sig = c.mapping(data.get("significance"), ("rules", "significance"))
    drv = c.mapping(data.get("drivers"), ("rules", "drivers"))
    pm = c.mapping(data.get("priority_matrix"), ("rules", "priority_matrix"))
    rules = Rules(
        suppress_below=int(base.get("suppress_below", 30)),
        caution_below=int(base.get("caution_below", 100)),
        alpha=float(sig.get("alpha", 0.05)),
        correction=str(sig.get("correction", "holm")),
        driver_method=str(drv.get("method", "shapley")),
        driver_target=str(drv.get("target", "nps")),
        driver_min_n=int(drv.get("min_n", 100)),
        driver_min_per_driver=int(drv.get("min_per_driver", 10)),
        quadrant_split=pm.get("split", "median"),
        quadrant_names={},
        quality={**QUALITY_DEFAULTS,
                 **check_quality(data.get("quality"), c.add, ("rules", "quality"))},
    )
    if rules.correction not in ("holm", "fdr_bh"):
        c.add(("rules", "significance", "correction"), "must be holm or fdr_bh")
    if not 0 < rules.alpha < 0.5:
        c.add(("rules", "significance", "alpha"), "must lie between 0 and 0.5")
    if rules.suppress_below > rules.caution_below:
        c.add(("rules", "base"), "suppress_below must not exceed caution_below")
    names = c.mapping(pm.get("quadrants"), ("rules", "priority_matrix", "quadrants"))
    defaults = {"high_importance_low_performance": ("重点改进", "Fix first"),
                "high_importance_high_performance": ("优势保持", "Keep strong"),
                "low_importance_low_performance": ("次要改进", "Improve later"),
                "low_importance_high_performance": ("维持观察", "Maintain")}
    for q, (zh, en) in defaults.items():
        v = names.get(q)
        rules.quadrant_names[q] = (c.label(v, ("rules", "priority_matrix", "quadrants", q))
                                   if v is not None else Label(zh, en))
    for q in names:
        if q not in QUADRANTS:
            c.add(("rules", "priority_matrix", "quadrants", q), f"unknown quadrant (use {', '.join(QUADRANTS)})")
    return rules


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_quality(spec: Any, add: Callable[[tuple, str], None], keypath: tuple) -> dict[str, Any]:
    """The keys given in a ``quality`` section (pack ``rules.quality`` or a mapping's ``quality``), checked:
    ``speeder_seconds`` a number ≥ 0 or null, ``speeder_median_share`` a number in [0, 1) or null (0 or null
    switches that rule off), ``straightliners`` one of :data:`STRAIGHTLINER_MODES`,
    ``straightliner_min_items`` an integer ≥ 2. Problems go to ``add(keypath, message)``; bad keys are left
    out of the result."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        add(keypath, f"must be a mapping, found {type(spec).__name__}")
        return {}
    out: dict[str, Any] = {}
    for k, v in spec.items():
        kp = keypath + (k,)
        if k == "speeder_seconds":
            if v is not None and not (_is_number(v) and v >= 0):
                add(kp, f"must be a number of seconds ≥ 0 (0 or null: no absolute threshold), found {v!r}")
                continue
        elif k == "speeder_median_share":
            if v is not None and not (_is_number(v) and 0 <= v < 1):
                add(kp, f"must be a share of the median duration in [0, 1), e.g. 0.333 (0 or null: off), found {v!r}")
                continue
        elif k == "straightliners":
            if v not in STRAIGHTLINER_MODES:
                add(kp, f"must be one of {', '.join(STRAIGHTLINER_MODES)}, found {v!r}")
                continue
        elif k == "straightliner_min_items":
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 2):
                add(kp, f"must be a whole number of attributes ≥ 2, found {v!r}")
                continue
        else:
            add(kp, f"unknown key (known: {', '.join(QUALITY_DEFAULTS)})")
            continue
        out[str(k)] = float(v) if _is_number(v) and k != "straightliner_min_items" else v
    return out


def _themes(c: Checker, data: Any) -> tuple[Theme, ...]:
    data = c.mapping(data, ())
    out, owner = [], {}
    for i, spec in enumerate(c.listing(data.get("themes"), ("themes",))):
        kp = ("themes", i)
        spec = c.mapping(spec, kp)
        tid = spec.get("id")
        if not tid:
            c.add(kp, "theme needs an id")
            continue
        kws = tuple(str(k).strip() for k in c.listing(spec.get("keywords"), kp + ("keywords",)) if str(k).strip())
        rx = tuple(str(r) for r in c.listing(spec.get("regex"), kp + ("regex",)))
        if not kws and not rx:
            c.add(kp + ("keywords",), f"theme {tid!r} has no keywords")
        for k in kws:
            if k in owner and owner[k] != tid:
                c.add(kp + ("keywords",), f"keyword {k!r} is also a keyword of theme {owner[k]!r}")
            owner.setdefault(k, tid)
        for r in rx:
            try:
                import re

                re.compile(r)
            except re.error as exc:
                c.add(kp + ("regex",), f"bad regex {r!r}: {exc}")
        out.append(Theme(tid, c.label(spec.get("level1"), kp + ("level1",)), c.label(spec.get("name"), kp + ("name",)),
                         kws, rx, bool(spec.get("critical", False))))
    ids = [t.id for t in out]
    for t in set(ids):
        if ids.count(t) > 1:
            c.add(("themes",), f"duplicate theme id {t!r}")
    return tuple(out)


def check_dictionary(path: Path) -> list[Problem]:
    """A jieba user dictionary: one entry a line, ``word [freq] [tag]``; freq must be a positive integer."""
    problems = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if len(parts) > 3:
            problems.append(Problem(path.name, parts[0], "expected 'word [freq] [tag]'", n))
        elif len(parts) >= 2 and not parts[1].isdigit():
            problems.append(Problem(path.name, parts[0], f"frequency {parts[1]!r} is not a positive integer", n))
    return problems
