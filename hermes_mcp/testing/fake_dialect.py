"""The interface between the fake provider's server and one wire format (dialect).

The server owns HTTP, scripting, timing and bookkeeping; a dialect only turns a request
into ``RequestInfo`` and steps into bytes. To add a format (Anthropic ``/v1/messages``,
Gemini ``:generateContent``), write a ``Dialect`` subclass in its own ``fake_*.py`` module
and register its routes in ``fake_server.ROUTES``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .fake_steps import ErrorIn200, Failure, Malformed, Reply, Stream

JSON_CT = "application/json"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a dialect parsed from one request."""

    key: str | None
    path: str
    model: str | None
    stream: bool
    include_usage: bool = False
    body: Mapping[str, Any] | None = None


class Parsed(NamedTuple):
    """What a dialect reads from a request's URL and JSON body."""

    model: str | None
    stream: bool
    include_usage: bool = False


class Rendered(NamedTuple):
    """A complete (non-streaming) HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class SSEEvent(NamedTuple):
    """One server-sent event; ``data`` must be a single line."""

    data: str
    event: str | None = None


@dataclass(slots=True)
class StreamPlan:
    """The events of a streamed reply, in order.

    ``content`` events are counted by ``break_after`` / ``error_event_after``; ``tail`` holds
    the finish and usage events; ``done`` the terminator (OpenAI's ``[DONE]``), if any.
    """

    content: list[SSEEvent] = field(default_factory=list)
    tail: list[SSEEvent] = field(default_factory=list)
    done: SSEEvent | None = None


def dumps(obj: Any) -> str:
    """Compact JSON, as providers send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def json_rendered(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> Rendered:
    all_headers = {"Content-Type": JSON_CT}
    if headers:
        all_headers.update(headers)
    return Rendered(status, all_headers, dumps(obj).encode())


def retry_after_header(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` as integer seconds when whole, else the decimal value."""
    if seconds is None:
        return {}
    value = str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))
    return {"Retry-After": value}


def masked_key(key: str | None) -> str:
    """A credential as providers echo it: never in full, only its last 4 characters."""
    if not key:
        return ""
    tail = key[-4:] if len(key) >= 8 else ""
    prefix = "sk-" if key.startswith("sk-") else ""
    return f"{prefix}...{tail}"


class Dialect(ABC):
    """One provider wire format."""

    name: str = "?"

    @abstractmethod
    def parse(self, body: Mapping[str, Any] | None, match_info: Mapping[str, str]) -> Parsed:
        """Model, stream flag and stream options of a request."""

    @abstractmethod
    def render_reply(self, reply: Reply, req: RequestInfo) -> Rendered:
        """A 200 non-streaming reply."""

    @abstractmethod
    def render_failure(self, failure: Failure, req: RequestInfo) -> Rendered:
        """A failure whose ``body`` is None (explicit bodies are sent by the server as is)."""

    @abstractmethod
    def render_error_in_200(self, step: ErrorIn200, req: RequestInfo) -> Rendered:
        """A 200 whose JSON body is an error object."""

    @abstractmethod
    def malformed_body(self, step: Malformed) -> str:
        """The non-JSON text sent by ``malformed()`` without an explicit body."""

    @abstractmethod
    def stream_plan(self, step: Stream, req: RequestInfo) -> StreamPlan:
        """The SSE events for a streamed reply."""

    @abstractmethod
    def stream_error_event(self, req: RequestInfo) -> SSEEvent:
        """The in-stream error event sent by ``error_event_after``."""
