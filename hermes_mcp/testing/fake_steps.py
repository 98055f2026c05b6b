"""Scripted steps for the fake LLM provider, independent of any wire format.

A step says *what* the fake answers (a reply, a stream, a failure of some kind, a delay);
each dialect renderer (``fake_openai``, ``fake_anthropic``, ``fake_gemini``) says *how*
that looks on its wire. Steps are immutable and can be reused in several queues.

Vocabulary shared by every dialect:

* ``finish_reason``: ``"stop"``, ``"tool_calls"``, ``"length"`` (dialects map them to their
  own names, e.g. Anthropic's ``end_turn`` / ``tool_use`` / ``max_tokens``); anything else
  passes through unchanged.
* failure ``kind``: ``rate_limited``, ``daily_quota``, ``payment_required``, ``unauthorized``,
  ``permission_denied``, ``server_error``, ``context_overflow``, ``model_not_found``, or
  ``custom`` (explicit body).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

DEFAULT_TEXT = "Hello from the fake provider"

_call_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported with a reply."""

    input_tokens: int = 10
    output_tokens: int = 5
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call in a reply; ``arguments`` is the JSON text sent on the wire."""

    name: str
    arguments: str = "{}"
    id: str = field(default_factory=lambda: f"call_fake{next(_call_ids):06d}")


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful completion: text and/or tool calls, usage, finish reason.

    ``thinking``: reasoning text sent before the answer by dialects that have it (Anthropic
    ``thinking`` blocks, Gemini ``thought`` parts); the OpenAI dialect ignores it.
    """

    text: str = DEFAULT_TEXT
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: str = "stop"
    model: str | None = None  # None: echo the requested model
    thinking: str | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    """A reply that, on a streaming request, is sent with these stream options.

    On a non-streaming request the ``reply`` is sent as a normal response.
    ``break_after`` / ``error_event_after`` count content chunks (text pieces and tool-call
    deltas), before the finish, usage and done events.
    """

    reply: Reply = Reply()
    chunks: tuple[str, ...] | None = None
    chunk_size: int | None = None
    delay_s: float = 0.0
    stall_before_first_s: float = 0.0
    break_after: int | None = None
    error_event_after: int | None = None
    comments: bool = False
    crlf: bool = False


@dataclass(frozen=True, slots=True)
class Failure:
    """A non-2xx answer. ``body`` None: the dialect renders the real body for ``kind``."""

    kind: str
    status: int
    retry_after: float | None = None
    body: Mapping[str, Any] | str | None = None
    headers: Mapping[str, str] | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Slow:
    """Wait ``seconds`` (cancellable by a client disconnect), then serve ``then``.

    ``then`` None: the key's default step.
    """

    seconds: float
    then: Step | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Wait until the test calls ``FakeProvider.release(gate)``, then serve ``then``."""

    gate: str = "default"
    then: Step | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A 200 JSON response whose body is not JSON. ``body`` None: the dialect's default."""

    body: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorIn200:
    """A 200 response whose JSON body is an error object (OpenRouter does this)."""

    message: str = "Provider returned error"
    code: int | str = 502
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Raw:
    """A body written chunk by chunk without ``Content-Length``: ``prefix``, then ``chunk``
    ``repeat`` times (None: until the client goes away) ``delay_s`` apart, then
    ``suffix``. For hostile providers: a drip, a body that never ends, a huge error page."""

    status: int = 200
    chunk: str = " "
    repeat: int | None = None
    delay_s: float = 0.0
    prefix: str = ""
    suffix: str = ""
    content_type: str = "application/json"


Step: TypeAlias = Reply | Stream | Failure | Slow | Hold | Malformed | ErrorIn200 | Raw

UsageLike: TypeAlias = Usage | tuple[int, int] | tuple[int, int, int] | Sequence[int]
ToolCallLike: TypeAlias = ToolCall | Mapping[str, Any] | tuple[str, Any]


def _usage(usage: UsageLike) -> Usage:
    if isinstance(usage, Usage):
        return usage
    values = list(usage)
    if len(values) not in (2, 3):
        raise ValueError(f"usage must be (input, output[, cached]), got {usage!r}")
    return Usage(*(int(v) for v in values))


def _arguments(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))


def _tool_call(call: ToolCallLike) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, tuple):
        name, arguments = call
        return ToolCall(name=str(name), arguments=_arguments(arguments))
    if "name" not in call:
        raise ValueError(f"a tool call needs a name: {call!r}")
    args = _arguments(call.get("arguments", {}))
    if call.get("id") is not None:
        return ToolCall(name=str(call["name"]), arguments=args, id=str(call["id"]))
    return ToolCall(name=str(call["name"]), arguments=args)


def reply(
    text: str | None = None,
    tool_calls: Iterable[ToolCallLike] = (),
    usage: UsageLike = (10, 5, 0),
    finish_reason: str | None = None,
    model: str | None = None,
    thinking: str | None = None,
) -> Reply:
    """A normal 200 reply.

    ``text`` None: the default text, or "" when there are tool calls. Tool calls are
    ``ToolCall``s, ``{"name", "arguments" (dict or JSON text), "id"?}`` or ``(name, args)``.
    ``finish_reason`` None: ``"tool_calls"`` when there are tool calls, else ``"stop"``.
    ``thinking``: reasoning text (Anthropic and Gemini only).
    """
    calls = tuple(_tool_call(c) for c in tool_calls)
    if text is None:
        text = "" if calls else DEFAULT_TEXT
    if finish_reason is None:
        finish_reason = "tool_calls" if calls else "stop"
    return Reply(text, calls, _usage(usage), finish_reason, model, thinking)


def stream(
    text: str | None = None,
    tool_calls: Iterable[ToolCallLike] = (),
    usage: UsageLike = (10, 5, 0),
    finish_reason: str | None = None,
    model: str | None = None,
    *,
    chunks: Sequence[str] | None = None,
    chunk_size: int | None = None,
    delay_s: float = 0.0,
    stall_before_first_s: float = 0.0,
    break_after: int | None = None,
    error_event_after: int | None = None,
    comments: bool = False,
    crlf: bool = False,
    thinking: str | None = None,
) -> Stream:
    """A reply with explicit streaming behaviour; see ``Stream``.

    ``chunks``: the exact text pieces (``text`` defaults to their concatenation).
    Otherwise text is split per word, or every ``chunk_size`` characters (thinking text too).
    """
    if chunks is not None and text is None:
        text = "".join(chunks)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    return Stream(
        reply(text, tool_calls, usage, finish_reason, model, thinking),
        tuple(chunks) if chunks is not None else None,
        chunk_size,
        delay_s,
        stall_before_first_s,
        break_after,
        error_event_after,
        comments,
        crlf,
    )


def rate_limited(retry_after: float | None = None) -> Failure:
    """429 per-minute rate limit (``Retry-After`` only when given)."""
    return Failure("rate_limited", 429, retry_after)


def daily_quota(retry_after: float | None = 86400) -> Failure:
    """429 quota exhausted (OpenAI's ``insufficient_quota``)."""
    return Failure("daily_quota", 429, retry_after)


def payment_required() -> Failure:
    """402 out of credits (OpenRouter)."""
    return Failure("payment_required", 402)


def unauthorized() -> Failure:
    """401 invalid API key (the body echoes only the key's last 4 characters)."""
    return Failure("unauthorized", 401)


def permission_denied() -> Failure:
    """403 the credential may not use this model or API (suspended, leaked, blocked, IAM)."""
    return Failure("permission_denied", 403)


def server_error(status: int = 500, retry_after: float | None = None) -> Failure:
    """A 5xx (500, 502, 503, 504, 529 have realistic bodies; others a generic one)."""
    if not 500 <= status <= 599:
        raise ValueError(f"server_error status must be 5xx, got {status}")
    return Failure("server_error", status, retry_after)


def context_overflow() -> Failure:
    """400 context length exceeded."""
    return Failure("context_overflow", 400)


def model_not_found() -> Failure:
    """404 unknown model."""
    return Failure("model_not_found", 404)


def fail(
    status: int,
    body: Mapping[str, Any] | str,
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
) -> Failure:
    """Any status with an explicit body (dict: JSON; str: sent as is, text/plain by default)."""
    return Failure("custom", status, None, body, dict(headers) if headers else None, content_type)


def slow(seconds: float, then: Step | None = None) -> Slow:
    """Wait ``seconds`` then serve ``then`` (default: the key's default step)."""
    return Slow(seconds, then)


def hold(gate: str = "default", then: Step | None = None) -> Hold:
    """Block until ``FakeProvider.release(gate)``, then serve ``then``."""
    return Hold(gate, then)


def malformed(body: str | None = None) -> Malformed:
    """200 ``application/json`` whose body is not JSON."""
    return Malformed(body)


def error_in_200(
    message: str = "Provider returned error",
    code: int | str = 502,
    metadata: Mapping[str, Any] | None = None,
) -> ErrorIn200:
    """200 whose JSON body is ``{"error": {...}}``."""
    return ErrorIn200(message, code, metadata)


def raw_body(
    status: int = 200,
    chunk: str = " ",
    repeat: int | None = None,
    delay_s: float = 0.0,
    prefix: str = "",
    suffix: str = "",
    content_type: str = "application/json",
) -> Raw:
    """A body sent in chunks (see ``Raw``): ``raw_body(chunk="x", delay_s=1)`` drips one
    byte a second forever; ``raw_body(500, "x" * 65536, repeat=1600)`` is a 100 MB error."""
    return Raw(status, chunk, repeat, delay_s, prefix, suffix, content_type)


_FROM_DICT: dict[str, Callable[..., Step]] = {
    "raw_body": raw_body,
    "reply": reply,
    "stream": stream,
    "rate_limited": rate_limited,
    "daily_quota": daily_quota,
    "payment_required": payment_required,
    "unauthorized": unauthorized,
    "permission_denied": permission_denied,
    "server_error": server_error,
    "context_overflow": context_overflow,
    "model_not_found": model_not_found,
    "fail": fail,
    "slow": slow,
    "hold": hold,
    "malformed": malformed,
    "error_in_200": error_in_200,
}


def step_from_dict(data: Mapping[str, Any]) -> Step:
    """Build a step from JSON: ``{"kind": "<helper name>", **helper keyword arguments}``.

    ``slow`` / ``hold`` take a nested step object as ``then``.
    """
    if not isinstance(data, Mapping) or "kind" not in data:
        raise ValueError(f'a step must be an object with a "kind": {data!r}')
    kwargs = {k: v for k, v in data.items() if k != "kind"}
    kind = data["kind"]
    factory = _FROM_DICT.get(kind)
    if factory is None:
        raise ValueError(f"unknown step kind {kind!r}; known: {', '.join(sorted(_FROM_DICT))}")
    if isinstance(kwargs.get("then"), Mapping):
        kwargs["then"] = step_from_dict(kwargs["then"])
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad arguments for step {kind!r}: {exc}") from exc


def script_from_json(data: Any) -> tuple[dict[str | None, list[Step]], dict[str | None, Step]]:
    """Parse a script file's JSON: ``{key: [step, ...] | step}``.

    A list is that key's queue; a single step object is that key's default. Key ``"*"``
    is the fallback for keys without their own queue/default.
    """
    if not isinstance(data, Mapping):
        raise ValueError("a script must be a JSON object mapping keys to steps")
    queues: dict[str | None, list[Step]] = {}
    defaults: dict[str | None, Step] = {}
    for key, value in data.items():
        if isinstance(value, list):
            queues[str(key)] = [step_from_dict(item) for item in value]
        else:
            defaults[str(key)] = step_from_dict(value)
    return queues, defaults
