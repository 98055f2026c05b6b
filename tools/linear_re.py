"""Regular expressions in linear time (RE2, ``google-re2``) for what the model supplies.

Python's ``re`` backtracks: ``(x+x+)+y`` over a line of ``x`` takes exponential time, and
a glob such as ``*a*a*a*a*a*a*b`` compiled to ``re`` is polynomial of a high degree.
Neither can be stopped from outside once it runs (a thread cannot be cancelled, the
event loop would wait). RE2 guarantees time linear in the text, so the work is removed
rather than raced. The price is RE2's syntax: no backreferences and no lookaround —
such a pattern is refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, cast

import re2


class LinearMatch(Protocol):
    def start(self) -> int: ...
    def end(self) -> int: ...


class LinearPattern(Protocol):
    """The part of the ``re.Pattern`` interface the tools use."""

    def fullmatch(self, text: Any) -> LinearMatch | None: ...
    def search(self, text: Any) -> LinearMatch | None: ...
    def finditer(self, text: Any) -> Iterator[LinearMatch]: ...


class PatternError(ValueError):
    """The pattern is not valid RE2 syntax."""


def _options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # an invalid pattern is an exception, not a stderr line
    options.case_sensitive = case_sensitive
    return options


def compile_pattern(
    pattern: str, *, case_sensitive: bool = True, multiline: bool = False, binary: bool = False
) -> LinearPattern:
    """``pattern`` compiled by RE2 (for ``bytes`` subjects when ``binary``: UTF-8).
    Raises :class:`PatternError` with RE2's reason."""
    text = ("(?m)" if multiline else "") + pattern
    try:
        compiled = re2.compile(text.encode() if binary else text, _options(case_sensitive))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", errors="replace")
        raise PatternError(
            f"{reason} (patterns run on RE2, a linear-time engine: no backreferences or lookaround)"
        ) from None
    return cast(LinearPattern, compiled)
