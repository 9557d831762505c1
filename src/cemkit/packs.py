"""Industry packs: YAML data files loaded into frozen dataclasses and validated on load.

A pack is a folder under ``industry_packs/`` (see docs/packs.md). Each file is checked in two steps:

1. its **schema** (:mod:`cemkit.schema`: pydantic models that forbid unknown keys and never coerce types),
   so a misspelt key or a wrong type gives one message naming the file, line, key and closest valid key;
2. once the file has the right shape, its **references** (a stage's KPIs and drivers exist, a KPI's scale
   exists, a keyword belongs to one theme) — here for pack.yaml and themes.yaml, in the owning module for
   storyline, alerts, playbooks and demo. References into a file that failed its schema are not checked,
   so one mistake never floods the report with its consequences.

``load_pack`` raises one :class:`~cemkit.errors.PackError` listing every problem of pack.yaml, themes.yaml
and the dictionary; ``validate_pack`` returns the problems of every file, sections included. Every file a
pack names must lie inside the pack folder (:func:`cemkit.packfiles.check_inside`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import schema
from .errors import PackError, Problem, UserError
from .packfiles import Checker, check_dictionary, check_inside, check_links_inside, read_yaml
from .paths import packs_dir
from .schema.pack import QUADRANTS, SCALE_KINDS, STRAIGHTLINER_MODES, Quality
from .schema.problems import schema_problems

__all__ = [
    "KPI",
    "LANGS",
    "QUADRANTS",
    "QUALITY_DEFAULTS",
    "SCALE_KINDS",
    "SECTIONS",
    "STRAIGHTLINER_MODES",
    "Attribute",
    "Checker",
    "FieldSpec",
    "Label",
    "Pack",
    "Rules",
    "Scale",
    "Segment",
    "Stage",
    "Theme",
    "Touchpoint",
    "check_dictionary",
    "check_quality",
    "list_packs",
    "load_pack",
    "pack_path",
    "read_yaml",
    "validate_pack",
]

LANGS = ("zh", "en")
#: pack files other modules own and validate (``files:`` keys), with the module that checks each
SECTIONS = {"storyline": "storyline", "alerts": "alerts", "playbooks": "playbooks", "demo": "demo"}
#: survey data-quality checks (``rules.quality`` in pack.yaml, ``quality`` in a mapping): a speeder answered
#: faster than ``speeder_seconds`` or than ``speeder_median_share`` × the median duration (the larger of the two
#: when both are set; 0 or null switches a rule off); a straightliner gave one score to every attribute it
#: rated (at least ``straightliner_min_items``), flagged in the data or quarantined
QUALITY_DEFAULTS: dict[str, Any] = Quality().model_dump()

#: a bilingual display name (``zh``, ``en``; ``get(lang)``; ``str()`` is the Chinese)
Label = schema.LabelValue


# --------------------------------------------------------------------------------------------- objects
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
    owner: Label | None = None          # who acts on it (default: the owner of its stage's first touchpoint)
    horizon: Label | None = None        # by when a fix should show (e.g. 90天 / 90 days)
    themes: tuple[str, ...] = ()        # comment themes that speak about it (evidence for a decision)
    synonyms: tuple[str, ...] = ()


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
    synonyms: tuple[str, ...] = ()

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

    def with_rules(self, **changes: Any) -> Pack:
        """This pack with some of its analysis rules changed — the method options a notebook exposes
        (``alpha``, ``correction``, ``suppress_below``, ``caution_below``, ``driver_method``, …: the fields of
        :class:`Rules`). A value of None keeps the pack's rule. Each value is checked as pack.yaml's would be
        (:mod:`cemkit.schema`); a bad one raises :class:`~cemkit.errors.UserError` naming it."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(changes) - set(Rules.__dataclass_fields__))
        if unknown:
            raise UserError(f"unknown rule option(s) {', '.join(unknown)}; the rules are "
                            f"{', '.join(Rules.__dataclass_fields__)}")
        if not changes:
            return self
        rules = dataclasses.replace(self.rules, **changes)
        _check_rules(rules)
        return dataclasses.replace(self, rules=rules)


#: Rules field → (schema model, its key): how :meth:`Pack.with_rules` checks a changed value
_RULE_KEYS = {"suppress_below": (schema.pack.Base, "suppress_below"),
              "caution_below": (schema.pack.Base, "caution_below"),
              "alpha": (schema.pack.Significance, "alpha"), "correction": (schema.pack.Significance, "correction"),
              "driver_method": (schema.pack.Drivers, "method"), "driver_target": (schema.pack.Drivers, "target"),
              "driver_min_n": (schema.pack.Drivers, "min_n"),
              "driver_min_per_driver": (schema.pack.Drivers, "min_per_driver"),
              "quadrant_split": (schema.pack.PriorityMatrix, "split")}


def _check_rules(rules: Rules) -> None:
    """Check analysis rules with the pack schema's models (the values pack.yaml may hold)."""
    models: dict[type, dict[str, Any]] = {}
    for name, (model, key) in _RULE_KEYS.items():
        models.setdefault(model, {})[key] = getattr(rules, name)
    names = {(model, key): name for name, (model, key) in _RULE_KEYS.items()}
    for model, values in models.items():
        try:
            model(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else ""
            name = names.get((model, key), key) or ", ".join(values)
            value = getattr(rules, name) if hasattr(rules, name) else values
            raise UserError(f"rule option {name}={value!r}: {err['msg']}") from None


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
    loaded = _load(pack_path(name_or_path))
    if loaded.problems or loaded.pack is None:
        raise PackError(merge_repeats(loaded.problems))
    return loaded.pack



def validate_pack(name_or_path: str | Path) -> list[Problem]:
    """Every problem in a pack, across its files: pack.yaml, themes, dictionary, and the sections that
    other modules own (storyline, demo, alerts, playbooks). Each file's schema is always checked; the
    sections' references to pack.yaml and themes.yaml only when those two have no problem."""
    try:
        root = pack_path(name_or_path)
        loaded = _load(root)
    except PackError as exc:
        return exc.problems
    problems = list(loaded.problems)
    for key, modname in SECTIONS.items():
        if key not in loaded.raw:
            continue
        mod = __import__(f"cemkit.{modname}", fromlist=["validate"])
        if loaded.pack is not None and not loaded.problems:
            problems.extend(mod.validate(loaded.pack))
        else:  # the file on its own: what it refers to in pack.yaml or themes.yaml waits until those are valid
            check = getattr(mod, "validate_file", functools.partial(section_problems, key))
            problems.extend(check(loaded.raw[key], loaded.raw.get(f"{key}.__lines__", {}), loaded.files[key]))
    return merge_repeats(problems)


def merge_repeats(problems: list[Problem]) -> list[Problem]:
    """One line per mistake: the same message in the same file (a renamed stage that demo.yaml names in
    five places) becomes one problem at its first place, listing the other lines."""
    first: dict[tuple[str, str], Problem] = {}
    more: dict[tuple[str, str], list[Problem]] = {}
    for p in problems:
        key = (p.file, p.message)
        if key in first:
            more[key].append(p)
        else:
            first[key], more[key] = p, []
    out = []
    for key, p in first.items():
        if more[key]:
            lines = sorted({q.line for q in more[key] if q.line})
            where = [f"line {n}" if len(lines) == 1 else str(n) for n in lines] if lines else []
            where = ([f"lines {', '.join(where)}"] if len(lines) > 1 else where) + [
                q.key for q in more[key] if not q.line]
            p = Problem(p.file, p.key, f"{p.message}; also at {', '.join(where)}", p.line)
        out.append(p)
    return out


def section_problems(key: str, data: Any, lines: dict, path: Path | None) -> list[Problem]:
    """Schema problems of one pack section (``storyline``, ``alerts``, ``playbooks``, ``demo``)."""
    fname = Path(path).name if path else f"{key}.yaml"
    return schema.validate_model(schema.FILES[key], data, lines, fname)[1]


@dataclass
class _Loaded:
    pack: Pack | None
    problems: list[Problem]
    files: dict[str, Path]
    raw: dict[str, Any]


def _load(root: Path) -> _Loaded:
    path = root / "pack.yaml"
    data, lines = read_yaml(path)
    model, problems = schema.validate_model(schema.PackFile, data, lines, "pack.yaml")
    _references(Checker(path, lines, problems), data)
    files: dict[str, Path] = {}
    raw: dict[str, Any] = {}
    named: set[str] = set()
    for key, rel in (model.files.model_dump() if model is not None else _raw_files(data)).items():
        if rel is None:
            continue
        named.add(str(rel))
        fpath, why = check_inside(root, rel)
        if fpath is None:
            problems.append(Problem("pack.yaml", f"files.{key}", why, lines.get(("files", key))))
            continue
        files[key] = fpath
        if fpath.suffix in (".yaml", ".yml"):
            try:
                raw[key], raw[f"{key}.__lines__"] = read_yaml(fpath)
            except PackError as exc:
                problems.extend(exc.problems)
    themes: tuple[Theme, ...] = ()
    if "themes" in raw:
        tlines = raw["themes.__lines__"]
        tmodel, tprob = schema.validate_model(schema.FILES["themes"], raw["themes"], tlines, files["themes"].name)
        problems.extend(tprob)
        _theme_references(Checker(files["themes"], tlines, problems), raw["themes"])
        if tmodel is not None:
            themes = tuple(Theme(t.id, t.level1, t.name, tuple(k.strip() for k in t.keywords if k.strip()),
                                 tuple(t.regex), t.critical) for t in tmodel.themes)
    if "dictionary" in files:
        problems.extend(check_dictionary(files["dictionary"]))
    problems.extend(p for p in check_links_inside(root) if p.file not in named)  # files: reported above
    _attribute_themes(Checker(path, lines, problems), data, raw.get("themes"))
    pack = _build(root, model, data, themes, files, raw) if model is not None else None
    return _Loaded(pack, problems, files, raw)


def _raw_files(data: Any) -> dict[str, Any]:
    """The ``files:`` of a pack.yaml that failed its schema: the entries that are plain names."""
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if k in schema.pack.Files.model_fields and isinstance(v, str)}


def _items(value: Any) -> list[tuple[Any, Any]]:
    """(key, value) of a mapping, (index, value) of a list, nothing for anything else: the reference
    checks look only at what has the right shape (the schema reports the rest)."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return list(enumerate(value))
    return []


def _get(value: Any, key: Any) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _references(c: Checker, data: Any) -> None:
    """References between the entries of pack.yaml. A target counts as defined when its key is there, even
    if its own entry has a schema problem, so one mistake is reported once."""
    scales, kpis, attributes = (_get(data, k) if isinstance(_get(data, k), dict) else {}
                                for k in ("scales", "kpis", "attributes"))
    for section, entries in (("kpis", kpis), ("attributes", attributes)):
        for eid, entry in _items(entries):
            scale = _get(entry, "scale")
            if isinstance(scale, str) and scale not in scales:
                c.unknown((section, eid, "scale"), scale, scales, "scale")
    if isinstance(_get(data, "kpis"), dict) and "nps" not in kpis:
        c.add(("kpis",), "a pack needs an 'nps' KPI (the journey and driver views are built on it)")
    c.duplicate_ids(("stages",), _get(data, "stages"), "stage")
    c.duplicate_ids(("segments",), _get(data, "segments"), "segment")
    for i, stage in _items(_get(data, "stages")):
        for key, targets, what in (("kpis", kpis, "KPI"), ("drivers", attributes, "attribute")):
            for j, ref in _items(_get(stage, key)):
                if isinstance(ref, str) and ref not in targets:
                    c.unknown(("stages", i, key, j), ref, targets, what)
    target = _get(_get(_get(data, "rules"), "drivers"), "target")
    if isinstance(target, str) and kpis and target not in kpis:
        c.unknown(("rules", "drivers", "target"), target, kpis, "KPI")


def _attribute_themes(c: Checker, data: Any, themes_data: Any) -> None:
    """An attribute's ``themes`` (its evidence in a decision) must be theme ids of themes.yaml."""
    ids = {_get(t, "id") for _, t in _items(_get(themes_data, "themes"))} - {None}
    if not ids:
        return
    for aid, attr in _items(_get(data, "attributes")):
        for j, tid in _items(_get(attr, "themes")):
            if isinstance(tid, str) and tid not in ids:
                c.unknown(("attributes", aid, "themes", j), tid, ids, "theme")


def _theme_references(c: Checker, data: Any) -> None:
    """A theme id is used once; a keyword belongs to one theme only."""
    owner: dict[str, Any] = {}
    c.duplicate_ids(("themes",), _get(data, "themes"), "theme")
    for i, theme in _items(_get(data, "themes")):
        tid = _get(theme, "id")
        for _, k in _items(_get(theme, "keywords")):
            k = str(k).strip() if isinstance(k, (str, int)) else ""
            if k and k in owner and owner[k] != tid:
                c.add(("themes", i, "keywords"), f"keyword {k!r} is also a keyword of theme {owner[k]!r}")
            owner.setdefault(k, tid)


_QUADRANT_DEFAULTS = {"high_importance_low_performance": ("重点改进", "Fix first"),
                      "high_importance_high_performance": ("优势保持", "Keep strong"),
                      "low_importance_low_performance": ("次要改进", "Improve later"),
                      "low_importance_high_performance": ("维持观察", "Maintain")}


def _build(root: Path, m: Any, data: dict, themes: tuple[Theme, ...], files: dict[str, Path],
           raw: dict[str, Any]) -> Pack:
    """The Pack objects from a schema-valid pack.yaml (entries with a dangling reference are left out;
    :func:`_references` has reported them)."""
    scales = {sid: Scale(sid, s.kind, float(s.min), float(s.max), tuple(float(g) for g in s.good))
              for sid, s in m.scales.items()}
    kpis = {kid: KPI(kid, k.name or Label(kid, kid), scales[k.scale]) for kid, k in m.kpis.items()
            if k.scale in scales}
    attributes = {aid: Attribute(aid, a.name, a.short or a.name, scales[a.scale], owner=a.owner, horizon=a.horizon,
                                 themes=tuple(a.themes), synonyms=tuple(a.synonyms))
                  for aid, a in m.attributes.items() if a.scale in scales}
    stages = tuple(
        Stage(s.id, s.name, tuple(s.kpis), tuple(s.drivers),
              tuple(Touchpoint(t.id, t.name or Label(t.id, t.id), t.owner) for t in s.touchpoints), s.trigger, s.key,
              tuple(s.synonyms))
        for s in m.stages)
    segments = tuple(Segment(s.id, s.name or Label(s.id, s.id), s.league) for s in m.segments)
    fields_ = {fid: FieldSpec(fid, f.required, f.pii, tuple(f.synonyms)) if f else FieldSpec(fid)
               for fid, f in m.fields.items()}
    r = m.rules
    rules = Rules(
        suppress_below=r.base.suppress_below, caution_below=r.base.caution_below, alpha=float(r.significance.alpha),
        correction=r.significance.correction, driver_method=r.drivers.method, driver_target=r.drivers.target,
        driver_min_n=r.drivers.min_n, driver_min_per_driver=r.drivers.min_per_driver,
        quadrant_split=r.priority_matrix.split,
        quadrant_names={q: getattr(r.priority_matrix.quadrants, q) or Label(*_QUADRANT_DEFAULTS[q]) for q in QUADRANTS},
        quality={k: (float(v) if isinstance(v, (int, float)) and k != "straightliner_min_items" else v)
                 for k, v in r.quality.model_dump().items()},
    )
    return Pack(
        id=m.pack, root=root, name=m.name, language=m.language, scales=scales, kpis=kpis, attributes=attributes,
        stages=stages, segments=segments, fields=fields_, odata=dict(data.get("odata") or {}),
        rules=rules, themes=themes, files=files, raw=raw, privacy=m.privacy.model_dump(),
    )


def check_quality(spec: Any, add: Callable[[tuple, str], None], keypath: tuple) -> dict[str, Any]:
    """The keys given in a ``quality`` section (pack ``rules.quality`` or a mapping's ``quality``), checked
    against :class:`cemkit.schema.pack.Quality`: ``speeder_seconds`` a number ≥ 0 or null,
    ``speeder_median_share`` a number in [0, 1) or null (0 or null switches that rule off), ``straightliners``
    one of :data:`STRAIGHTLINER_MODES`, ``straightliner_min_items`` an integer ≥ 2. Problems go to
    ``add(keypath, message)``; bad keys are left out of the result."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        add(keypath, f"must be a mapping, found {type(spec).__name__}")
        return {}
    out: dict[str, Any] = {}
    for k, v in spec.items():
        try:
            Quality.model_validate({k: v})
        except ValidationError as exc:
            for p in schema_problems(exc, Quality, {}, ""):
                add(keypath + tuple(p.key.split(".")), p.message)
            continue
        out[str(k)] = float(v) if isinstance(v, (int, float)) and k != "straightliner_min_items" else v
    return out
