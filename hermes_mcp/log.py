"""Structured logging: structlog, configured once, JSON lines on stderr, secrets redacted.

stdout is the protocol wire in ``serve`` and ``hermes-acp`` and the answer in ``ask``; no
log line ever goes there. Every secret the config resolves is registered here with
``register_secret`` and scrubbed from every event, together with strings shaped like
well-known API keys, before the line is rendered.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO, cast

import structlog

REDACTED = "[REDACTED]"

# Shapes of secrets worth scrubbing even when we never resolved them ourselves: provider
# keys, cloud and forge tokens, bearer tokens, and private keys (a PEM block up to its END
# line, or to the end of the text when the END line is cut off).
_KEY_SHAPES = re.compile(
    r"(sk-(?:ant-|proj-|or-v1-)?[A-Za-z0-9_\-]{16,}"
    r"|AIza[0-9A-Za-z_\-]{30,}"
    r"|ya29\.[0-9A-Za-z_\-\.]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|(?i:(?<=bearer )[A-Za-z0-9_\-\.=]{16,})"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z))"
)

Renderer = Literal["auto", "json", "console"]
LEVEL_VARIABLE = "HERMES_MCP_LOG_LEVEL"

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None
_configured = False
_chosen_level: str | None = None  # what the entry point asked for (see configure_logging)
_chosen_renderer: Renderer = "auto"


def register_secret(secret: str) -> None:
    """Remember a resolved secret so that no log line or output can carry it."""
    global _secret_pattern
    if len(secret) < 4:  # too short to scrub without mangling ordinary words
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def contains_secret(text: str) -> bool:
    """Whether ``text`` holds a registered secret (see :func:`register_secret`)."""
    pattern = _secret_pattern
    return pattern is not None and pattern.search(text) is not None


def longest_secret() -> int:
    """The length of the longest registered secret (0 when none)."""
    with _lock:
        return max((len(s) for s in _secrets), default=0)


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where :func:`redact` would replace text: the spans of registered secrets and
    key-shaped strings, in order of their start."""
    spans: list[tuple[int, int]] = []
    pattern = _secret_pattern
    if pattern is not None:
        spans.extend(m.span() for m in pattern.finditer(text))
    if any(marker in text for marker in _SHAPE_MARKERS):
        spans.extend(m.span() for m in _KEY_SHAPES.finditer(text))
    return sorted(spans)


# Every key shape above starts with one of these; scanning for them first is several
# times faster than running the shape regex over large texts (diffs of big files).
_SHAPE_MARKERS = (
    "sk-",
    "AIza",
    "ya29.",
    "earer ",  # Bearer, bearer
    "EARER ",
    "PRIVATE KEY",
    "gh",
    "github_pat_",
    "glpat-",
    "xox",
    "AKIA",
    "ASIA",
)


def redact(text: str) -> str:
    """Text with every registered secret and every key-shaped string replaced."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if any(marker in text for marker in _SHAPE_MARKERS):
        text = _KEY_SHAPES.sub(REDACTED, text)
    return text


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value


def _redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = redact_value(value)
    return event_dict


def log_level(level: str | None = None) -> str:
    """``level`` if given, else ``$HERMES_MCP_LOG_LEVEL``, else ``info``; a name logging
    does not know counts as ``info``."""
    chosen = (level or os.environ.get(LEVEL_VARIABLE) or "info").strip().lower()
    chosen = {"warn": "warning", "fatal": "critical"}.get(chosen, chosen)
    return chosen if chosen.upper() in logging.getLevelNamesMapping() else "info"


class _CurrentStderr(io.TextIOBase):
    """Whatever ``sys.stderr`` is when a line is written (not when logging was set up):
    a test's capture, or a stream swapped in later, gets the lines."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return _isatty(sys.stderr)


def _wants_color(out: TextIO) -> bool:
    """ANSI colours only on a terminal that shows them (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _isatty(out) and os.environ.get("TERM", "dumb") != "dumb"


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream
        return False


def _renderer(kind: Renderer, out: TextIO) -> tuple[Any, Any]:
    """(timestamper, renderer): JSON lines with ISO UTC times, or on a terminal short
    human lines (local time, level, event, key=value) from structlog's ConsoleRenderer."""
    if kind == "json" or (kind == "auto" and not _isatty(out)):
        return structlog.processors.TimeStamper(
            fmt="iso", utc=True
        ), structlog.processors.JSONRenderer()
    console = structlog.dev.ConsoleRenderer(
        pad_event_to=0,
        pad_level=False,
        colors=_wants_color(out),
        sort_keys=False,
        exception_formatter=structlog.dev.plain_traceback,
    )
    return structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False), console


def configure_logging(
    level: str | None = None,
    stream: TextIO | None = None,
    *,
    renderer: Renderer = "auto",
    sticky: bool = False,
) -> None:
    """Configure structlog for the process, to stderr (or ``stream``): JSON lines when
    the stream is not a terminal (or ``renderer="json"``, as ``serve`` asks), short
    human lines on a terminal. ``level``: see :func:`log_level`.

    ``sticky`` (the command line's entry point): this call's level and renderer become
    the defaults of later calls, so an edge that configures logging again under
    ``serve`` keeps ``serve -v``'s debug level and ``serve``'s JSON."""
    global _configured, _chosen_level, _chosen_renderer
    out = stream if stream is not None else cast(TextIO, _CurrentStderr())
    if sticky:
        _chosen_level, _chosen_renderer = level, renderer
        # Python warnings (an SDK's MCPDeprecationWarning) become log records, so that
        # serve's stderr stays JSON lines; only the entry point does this, for the process.
        logging.captureWarnings(True)
    chosen = log_level(level or _chosen_level)
    stamper, render = _renderer(renderer if renderer != "auto" else _chosen_renderer, out)
    processors: Iterable[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        stamper,
        structlog.processors.format_exc_info,  # a traceback is text, redacted like the rest
        _redact_processor,
        render,
    ]
    _bridge_stdlib(out, chosen, stamper, render)
    structlog.configure(
        processors=list(processors),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[chosen.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _configured = True


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the root handler this module installed (replaced on reconfiguration)."""


def _bridge_stdlib(out: TextIO, level: str, stamper: Any, render: Any) -> None:
    """Standard-library logging (the SDKs, aiohttp, asyncio) through the same chain:
    one JSON line per record on the same stream, redacted like our own lines."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            stamper,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_processor,
            render,
        ],
    )
    handler = _StdlibHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries' own chatter below WARNING stays out unless we log at debug.
    root.setLevel(logging.DEBUG if level.lower() == "debug" else logging.WARNING)


def get_logger(name: str) -> Any:
    """A bound structlog logger; configures the default (stderr, info) on first use."""
    if not _configured:
        configure_logging()
    return structlog.get_logger(name)
