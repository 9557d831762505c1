"""The mapping file: :class:`ColumnMapping` and :func:`load_mapping` (validated, every problem with
file, line and key).

The mapping YAML (one per engagement; draft it with ``cemkit map``)
-----------------------------------------------------------------
.. code-block:: yaml

    source: {file: 2024H2_survey.xlsx, sheet: 数据}    # the data when --data is not given (relative to this file)
    columns:                                         # client header (or SPSS variable label) → pack id
      问卷编号: response_id
      Q1 您有多大可能向朋友推荐我们: nps
      经销商名称: dealer
      满意度（旧题）: null                              # null: do not use this header
    recode:                                          # per field: client value → value, before parsing
      nps: {极有可能: 10, 完全不可能: 0}
      region: {华东区: 华东}
    scales:                                          # the client's scale of a KPI/attribute, rescaled
      csat: {min: 1, max: 10}                        # linearly to the pack scale and rounded to its points
    stage_values: {交车环节: delivery, 首保: first_service}  # client stage label → stage id
    keep_pii: [phone, name]                          # PII fields kept in a separate contacts table
    weights: {column: 权重}                           # a client weight column …
    # weights: {rake: {region: {华东: 0.3, 华南: 0.22, ...}, channel: {...}}, max_iter: 1000, tol: 1.0e-10}
    wave: {from_date: half}                          # half (2024H1) | quarter (2024Q1) | month | year
    odata_columns: {客户编号: customer_id, 车龄: tenure_months}   # O-data header → key / feature id
    privacy: {plates: true}                          # also mask licence plates (default: pack option)
    constants: {stage: delivery, wave: 2024H1}       # one value for every row: a one-stage / one-wave file
    quality: {speeder_seconds: 60, straightliners: quarantine}  # overrides the pack's rules.quality, key by key
    sources:                                         # several files (a tracker's waves) in one mapping:
      - file: 2024Q1_survey.xlsx                     # a file name or a glob (2024Q*.csv), relative to this file
        sheet: 数据                                   # any section above except source, sources, odata_columns:
        constants: {wave: 2024Q1}                    # a section given here is merged over the shared one
      - file: 2024Q2_*.csv                           # (columns, recode, constants … key by key)
        columns: {推荐意愿（0-10分）: nps}              # this file's wording of a header

With ``sources``, each data file is read with the shared sections merged with its entry's (the first entry
whose ``file`` matches the file's name); a file no entry matches uses the shared sections; without ``--data``
the listed files are read. Several ``--mapping`` files, one per ``--data`` file, do the same from separate
mappings.

A declared scale for an NPS KPI must be the pack's 0-10: NPS asked on 1-10 or 1-5 is not NPS and is refused.
Headers named by the pack's ids are used as they are, and so are headers that match a field's synonyms or a
KPI/attribute/segment name confidently (normalised; score ≥ 0.85, see :func:`propose_mapping`), unless the
mapping places them elsewhere or maps them to ``null`` (``columns: {满意度: null}`` = do not use). Matches
are listed in ``accounting["columns"]`` and ``accounting["column_sources"]``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import weights as wt
from ..errors import InputError, PackError, Problem
from ..packs import Pack, check_quality, load_pack, read_yaml
from .cells import _nfkc
from .headers import DURATION, _platforms


@dataclass(frozen=True)
class ColumnMapping:
    """A validated per-engagement mapping (see the module docstring for the YAML)."""

    path: Path | None = None
    source_file: str | None = None
    sheet: str | int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)
    keep_pii: tuple[str, ...] = ()
    weights: dict[str, Any] = field(default_factory=dict)
    stage_values: dict[str, str] = field(default_factory=dict)
    wave_from_date: str = "half"
    odata_columns: dict[str, str] = field(default_factory=dict)
    plates: bool | None = None
    constants: dict[str, str] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)  # the keys given: they override the pack's
    sources: tuple[tuple[str, dict], ...] = ()              # (file name or glob, its sections) per data file
    shared: dict[str, Any] = field(default_factory=dict)    # the sections every file shares (with sources)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "mapping"


_MAPPING_KEYS = (
    "source",
    "sources",
    "columns",
    "recode",
    "scales",
    "keep_pii",
    "weights",
    "stage_values",
    "wave",
    "odata_columns",
    "privacy",
    "constants",
    "quality",
)
_WAVE_RULES: dict[str, Callable[[pd.Series], pd.Series]] = {
    "half": lambda d: (
        d.dt.year.astype("Int64").astype("str") + "H" + ((d.dt.month > 6).astype("Int64") + 1).astype("str")
    ),
    "quarter": lambda d: (
        d.dt.year.astype("Int64").astype("str") + "Q" + d.dt.quarter.astype("Int64").astype("str")
    ),
    "month": lambda d: d.dt.strftime("%Y-%m").astype("str"),
    "year": lambda d: d.dt.year.astype("Int64").astype("str"),
}


def _targets(pack: Pack) -> dict[str, list[str]]:
    """Every column id a client header may map to, with the names it is known by."""
    out: dict[str, list[str]] = {}

    def add(fid: str, *names: Any) -> None:
        out.setdefault(fid, [fid])
        out[fid].extend(str(n) for n in names if n)

    for fid, spec in pack.fields.items():
        add(fid, *spec.synonyms)
    for kid, k in pack.kpis.items():
        add(kid, k.name.zh, k.name.en)
    for aid, a in pack.attributes.items():
        add(aid, a.name.zh, a.name.en, a.short.zh, a.short.en, *a.synonyms)
    for seg in pack.segments:
        add(seg.id, seg.name.zh, seg.name.en)
    for fid, names in _platforms()["synonyms"].items():  # platform wording, after the pack's own names
        if fid in pack.fields:
            add(fid, *names)
    out.setdefault(DURATION, [DURATION])  # every pack: proposed only by name (duration_column)
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


def load_mapping(mapping: str | Path | dict | ColumnMapping | None, pack: Pack) -> ColumnMapping:
    """Read and check a mapping (YAML path or dict). Raises InputError listing every problem with the
    file, the key and the line."""
    if mapping is None or mapping == "":
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    path: Path | None = None
    lines: dict[tuple, int] = {}
    if isinstance(mapping, dict):
        data = mapping
    else:
        path = Path(mapping)
        if not path.is_file():
            raise InputError(f"{path}: mapping file not found.")
        try:
            data, lines = read_yaml(path)
        except PackError as exc:
            raise InputError(str(exc)) from None
    fname = path.name if path else "mapping"
    problems: list[Problem] = []

    def add(keypath: tuple, msg: str) -> None:
        line = next((lines[keypath[:c]] for c in range(len(keypath), 0, -1) if keypath[:c] in lines), None)
        problems.append(Problem(fname, ".".join(str(k) for k in keypath), msg, line))

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            f"{fname}: a mapping file must be a YAML mapping of sections ({', '.join(_MAPPING_KEYS)})."
        )
    for k in data:
        if k not in _MAPPING_KEYS:
            add((k,), f"unknown section (known: {', '.join(_MAPPING_KEYS)})")

    def section(key: str) -> dict:
        v = data.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            add((key,), f"must be a mapping, found {type(v).__name__}")
            return {}
        return v

    targets = _targets(pack)
    numeric = set(pack.kpis) | set(pack.attributes)
    columns: dict[str, str] = {}
    ignore: list[str] = []
    for header, fid in section("columns").items():
        if fid is None or str(fid).strip() in ("", "ignore"):  # a header the analyst does not want used
            ignore.append(str(header))
            continue
        if str(fid) not in targets:
            close = difflib.get_close_matches(str(fid), list(targets), n=1, cutoff=0)
            add(
                ("columns", header),
                f"{fid!r} is not a field, KPI, attribute or segment of pack {pack.id} (closest: {close[0]!r})"
                if close
                else f"{fid!r} is not a pack field",
            )
            continue
        columns[str(header)] = str(fid)
    seen: dict[str, str] = {}
    for header, fid in columns.items():
        if fid in seen:
            add(("columns", header), f"{fid!r} is already mapped from {seen[fid]!r}")
        seen[fid] = header

    constants: dict[str, str] = {}
    for fid, value in section("constants").items():
        if str(fid) not in targets or str(fid) in ("response_id", "customer_id"):
            add(("constants", fid), f"{fid!r} cannot be a constant: name a field, KPI, attribute or segment "
                                    f"of pack {pack.id} other than the ids")
        elif value is None or isinstance(value, (dict, list)) or str(value).strip() == "":
            add(("constants", fid), "must be one value (text or number)")
        elif str(fid) in seen:
            add(("constants", fid), f"{fid!r} is also mapped from column {seen[str(fid)]!r}: keep one")
        else:
            constants[str(fid)] = str(value)

    recode: dict[str, dict[str, str]] = {}
    for fid, table in section("recode").items():
        if str(fid) not in targets:
            add(("recode", fid), f"{fid!r} is not a field of pack {pack.id}")
        elif not isinstance(table, dict):
            add(("recode", fid), "must map client values to values")
        else:
            recode[str(fid)] = {_nfkc(str(k)): _nfkc(str(v)) for k, v in table.items() if v is not None}

    scales: dict[str, tuple[float, float]] = {}
    for fid, spec in section("scales").items():
        kp = ("scales", fid)
        if fid not in numeric:
            add(kp, f"{fid!r} is not a KPI or attribute of pack {pack.id}")
            continue
        lo, hi = (spec.get("min"), spec.get("max")) if isinstance(spec, dict) else (None, None)
        if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)) or lo >= hi:
            add(kp, "needs numeric {min, max} with min < max")
            continue
        scale = pack.kpis[fid].scale if fid in pack.kpis else pack.attributes[fid].scale
        if scale.kind == "nps" and (lo, hi) != (scale.min, scale.max):
            add(
                kp,
                f"NPS must be asked on {scale.min:g}-{scale.max:g}; a {lo:g}-{hi:g} recommend question is "
                "not NPS and cannot be rescaled to it (map it to another field or leave it out)",
            )
            continue
        scales[str(fid)] = (float(lo), float(hi))

    keep = data.get("keep_pii") or []
    pii = [f for f, s in pack.fields.items() if s.pii]
    if not isinstance(keep, list):
        add(("keep_pii",), "must be a list of PII fields")
        keep = []
    for f in keep:
        if f not in pii:
            add(
                ("keep_pii",),
                f"{f!r} is not a PII field of pack {pack.id} (PII fields: {', '.join(pii) or 'none'})",
            )

    weights = section("weights")
    if weights:
        if ("column" in weights) == ("rake" in weights):
            add(("weights",), "give either {column: <header>} or {rake: {variable: {category: share}}}")
        if "rake" in weights:
            _, wprob = wt.normalise_margins(weights.get("rake") or {})
            for msg in wprob:
                add(("weights", "rake"), msg)
        for k in weights:
            if k not in ("column", "rake", "max_iter", "tol"):
                add(("weights", k), "unknown key (column, rake, max_iter, tol)")

    stage_values: dict[str, str] = {}
    for label, sid in section("stage_values").items():
        if sid is None:
            continue
        if sid not in pack.stage_ids:
            close = difflib.get_close_matches(str(sid), pack.stage_ids, n=1, cutoff=0)
            add(("stage_values", label), f"{sid!r} is not a stage of pack {pack.id} (closest: {close[0]!r})")
            continue
        stage_values[_nfkc(str(label))] = str(sid)

    wave = section("wave")
    rule = str(wave.get("from_date", "half"))
    if rule not in _WAVE_RULES:
        add(("wave", "from_date"), f"must be one of {', '.join(_WAVE_RULES)}")
        rule = "half"

    odata_columns: dict[str, str] = {}
    od_targets = {
        str((pack.odata or {}).get("key", "customer_id")),
        *((pack.odata or {}).get("features") or {}),
        *((pack.odata or {}).get("aggregate") or {}),
    }
    for header, fid in section("odata_columns").items():
        odata_columns[str(header)] = str(fid)
        if str(fid) not in od_targets:
            for rule_spec in ((pack.odata or {}).get("aggregate") or {}).values():
                if isinstance(rule_spec, dict) and rule_spec.get("from") == fid:
                    break
            else:
                add(
                    ("odata_columns", header),
                    f"{fid!r} is neither the O-data key nor a declared feature or aggregate source",
                )

    quality = check_quality(data.get("quality"), add, ("quality",))
    src = section("source")
    shared = {k: v for k, v in data.items() if k not in ("source", "sources")}
    sources = _sources(data.get("sources"), shared, pack, add)
    plates = section("privacy").get("plates")
    if problems:
        head = f"{len(problems)} problem(s) in the mapping:\n" if len(problems) > 1 else ""
        raise InputError(head + "\n".join(f"{p}." for p in problems))
    return ColumnMapping(
        path=path,
        source_file=src.get("file"),
        sheet=src.get("sheet"),
        columns=columns,
        ignore=tuple(ignore),
        recode=recode,
        scales=scales,
        keep_pii=tuple(keep),
        weights=dict(weights),
        stage_values=stage_values,
        wave_from_date=rule,
        odata_columns=odata_columns,
        plates=None if plates is None else bool(plates),
        constants=constants,
        quality=quality,
        sources=sources,
        shared=shared if sources else {},
    )


_SOURCE_ONLY = ("file", "sheet")
_NOT_PER_SOURCE = ("source", "sources", "odata_columns")


def _merged(shared: dict, entry: dict) -> dict:
    """The shared sections with a source entry's merged over them (mapping sections key by key)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in shared.items()}
    for k, v in entry.items():
        if k in _SOURCE_ONLY:
            continue
        out[k] = {**out[k], **v} if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    if entry.get("sheet") is not None:
        out["source"] = {"sheet": entry["sheet"]}
    return out


def _sources(value: Any, shared: dict, pack: Pack, add: Callable[[tuple, str], None]) -> tuple:
    """Check ``sources`` (each entry merged with the shared sections must be a valid mapping)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        add(("sources",), "must be a list of {file: …, and the sections that differ for that file}")
        return ()
    out = []
    for i, entry in enumerate(value):
        kp = ("sources", i)
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not entry["file"].strip():
            add(kp, "each source needs file: a file name or a glob pattern")
            continue
        bad = [k for k in entry if k in _NOT_PER_SOURCE or (k not in _MAPPING_KEYS and k not in _SOURCE_ONLY)]
        for k in bad:
            add(kp + (k,), "not a per-file section (use columns, recode, scales, constants, stage_values, "
                           "wave, weights, keep_pii, privacy, quality, sheet)")
        if bad:
            continue
        try:
            load_mapping(_merged(shared, entry), pack)
        except InputError as exc:
            for line in str(exc).splitlines():
                if line.strip() and not line.endswith("problem(s) in the mapping:"):
                    add(kp, line.removeprefix("mapping").lstrip(": ").rstrip("."))
            continue
        out.append((entry["file"].strip(), dict(entry)))
    return tuple(out)


def mapping_for(mp: ColumnMapping, path: str | Path, pack: Pack) -> ColumnMapping:
    """The mapping of one data file: the shared sections merged with the first ``sources`` entry whose
    ``file`` matches the file (its name, or a glob on its name), else the shared sections."""
    if not mp.sources:
        return mp
    import dataclasses
    from fnmatch import fnmatch

    name = Path(path).name
    for pattern, entry in mp.sources:
        if Path(pattern).name == name or fnmatch(name, Path(pattern).name):
            return dataclasses.replace(load_mapping(_merged(mp.shared, entry), pack), path=mp.path)
    return dataclasses.replace(load_mapping(mp.shared, pack), path=mp.path)


def source_files(mp: ColumnMapping) -> list[str]:
    """The data files a mapping names (``sources`` entries, else ``source.file``), relative to its folder."""
    files = [pattern for pattern, _ in mp.sources] or ([mp.source_file] if mp.source_file else [])
    base = mp.path.parent if mp.path else Path(".")
    return [str(base / f) for f in files]


def _as_pack(pack: Pack | str | Path) -> Pack:
    return pack if isinstance(pack, Pack) else load_pack(pack)
