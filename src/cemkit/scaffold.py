"""Scaffold a new industry pack by copying an existing one (``cemkit new-pack NAME --from retail``).

The copy keeps every file of the source pack, so it validates from the first minute; the analyst then edits
it file by file (docs/packs.md walks through it). Only the pack's id and display name are rewritten, in place,
so the comments of ``pack.yaml`` survive. The source's README (which describes where *its* journey came from)
is replaced by a stub that says what the new pack was copied from and what to replace.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
from pathlib import Path

from .errors import UserError
from .packs import pack_path, read_yaml
from .paths import packs_dir

__all__ = ["new_pack", "new_pack_command"]

_ID_LINE = re.compile(r"^pack:[^\n]*$", re.MULTILINE)
_NAME_LINE = re.compile(r"^name:[^\n]*$", re.MULTILINE)


def _check_name(name: str) -> None:
    if not (isinstance(name, str) and name.isascii() and name.isidentifier()) or keyword.iskeyword(name):
        raise UserError(f"pack name {name!r} is not a valid identifier: use ASCII letters, digits and "
                        "underscores, not starting with a digit (e.g. telecom, hotel_chain)")
    if name.startswith("_"):
        raise UserError(f"pack name {name!r} starts with '_': such folders are hidden from `cemkit packs`")


def default_dest(name: str) -> Path:
    """Where a new pack goes when no ``--dest`` is given: ``$CEMKIT_PACKS/<name>`` when that variable names
    the analyst's own packs folder, else ``./<name>`` — never into the installed cemkit unless asked."""
    return (packs_dir() if os.environ.get("CEMKIT_PACKS") else Path.cwd()) / name


def new_pack(name: str, source: str | Path = "retail", dest: str | Path | None = None) -> Path:
    """Copy pack ``source`` (a pack name or folder) to ``dest`` (default :func:`default_dest`: ``./<name>``,
    or ``$CEMKIT_PACKS/<name>``), set its ``pack:`` id to ``name`` and its display name to a placeholder,
    and return the new folder.

    Raises :class:`~cemkit.errors.UserError` when ``name`` is not a valid identifier, the source pack does
    not exist, or the destination already exists (nothing is overwritten).
    """
    _check_name(name)
    src = pack_path(source)                      # PackError (a UserError) names the known packs
    target = Path(dest) if dest is not None else default_dest(name)
    if target.exists():
        raise UserError(f"{target} already exists: choose another name or --dest (nothing was overwritten)")
    if target.resolve().is_relative_to(src.resolve()):
        raise UserError(f"{target} lies inside the source pack {src}")
    source_id = str((read_yaml(src / "pack.yaml")[0] or {}).get("pack") or src.name)
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc"))

    manifest = target / "pack.yaml"
    text = manifest.read_text(encoding="utf-8")
    new_id = f"pack: {name}"
    text = _ID_LINE.sub(new_id, text, count=1) if _ID_LINE.search(text) else f"{new_id}\n{text}"
    new_name = f'name: {{zh: "{name}（由{source_id}复制，待改名）", en: "{name} (copied from {source_id}; rename me)"}}'
    text = _NAME_LINE.sub(new_name, text, count=1) if _NAME_LINE.search(text) else f"{text}\n{new_name}\n"
    header = (f"# Scaffolded from the {source_id} pack by `cemkit new-pack {name}`; "
              f"the comments below still describe {source_id}.\n")
    manifest.write_text(header + text, encoding="utf-8")

    (target / "README.md").write_text(_readme(name, source_id), encoding="utf-8")
    return target


def _readme(name: str, source_id: str) -> str:
    return f"""# {name}

Scaffolded with `cemkit new-pack {name} --from {source_id}`: every file is still the `{source_id}` pack's.
Replace, file by file (docs/packs.md explains each format):

1. `pack.yaml` — name, stages and touchpoints (with owner departments), KPIs, attributes, segments, fields,
   O-data features.
2. `themes.yaml` and `userdict.txt` — the industry's comment themes and vocabulary.
3. `eval_text.csv` — write and label 200+ comments of this industry, then `cemkit eval-text --pack {name}`.
4. `demo.yaml` — synthetic-data settings: stage ids, drivers, units and phrase banks must match the new pack.
5. `storyline.yaml`, `alerts.yaml`, `playbooks.yaml` — the industry's words in titles, notes and actions.

Then state here where the journey comes from and that the demo phrases and evaluation set are synthetic.
"""


def new_pack_command(args) -> int:
    """``cemkit new-pack NAME [--from SOURCE] [--dest FOLDER]``: scaffold, then print the next steps."""
    source = getattr(args, "source", None) or "retail"
    folder = new_pack(args.name, source=source, dest=getattr(args, "dest", None)).resolve()
    # `--pack NAME` finds packs under packs_dir(); anywhere else the folder itself is the reference
    ref = args.name if folder.parent == packs_dir().resolve() else str(folder)
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    print("\n".join([
        f"created pack {args.name!r} from {source!r} in {folder}",
        "  files: " + ", ".join(files),
        "next steps:",
        f"  1. edit {folder / 'pack.yaml'}: name, stages, touchpoints and owners, attributes, segments, fields",
        "  2. edit themes.yaml, userdict.txt, demo.yaml, storyline.yaml, alerts.yaml, playbooks.yaml (docs/packs.md)",
        f"  3. cemkit validate-pack {ref}",
        f"  4. cemkit eval-text --pack {ref}      # after writing eval_text.csv for the new industry",
        f"  5. cemkit run --pack {ref}            # demo data, deck and report",
    ]))
    return 0
