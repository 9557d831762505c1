"""Reading the files of a pack: YAML with the line of every key, paths kept inside the pack folder, the
jieba dictionary, and :class:`Checker` for the cross-reference checks that follow the schema.

A pack is data someone else may have written: every file it names must resolve (symlinks followed) to a
path inside the pack folder. ``files: {themes: /etc/passwd}`` or ``../../secret.yaml`` is refused before
anything is read, so an error message can never quote the lines of a file outside the pack.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import PackError, Problem
from .safe_yaml import MAX_BYTES, YamlLimitError, parse_yaml
from .schema import LabelValue as Label
from .schema import did_you_mean, dotted, line_of

__all__ = ["Checker", "check_dictionary", "check_inside", "read_yaml"]


def read_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """Parse a YAML file; return the data and a map from key path to 1-based line number.

    A syntax error becomes a PackError naming the file and the line the parser reports."""
    try:
        if Path(path).stat().st_size > MAX_BYTES:
            raise PackError([Problem(path, "", f"larger than {MAX_BYTES >> 20} MiB: not a pack or mapping file")])
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PackError([Problem(path, "", "file not found")]) from None
    except IsADirectoryError:
        raise PackError([Problem(path, "", "is a folder, not a file")]) from None
    except UnicodeDecodeError as exc:
        raise PackError([Problem(path, "", f"not UTF-8 text ({exc.reason})")]) from None
    try:  # one parse, within size and alias limits: the node tree gives the lines, the same tree the data
        data, node = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(str(getattr(exc, "problem", "") or exc).split())
        what = "YAML refused" if isinstance(exc, YamlLimitError) else "YAML syntax error"
        raise PackError([Problem(path, "", f"{what}: {msg}", line)]) from None
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


def check_inside(root: Path, rel: str | Path) -> tuple[Path | None, str | None]:
    """``root / rel`` when it exists and resolves inside ``root`` (symlinks followed), else None and why."""
    root_real = Path(root).resolve()
    path = Path(root) / rel
    if Path(rel).is_absolute() or not path.resolve().is_relative_to(root_real):
        return None, f"names {str(rel)!r}, which lies outside the pack folder: a pack may only use its own files"
    if not path.exists():
        return None, f"names {str(rel)!r}, which does not exist in {root}"
    return path, None


def check_links_inside(root: Path) -> list[Problem]:
    """Every entry of the pack folder and of its ``lexicon/`` folder must resolve inside the pack: files
    cemkit reads by a fixed name (eval_text.csv, stopwords.txt, lexicon/*.txt) could otherwise be links to
    anywhere. One problem per link that leads out."""
    root = Path(root)
    root_real = root.resolve()
    entries = list(root.iterdir())
    lexicon = root / "lexicon"
    if lexicon.is_dir() and lexicon.resolve().is_relative_to(root_real):
        entries += list(lexicon.iterdir())
    return [Problem(p.relative_to(root), "", "is a link to a place outside the pack folder: a pack may only use "
                    "its own files") for p in entries if not p.resolve().is_relative_to(root_real)]


def check_dictionary(path: Path, fname: str | None = None) -> list[Problem]:
    """A jieba user dictionary: one entry a line, ``word [freq] [tag]``; freq must be a positive integer."""
    problems = []
    name = fname or Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(name, "", f"not UTF-8 text ({exc.reason})")]
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if len(parts) > 3:
            problems.append(Problem(name, parts[0][:20], "expected 'word [freq] [tag]'", n))
        elif len(parts) >= 2 and not parts[1].isdigit():
            problems.append(Problem(name, parts[0][:20], f"frequency {parts[1][:20]!r} is not a positive integer", n))
    return problems


class Checker:
    """Collects problems for one file with line numbers (pandera-style: report all, then raise)."""

    def __init__(self, path: Path | str | None, lines: dict[tuple, int], problems: list[Problem]):
        self.path, self.lines, self.problems = path, lines, problems

    @property
    def fname(self) -> str:
        return Path(self.path).name if self.path else ""

    def add(self, keypath: Iterable, message: str) -> None:
        keypath = tuple(keypath)
        self.problems.append(Problem(self.fname, dotted(keypath), message, line_of(self.lines, keypath)))

    def unknown(self, keypath: Iterable, value: Any, options: Iterable[Any], what: str) -> None:
        """``unknown <what> 'x' (did you mean 'y'?)`` at ``keypath``."""
        self.add(keypath, f"unknown {what} {value!r} ({did_you_mean(value, list(options), what + 's')})")

    def duplicate_ids(self, keypath: tuple, entries: Any, what: str) -> None:
        """``duplicate <what> id 'x'`` for each entry of a list of mappings whose ``id`` was used before."""
        seen: set = set()
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            eid = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(eid, str) and eid in seen:
                self.add(keypath + (i, "id"), f"duplicate {what} id {eid!r}")
            seen.add(eid)

    def label(self, value: Any, keypath: tuple, default: str | None = None) -> Label:
        """A validated name as a Label (the schema has checked it; the default stands in for none)."""
        if value is None and default is not None:
            return Label(default, default)
        if isinstance(value, str) and value.strip():
            return Label(value, value)
        if isinstance(value, dict) and all(isinstance(value.get(lang), str) for lang in ("zh", "en")):
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
