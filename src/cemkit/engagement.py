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
    sentiment_model: null        # the model `cemkit learn` wrote (default: the pack folder's, if any)
    previous: auto               # auto: the last good run in out; none; or a run folder

Relative paths are relative to the engagement file. Options given to ``cemkit run`` override the file.
Every key is checked on load (the model :class:`cemkit.schema.engagement.EngagementFile`, as the pack files
are); a mistake names the file, the line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError, PackError

__all__ = ["ENGAGEMENT_FILE", "Engagement", "find_engagement", "last_good_run", "load_engagement",
           "write_engagement"]

ENGAGEMENT_FILE = "engagement.yaml"


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
    sentiment_model: str | None = None
    previous: str = "auto"


def find_engagement(folder: str | Path = ".") -> Path | None:
    path = Path(folder) / ENGAGEMENT_FILE
    return path if path.is_file() else None


def load_engagement(path: str | Path) -> Engagement:
    """Read and check an engagement file against :class:`cemkit.schema.engagement.EngagementFile`. Raises
    :class:`InputError` listing every problem (file, line, key)."""
    from .packfiles import read_yaml
    from .schema import validate_model
    from .schema.engagement import Alerts, EngagementFile, Waves

    path = Path(path).resolve()
    try:
        data, lines = read_yaml(path)
    except PackError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name}: an engagement file is a YAML mapping "
                         f"({', '.join(EngagementFile.model_fields)})")
    model, problems = validate_model(EngagementFile, data, lines, path.name)
    if problems:
        head = f"{len(problems)} problem(s) in the engagement file:\n" if len(problems) > 1 else ""
        raise InputError(head + "\n".join(str(p) for p in problems))
    base = path.parent

    def rel(p: str | None) -> str | None:
        return None if p is None else (p if Path(p).is_absolute() else str(base / p))

    def files(v: tuple[str, ...] | None) -> tuple[str, ...]:
        return tuple(rel(x) for x in v or ())

    waves, alerts = model.waves or Waves(), model.alerts or Alerts()
    pack = model.pack if not (base / model.pack).is_dir() else str(base / model.pack)
    previous = model.previous or "auto"
    return Engagement(
        path=path, pack=pack, client=model.client or "", lang=model.lang, template=rel(model.template),
        data=files(model.data), odata=files(model.odata), mapping=files(model.mapping),
        out=rel(model.out or "reports"),
        wave=None if waves.report == "latest" else waves.report,
        compare=None if waves.compare == "previous" else waves.compare,
        from_date=waves.from_date, window_days=float(alerts.window_days), closed=rel(alerts.closed),
        sentiment_model=rel(model.sentiment_model),
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
                     mapping: str | None = None, out: str = "reports", from_date: str | None = None,
                     force: bool = False) -> Path:
    """Write ``engagement.yaml`` (and the data and output folders) into ``folder``; never overwrites an
    existing file unless ``force``. Paths are written as given: relative ones are read from ``folder``."""
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
        "waves": {"report": "latest", "compare": "previous", "from_date": from_date},
        "alerts": {"window_days": 30, "closed": None}, "sentiment_model": None, "previous": "auto",
    }
    head = ("# cemkit engagement: `cemkit run` in this folder runs it (options given to cemkit run override).\n"
            "# Next wave: put the client's new export into the data folder, then `cemkit run`.\n"
            "# Keys: docs in cemkit/engagement.py; relative paths are relative to this file.\n")
    path.write_text(head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
