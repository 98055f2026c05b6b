"""What directory walks skip: ``.git``, well-known dependency and cache directories, and
the patterns of every ``.gitignore`` met on the way down.

The ``.gitignore`` support covers what projects actually write: comments, blank lines,
``!`` negation (the last matching pattern wins), a trailing ``/`` for directories only,
a leading or inner ``/`` anchoring the pattern to the file's directory, and ``*``,
``?``, ``**``. A pattern without ``/`` matches a name at any depth below its file.
Patterns compile to linear-time RE2 regexes, so a hostile line such as
``*a*a*a*a*a*a*a*a*b`` costs no more than a plain one. Global excludes and
``.git/info/exclude`` are not read, nor a ``.gitignore`` that is not
a regular file (a FIFO would block the walk).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hermes_mcp.errors import ToolError
from tools.linear_re import LinearPattern
from tools.paths import glob_regex, read_regular

GITIGNORE_MAX_BYTES = 1024 * 1024  # read no more of a .gitignore than this
ALWAYS_SKIP = frozenset({".git", ".hg", ".svn"})
SKIP_DIRS = frozenset(
    {
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        ".cache",
        ".idea",
        ".gradle",
        "target",
        ".next",
        ".terraform",
    }
)


@dataclass(frozen=True)
class _Pattern:
    base: str  # directory of the .gitignore, relative to the walk root ("" at the root)
    regex: LinearPattern
    anchored: bool
    dir_only: bool
    negate: bool


class IgnoreRules:
    """An immutable stack of patterns; :meth:`child` adds a directory's ``.gitignore``."""

    def __init__(self, patterns: tuple[_Pattern, ...] = ()) -> None:
        self.patterns = patterns

    def child(self, directory: Path, rel: str) -> IgnoreRules:
        try:  # a regular file only: a FIFO named .gitignore must not block the walk
            data = read_regular(directory / ".gitignore", GITIGNORE_MAX_BYTES)
        except (OSError, ToolError):
            return self
        lines = data.decode("utf-8", errors="replace").splitlines()
        added: list[_Pattern] = []
        for line in lines:
            text = line.rstrip()
            if not text or text.startswith("#"):
                continue
            negate = text.startswith("!")
            text = text[1:] if negate else text
            dir_only = text.endswith("/")
            text = text.rstrip("/")
            anchored = "/" in text
            text = text.lstrip("/")
            if text:
                added.append(_Pattern(rel, glob_regex(text), anchored, dir_only, negate))
        return IgnoreRules(self.patterns + tuple(added)) if added else self

    def ignored(self, rel: str, name: str, is_dir: bool) -> bool:
        result = False
        for pattern in self.patterns:
            if pattern.dir_only and not is_dir:
                continue
            if pattern.anchored:
                if pattern.base:
                    if not rel.startswith(pattern.base + "/"):
                        continue
                    subject = rel[len(pattern.base) + 1 :]
                else:
                    subject = rel
            else:
                subject = name
            if pattern.regex.fullmatch(subject):
                result = not pattern.negate
        return result


def skip_dir(name: str) -> bool:
    return name in ALWAYS_SKIP or name in SKIP_DIRS
