"""Rendering a run's deliverables from its results, and publishing folders safely: a staging folder with a
name of its own, one atomic rename to publish, a failed run's folder kept under a unique name, ``cemkit
render`` into a staging copy that replaces the run folder, ``cemkit refresh`` written to a temporary file.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from ..errors import InputError, UserError
from ..packs import Pack, load_pack

#: facts of the data-quality result every slide may use: the period, the base, the reporting wave
_BASE_FACTS = ("period", "n_used", "waves", "wave", "wave_id", "compare_wave", "pooled", "n_waves", "one_wave",
               "has_compare", "n_wave", "wave_low_base")


def _base_facts(run_dir: Path, synthetic: bool) -> dict:
    acc_path = run_dir / "results" / "data_quality.json"
    facts: dict[str, Any] = {"synthetic": synthetic}
    if acc_path.exists():
        meta = json.loads(acc_path.read_text(encoding="utf-8"))
        facts.update({k: v for k, v in (meta.get("facts") or {}).items() if k in _BASE_FACTS})
    return facts


def render(run_dir: str | Path, pack: Pack | str, *, lang: str | None = None, client: str = "",
           template: str | None = None, synthetic: bool = False, html_engine: str = "builtin") -> dict[str, Path]:
    """Render every deliverable of a run folder from its results (also used by ``cemkit render``)."""
    from ..render.html import build_html
    from ..render.pptx import build_deck
    from ..render.xlsx import build_datapack

    pack = load_pack(pack) if isinstance(pack, str) else pack
    run_dir = Path(run_dir)
    lang = lang or pack.language
    facts = _base_facts(run_dir, synthetic)
    facts["date"] = dt.date.today().isoformat()
    out = {"pptx": run_dir / "report.pptx", "html": run_dir / "report.html", "datapack": run_dir / "datapack.xlsx"}
    build_deck(run_dir, pack, out["pptx"], lang=lang, client=client, template=template, base_facts=facts)
    if html_engine == "quarto":
        from ..render.quarto import build_quarto

        build_quarto(run_dir, out["html"])
    else:
        build_html(run_dir, pack, out["html"], lang=lang, client=client, base_facts=facts)
    build_datapack(run_dir, pack, out["datapack"], lang=lang)
    return out


def refresh(deck: str | Path, run_dir: str | Path, out: str | Path, *, lang: str | None = None,
            client: str | None = None):
    """``cemkit refresh``: bring an edited deck's cemkit slides to a run's results (see
    :mod:`cemkit.render.refresh`), save it as ``out`` (written to a temporary file, then renamed: a failed
    refresh leaves nothing half-written) and write what could not be refreshed next to it
    (``<out>.refresh.txt``). Returns the :class:`~cemkit.render.refresh.RefreshReport`."""
    from ..render.plan import deck_facts
    from ..render.refresh import refresh_deck

    deck, run_dir, out = Path(deck), Path(run_dir), Path(out)
    if not deck.is_file() or deck.suffix.lower() != ".pptx":
        raise InputError(f"{deck}: not a .pptx file")
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise InputError(f"--run {run_dir}: not a finished cemkit run (no run.json)")
    if out.resolve() == deck.resolve():
        raise InputError(f"--out {out}: give a new file; the edited deck is kept as it is")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    pack = load_pack(info["pack"])
    lang = lang or info.get("lang") or pack.language
    client = info.get("client", "") if client is None else client
    facts = _base_facts(run_dir, bool(info.get("synthetic")))
    base = deck_facts(pack, lang, client, facts)  # the same cover and fallback texts as build_deck
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # per process: two refreshes never share it
    try:
        report = refresh_deck(deck, run_dir, tmp, pack, lang=lang, base_facts=base)
        if not report.slides:
            raise InputError(f"{deck}: no slide drawn by cemkit was found (a deck made before refresh existed, "
                             "or not a cemkit deck)")
        os.replace(tmp, out)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        from zipfile import BadZipFile

        if isinstance(exc, (BadZipFile, KeyError)) and not isinstance(exc, UserError):
            raise InputError(f"{deck}: cannot be read as a PowerPoint deck ({exc})") from None
        raise
    out.with_name(out.name + ".refresh.txt").write_text("\n".join(report.lines()) + "\n", encoding="utf-8")
    return report


def disk_full(exc: BaseException) -> bool:
    """Is this error a full disk (or an exhausted quota)?"""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def own_name(base: str, token: str = "", pid: int | None = None) -> str:
    """A folder name of this process: ``<base>-p<pid>[-<token>]``. The ``p`` keeps the process id apart from
    the time stamp before it: ``…-021414-4567`` reads as a Shanghai landline (021-414…), and error messages are
    masked for personal data, so a message would name a path that does not exist."""
    return f"{base}-p{os.getpid() if pid is None else pid}" + (f"-{token}" if token else "")


def _staging(parent: Path, base: str) -> Path:
    """A new, uniquely named folder in ``parent`` (made if needed); a parent that is a file, read-only or on
    a full disk is bad input: one sentence."""
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{parent} is a file, not a folder; give a folder for the runs with --out")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        while True:  # not tempfile.mkdtemp: its folders are private (mode 700), and a run is published as is
            folder = parent / own_name(base, secrets.token_hex(3))
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        why = "the disk is full" if disk_full(exc) else (exc.strerror or str(exc)).lower()
        raise UserError(f"cannot write in {parent} ({why}); give a folder you can write to with --out") from None


def _rename_unique(folder: Path, parent: Path, name: str) -> Path | None:
    """Rename ``folder`` to ``parent/name`` (``name-2``, ``name-3``… when taken: two runs failing in the same
    second keep their own folders). None when it cannot be renamed."""
    for k in range(1, 1000):
        target = parent / (name if k == 1 else f"{name}-{k}")
        if target.exists():
            continue
        try:
            folder.rename(target)
            return target
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                continue
            return None
    return None


def _moved(arg: Any, old: Path, new: Path) -> Any:
    if not isinstance(arg, str):
        return arg
    for form in {str(old), str(old.resolve())}:
        arg = arg.replace(form, str(new))
    return arg


DELIVERABLES = ("report.pptx", "report.html", "datapack.xlsx")


def rerender(run_dir: str | Path, pack: Pack | str | None = None, *, lang: str | None = None,
             client: str | None = None, template: str | None = None) -> dict[str, Path]:
    """``cemkit render``: render a published run's deliverables again from its results, like a run does —
    into a staging copy of the folder (files hard-linked, so no data is copied), which replaces the run
    folder only once every deliverable is written. A failure (a full disk, a bad template) leaves the
    published run as it was. Options not given are taken from the run's ``run.json``."""
    run_dir = Path(run_dir).resolve()
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run folder")
    if not any((run_dir / "results").glob("*.parquet")):
        raise UserError(f"{run_dir} is not a cemkit run folder (it has no results/); give a folder written by "
                        "cemkit run")
    info = {}
    if (run_dir / "run.json").exists():
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    pack = pack or info.get("pack")
    if not pack:
        raise UserError(f"{run_dir}: no run.json; name the pack with --pack")
    staging = _staging(run_dir.parent, f".staging-render-{run_dir.name}")
    try:
        for src in run_dir.rglob("*"):
            dst = staging / src.relative_to(run_dir)
            if src.is_dir():
                dst.mkdir(parents=True, exist_ok=True)
            elif src.relative_to(run_dir).as_posix() not in DELIVERABLES:  # written afresh, never in place
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
        outputs = render(staging, pack, lang=lang or info.get("lang"), client=client or info.get("client", ""),
                         template=template, synthetic=bool(info.get("synthetic")),
                         html_engine=info.get("html_engine", "builtin"))
        old = _rename_unique(run_dir, run_dir.parent, f".replaced-{run_dir.name}")
        if old is None:
            raise UserError(f"cannot replace {run_dir} (is it open in another program?)")
        try:
            staging.rename(run_dir)  # the publish step
        except OSError:
            old.rename(run_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if disk_full(exc):
            raise UserError(f"the disk is full (no space left on device while rendering {run_dir.name}); the "
                            "published run is unchanged: free some space and render again") from exc
        raise
    return {k: run_dir / v.name for k, v in outputs.items()}


def _point_latest(out: Path, pack_id: str, final: Path) -> None:
    """Point ``<out>/<pack>-latest`` at the new run (a symlink swapped atomically)."""
    link = out / f"{pack_id}-latest"
    tmp = out / f".{pack_id}-latest.{os.getpid()}.tmp"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(final.name)
        os.replace(tmp, link)
    except OSError:  # filesystems without symlinks: the timestamped folder is enough
        pass
