"""The engagement file: ``cemkit init`` writes ``engagement.yaml``; ``cemkit run`` with no arguments in that
folder runs it. The next wave of a tracker is: drop the client's new export into the data folder, ``cemkit run``.

.. code-block:: yaml

    pack: auto                   # an industry pack name or a pack folder
    client: 某品牌
    lang: zh                     # zh | en (default: the pack's)
    template: null               # the client's PPTX master
    data: [data/]                # files, folders or glob patterns: every wave's export
    odata: []                    # operational data files joined by customer id
    mapping: null                # one mapping (its sources: may differ per file), or a list, one per data file
    out: reports                 # where runs go; the last good run there is the next run's previous run
    waves:
      report: latest             # latest | all | a wave label
      compare: previous          # previous | none | a wave label
      from_date: null            # files without a wave column: half | quarter | month | year of the date
    alerts:
      window_days: 30            # a customer with an open alert gets no second one within these days
      closed: null               # the client's closed-alerts file, once they return one
    previous: auto               # auto: the last good run in out; none; or a run folder

Relative paths are relative to the engagement file. Options given to ``cemkit run`` override the file.
Every key is checked on load; a mistake names the file, the line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, PackError, Problem

__all__ = ["ENGAGEMENT_FILE", "Engagement", "find_engagement", "last_good_run", "load_engagement",
           "write_engagement"]

ENGAGEMENT_FILE = "engagement.yaml"
_TOP = {"pack", "client", "lang", "template", "data", "odata", "mapping", "out", "waves", "alerts", "previous"}
_WAVES = {"report", "compare", "from_date"}
_ALERTS = {"window_days", "closed"}
_FROM_DATE = ("half", "quarter", "month", "year")


@dataclass(frozen=True)
class Engagement:
    """A loaded engagement file; paths are absolute."""

    path: Path
    pack: str
    client: str = ""
    lang: str | None = None
    template: str | None = None
    data: tuple[str, ...] = ()
    odata: tuple[str, ...] = ()
    mapping: tuple[str, ...] = ()
    out: str = "reports"
    wave: str | None = None
    compare: str | None = None
    from_date: str | None = None
    window_days: float = 30
    closed: str | None = None
    previous: str = "auto"


def find_engagement(folder: str | Path = ".") -> Path | None:
    path = Path(folder) / ENGAGEMENT_FILE
    return path if path.is_file() else None


def load_engagement(path: str | Path) -> Engagement:
    """Read and check an engagement file. Raises :class:`InputError` listing every problem (file, line, key)."""
    from .packfiles import read_yaml

    path = Path(path).resolve()
    try:
        data, lines = read_yaml(path)
    except PackError as exc:
        raise InputError(str(exc)) from None
    problems: list[Problem] = []

    def add(key: tuple, msg: str) -> None:
        line = next((lines[key[:i]] for i in range(len(key), 0, -1) if key[:i] in lines), None)
        problems.append(Problem(path.name, ".".join(map(str, key)), msg, line))

    if not isinstance(data, dict):
        raise InputError(f"{path.name}: an engagement file is a YAML mapping ({', '.join(sorted(_TOP))})")
    for k in data:
        if k not in _TOP:
            add((k,), f"unknown key (known: {', '.join(sorted(_TOP))})")
    base = path.parent

    def text(key: str, default: str | None = None) -> str | None:
        v = data.get(key, default)
        if v is not None and not isinstance(v, (str, int, float)):
            add((key,), "must be a text")
            return default
        return None if v is None else str(v)

    def files(key: str) -> tuple[str, ...]:
        v = data.get(key) or []
        v = [v] if isinstance(v, str) else v
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            add((key,), "must be a path or a list of paths")
            return ()
        return tuple(str(base / x) if not Path(x).is_absolute() else x for x in v)

    def section(key: str, known: set[str]) -> dict:
        v = data.get(key) or {}
        if not isinstance(v, dict):
            add((key,), f"must be a mapping ({', '.join(sorted(known))})")
            return {}
        for k in v:
            if k not in known:
                add((key, k), f"unknown key (known: {', '.join(sorted(known))})")
        return v

    pack = text("pack")
    if not pack:
        add(("pack",), "required: the industry pack (see `cemkit packs`)")
    elif (base / pack).is_dir():
        pack = str(base / pack)
    lang = text("lang")
    if lang is not None and lang not in ("zh", "en"):
        add(("lang",), "must be zh or en")
    waves, alerts = section("waves", _WAVES), section("alerts", _ALERTS)
    report = str(waves.get("report") or "latest")
    compare = str(waves.get("compare") or "previous")
    from_date = waves.get("from_date")
    if from_date is not None and from_date not in _FROM_DATE:
        add(("waves", "from_date"), f"must be one of {', '.join(_FROM_DATE)}")
    window = alerts.get("window_days", 30)
    if isinstance(window, bool) or not isinstance(window, (int, float)) or window < 0:
        add(("alerts", "window_days"), "must be a number of days (0 or more)")
        window = 30
    closed = alerts.get("closed")
    template, out, previous = text("template"), text("out", "reports"), text("previous", "auto")
    if problems:
        head = f"{len(problems)} problem(s) in the engagement file:\n" if len(problems) > 1 else ""
        raise InputError(head + "\n".join(str(p) for p in problems))

    def rel(p: str | None) -> str | None:
        return None if p is None else (p if Path(p).is_absolute() else str(base / p))

    return Engagement(
        path=path, pack=pack, client=text("client", "") or "", lang=lang, template=rel(template),
        data=files("data"), odata=files("odata"), mapping=files("mapping"), out=rel(out) or str(base / "reports"),
        wave=None if report == "latest" else report, compare=None if compare == "previous" else compare,
        from_date=from_date, window_days=float(window), closed=rel(closed),
        previous=previous if previous in ("auto", "none") else rel(previous),
    )


def last_good_run(out: str | Path, pack_id: str) -> Path | None:
    """The newest finished run of ``pack_id`` in ``out`` (a ``<pack>-<timestamp>`` folder with run.json);
    failed and staging folders never count."""
    out = Path(out)
    if not out.is_dir():
        return None
    runs = sorted(p for p in out.iterdir()
                  if p.is_dir() and p.name.startswith(f"{pack_id}-2") and (p / "run.json").is_file())
    return runs[-1] if runs else None


def write_engagement(folder: str | Path, pack: str, client: str = "", lang: str | None = None,
                     template: str | None = None, data: list[str] | None = None, odata: list[str] | None = None,
                     mapping: str | None = None, out: str = "reports", force: bool = False) -> Path:
    """Write ``engagement.yaml`` (and the data and output folders) into ``folder``; never overwrites an
    existing file unless ``force``."""
    folder = Path(folder)
    path = folder / ENGAGEMENT_FILE
    if path.exists() and not force:
        raise InputError(f"{path}: an engagement file is already there (edit it, or --force to replace it)")
    folder.mkdir(parents=True, exist_ok=True)
    data = data or ["data/"]
    for d in data:
        if d.endswith("/") and not any(c in d for c in "*?["):
            (folder / d).mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "pack": pack, "client": client, "lang": lang, "template": template, "data": data, "odata": odata or [],
        "mapping": mapping, "out": out,
        "waves": {"report": "latest", "compare": "previous", "from_date": None},
        "alerts": {"window_days": 30, "closed": None}, "previous": "auto",
    }
    head = ("# cemkit engagement: `cemkit run` in this folder runs it (options given to cemkit run override).\n"
            "# Next wave: put the client's new export into the data folder, then `cemkit run`.\n"
            "# Keys: docs in cemkit/engagement.py; relative paths are relative to this file.\n")
    path.write_text(head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
