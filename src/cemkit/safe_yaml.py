"""YAML from users — column mappings, packs, engagement files — parsed with limits.

A YAML file is data a user (or a client) hands us, so it is parsed like any hostile input:

* at most :data:`MAX_BYTES` of text;
* safe types only (PyYAML's safe loader: no Python objects);
* aliases are allowed (packs may reuse a block with ``&name`` / ``*name``), but the document *as expanded*
  may hold at most :data:`MAX_NODES` nodes and no alias may point into itself. A "billion laughs" file
  (nested aliases that expand to 10⁹ nodes) is refused in milliseconds instead of running for hours in
  whatever walks the data next;
* nesting depth is bounded by libyaml (1,000 levels).

The text is composed once, with libyaml's C parser when PyYAML has it (≈ 10× faster than the Python one),
and the node graph is kept: :func:`cemkit.packfiles.read_yaml` reads line numbers from it for its error
messages (packs, mappings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_BYTES", "MAX_NODES", "YamlLimitError", "load_yaml", "parse_yaml"]

MAX_BYTES = 16 << 20
MAX_NODES = 250_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(yaml.YAMLError):
    """A YAML text over a limit (size, expanded nodes, a recursive alias). ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.problem, self.line = message, line
        self.problem_mark = None if line is None else _Mark(line - 1)


class _Mark:  # what callers read from yaml.MarkedYAMLError: .line (0-based)
    def __init__(self, line: int):
        self.line = line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [c for pair in node.value for c in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check(root: yaml.Node | None) -> None:
    """Count the nodes of the document as expanded (an alias counts its whole target every time it is
    used), memoised per node so the count itself stays linear in the text; refuse recursion."""
    if root is None:
        return
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]  # iterative post-order walk: (node, children done?)
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            if size[key] > MAX_NODES:
                raise YamlLimitError(
                    f"the YAML expands to more than {MAX_NODES:,} values (aliases used inside aliases?); "
                    "write the values out instead", node.start_mark.line + 1)
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for c in reversed(_children(node)):
            if id(c) in open_:
                raise YamlLimitError("an alias refers to the block it is in (a recursive YAML structure)",
                                     c.start_mark.line + 1)
            if id(c) not in size:
                stack.append((c, False))


def parse_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text within the limits; return ``(data, root node)``. Raises ``yaml.YAMLError`` (a
    :class:`YamlLimitError` for a limit) with the line where the parser can tell it."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"the YAML file is larger than {MAX_BYTES >> 20} MiB")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        _check(node)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def load_yaml(path: str | Path) -> Any:
    """The data of a UTF-8 YAML file, parsed within the limits (errors as in :func:`parse_yaml`)."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:
        raise YamlLimitError(f"the YAML file is larger than {MAX_BYTES >> 20} MiB")
    return parse_yaml(path.read_text(encoding="utf-8"))[0]
