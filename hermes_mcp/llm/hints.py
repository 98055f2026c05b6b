"""Reset hints: how long a provider says to wait, from its headers and its error text.

Sources (DESIGN.md invariant 4): ``Retry-After`` (seconds or HTTP date),
``retry-after-ms``, ``x-ratelimit-reset-*`` durations (``1s``, ``6m0s``, ``20ms``),
``anthropic-ratelimit-*-reset`` timestamps, and body text (``retryDelay: "59s"``,
"try again in 20s", "resets in 4 hr"). Every function returns seconds from ``now``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds?|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b",
    re.IGNORECASE,
)
_GO_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$")
_TEXT_HINT = re.compile(
    r"(?:try again|retry|resets?|reset|available again)\s+(?:in|after)\s+"
    r"((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)",
    re.IGNORECASE,
)


def _unit(word: str) -> float:
    word = word.lower()
    if word in _UNIT_SECONDS:
        return _UNIT_SECONDS[word]
    if word.startswith("milli"):
        return 0.001
    return _UNIT_SECONDS.get(word.rstrip("s"), 0.0)


def parse_duration(text: str) -> float | None:
    """``"59s"``, ``"1.5s"``, ``"6m0s"``, ``"20ms"``, ``"4 hr"``, ``"2 hours 30 minutes"``."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    if _GO_DURATION.match(text):
        total = 0.0
        for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text):
            total += float(number) * _UNIT_SECONDS[unit]
        return total
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    return sum(float(number) * _unit(unit) for number, unit in parts)


def _retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _timestamp(value: str, now: float) -> float | None:
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def _exhausted_or_all(
    headers: Mapping[str, str],
    pattern: re.Pattern[str],
    remaining: str,
    parse: Callable[[str], float | None],
) -> float | None:
    """Of the reset headers matching ``pattern`` (group 1 = the limit's name), the one
    whose ``remaining`` header (formatted with that name) is 0; else the longest."""
    resets: dict[str, float] = {}
    for name, value in headers.items():
        match = pattern.fullmatch(name)
        if match:
            parsed = parse(value)
            if parsed is not None:
                resets[match.group(1)] = parsed
    if not resets:
        return None
    exhausted = [
        seconds
        for limit, seconds in resets.items()
        if headers.get(remaining.format(limit), "").strip() == "0"
    ]
    return max(exhausted) if exhausted else max(resets.values())


_OPENAI_RESET = re.compile(r"x-ratelimit-reset-([a-z-]+)")
_ANTHROPIC_RESET = re.compile(r"anthropic-ratelimit-([a-z-]+)-reset")


def from_headers(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait per the response headers (lower-cased names), or ``None``."""
    found = _from_headers(headers, now)
    return found if found is not None and math.isfinite(found) else None


def _from_headers(headers: Mapping[str, str], now: float) -> float | None:
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    if "retry-after" in headers:
        parsed = _retry_after(headers["retry-after"], now)
        if parsed is not None:
            return parsed
    if "x-ratelimit-reset" in headers:  # OpenRouter: the reset as epoch milliseconds
        reset = _epoch_or_seconds(headers["x-ratelimit-reset"], now)
        if reset is not None:
            return reset
    found = _exhausted_or_all(headers, _OPENAI_RESET, "x-ratelimit-remaining-{}", parse_duration)
    if found is not None:
        return found
    return _exhausted_or_all(
        headers,
        _ANTHROPIC_RESET,
        "anthropic-ratelimit-{}-remaining",
        lambda v: _timestamp(v, now),
    )


_RESET_TEXT = re.compile(
    r"resets?\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)", re.IGNORECASE
)


def _epoch_or_seconds(value: str, now: float) -> float | None:
    """A number that is epoch milliseconds, epoch seconds, or seconds from now."""
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number > 1e11:
        return max(0.0, number / 1000 - now)
    if number > 1e9:
        return max(0.0, number - now)
    return max(0.0, number)


def reset_from_text(text: str) -> float | None:
    """When a quota resets, as stated in an error message ("resets in 4 hr")."""
    match = _RESET_TEXT.search(text)
    return parse_duration(match.group(1)) if match else None


def from_text(text: str) -> float | None:
    """A wait stated in an error message: "try again in 20s", "resets in 4 hr"."""
    match = _TEXT_HINT.search(text)
    if not match:
        return None
    return parse_duration(match.group(1))
