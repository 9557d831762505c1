"""Errors a user can fix. The CLI prints their message as one sentence and exits with code 2.

Anything else that escapes is a bug in cemkit: the CLI exits with code 1 and shows the traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: a file, column, mapping or pack the user can correct. Exit code 2."""

    exit_code = 2


class PackError(UserError):
    """An industry pack (or template / storyline) file is invalid. Lists every problem found."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="", key="", message=problems)]
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) in pack files:" if len(self.problems) > 1 else ""
        lines = [str(p) for p in self.problems]
        super().__init__("\n".join([head, *lines]).strip() if head else lines[0])


class InputError(UserError):
    """Client data (or a mapping) cannot be used as given."""


class DataError(InputError, ValueError):
    """Numbers a statistic cannot use as given: negative or infinite weights, scores off their scale, too few
    usable rows, a target without variance. Also a ``ValueError``, so code that caught the statistics
    modules' ``ValueError`` keeps working."""


class Problem:
    """One validation problem: which file, which key (dotted path) and, when known, which line."""

    __slots__ = ("file", "key", "line", "message")

    def __init__(self, file: str, key: str, message: str, line: int | None = None):
        self.file, self.key, self.message, self.line = str(file), key, message, line

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        key = f" [{self.key}]" if self.key else ""
        return f"{where}{key}: {self.message}" if where or key else self.message

    def __repr__(self) -> str:
        return f"Problem({self!s})"
