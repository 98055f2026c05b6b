"""Anthropic Messages rendering for the fake provider (``POST /v1/messages``).

The credential is ``x-api-key`` (or a bearer token); a request without one gets 401
``authentication_error`` and one without an ``anthropic-version`` header 400
``invalid_request_error``, before any scripted step is taken (``fp.rejections``).

How the format-neutral steps look here:

* ``reply``: a ``message`` whose ``content`` is ``thinking`` / ``text`` / ``tool_use`` blocks;
  ``finish_reason`` ``stop`` / ``tool_calls`` / ``length`` → ``stop_reason`` ``end_turn`` /
  ``tool_use`` / ``max_tokens``. ``usage.input_tokens`` is the *uncached* part (input minus
  cached), the cached tokens are ``cache_read_input_tokens``, as Anthropic counts them.
  Tool-call ids ``call_fake...`` (the default ones) become ``toolu_01FAKE...``.
* streaming: ``message_start``, per block ``content_block_start`` (a ``ping`` after the
  first), ``content_block_delta`` (``thinking_delta`` + ``signature_delta``, ``text_delta``,
  ``input_json_delta`` starting with an empty ``partial_json``; a tool without arguments gets
  only that empty one), ``content_block_stop``, then ``message_delta`` (``stop_reason``,
  ``usage.output_tokens``) and ``message_stop``. ``break_after`` / ``error_event_after``
  count the deltas (thinking signatures excepted); the in-stream error is
  ``event: error`` ``overloaded_error``.
* ``rate_limited``: 429 ``rate_limit_error`` (per-minute), ``retry-after`` (14 s when the step
  gives none: Anthropic always sends it) and ``anthropic-ratelimit-requests-*`` headers;
  ``daily_quota``: the same with the daily-limit message (``retry-after`` 86400 by default);
  ``payment_required``: 400 ``invalid_request_error`` (credit balance too low);
  ``unauthorized``: 401 ``authentication_error``; ``permission_denied``: 403
  ``permission_error``; ``server_error``: 529 ``overloaded_error``, 504 ``timeout_error``,
  else ``api_error``; ``context_overflow``: 400 "prompt is too long"; ``model_not_found``:
  404 ``not_found_error``. Every error body carries a ``request_id`` (also the
  ``request-id`` header of every answer).
* ``error_in_200``: a 200 whose body is the error object; ``malformed``: truncated JSON.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .fake_dialect import (
    Dialect,
    Parsed,
    Rendered,
    RequestInfo,
    SSEEvent,
    StreamPlan,
    dumps,
    json_rendered,
    retry_after_header,
)
from .fake_openai import text_pieces
from .fake_steps import ErrorIn200, Failure, Malformed, Reply, Stream, ToolCall, Usage
from .fake_token import TokenStatus

DEFAULT_MODEL = "claude-fake"
DEFAULT_RETRY_S = 14.0
DAILY_RETRY_S = 86400.0
REQUESTS_LIMIT = "50"
_TOOL_ARGS_PIECE = 16

RATE_LIMIT_MESSAGE = (
    "Number of request tokens has exceeded your per-minute rate limit"
    " (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current"
    " usage. Please reduce the prompt length or the maximum tokens requested, or try again"
    " later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss"
    " your options for a rate limit increase."
)
DAILY_LIMIT_MESSAGE = RATE_LIMIT_MESSAGE.replace("per-minute rate limit", "daily rate limit")
CREDIT_MESSAGE = (
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing"
    " to upgrade or purchase credits."
)
PERMISSION_MESSAGE = "Your API key does not have permission to use the specified resource."
CONTEXT_MESSAGE = "prompt is too long: 210000 tokens > 200000 maximum"
STREAM_ERROR: dict[str, Any] = {
    "type": "error",
    "error": {"type": "overloaded_error", "message": "Overloaded"},
}
MALFORMED_BODY = '{"id":"msg_01FAKE","type":"message","role":"assistant","content":['

STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
SERVER_ERRORS: dict[int, tuple[str, str]] = {
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass(slots=True)
class FramedStreamPlan(StreamPlan):
    """A ``StreamPlan`` whose content events may be preceded by uncounted framing events.

    ``framing[i]`` is sent right before ``content[i]`` (Anthropic's ``message_start``,
    ``content_block_start`` / ``stop``, ``ping``): ``break_after`` / ``error_event_after``
    still count content events only.
    """

    framing: dict[int, list[SSEEvent]] = field(default_factory=dict)


def rfc3339(seconds_from_now: float) -> str:
    """A UTC time as Anthropic's rate-limit reset headers give it."""
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds_from_now)
    return at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def tool_use_id(call: ToolCall) -> str:
    """The default ``call_fake...`` ids as Anthropic-style ``toolu_...`` ids."""
    if call.id.startswith("call_fake"):
        return "toolu_01FAKE" + call.id.removeprefix("call_fake")
    return call.id


def tool_input(arguments: str) -> Any:
    """A tool call's arguments as a JSON value (the raw text if it is not JSON)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def thinking_signature(thinking: str) -> str:
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": max(0, usage.input_tokens - usage.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
        "service_tier": "standard",
    }


class AnthropicDialect(Dialect):
    """Anthropic Messages API (``/v1/messages``)."""

    name = "anthropic"

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)

    def parse(self, body: Mapping[str, Any] | None, match_info: Mapping[str, str]) -> Parsed:
        if body is None:
            return Parsed(None, False)
        model = body.get("model")
        return Parsed(model if isinstance(model, str) else None, body.get("stream") is True)

    def precheck(
        self,
        req: RequestInfo,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        token_status: Callable[[str | None], TokenStatus],
    ) -> tuple[str, Rendered] | None:
        """Refuse, before any step, what the real API refuses before looking at the body."""
        if req.key is None:
            return "missing_credential", self._error(
                401, "authentication_error", "x-api-key header is required"
            )
        if not headers.get("anthropic-version"):
            return "missing_version", self._error(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        return None

    # -- bodies ----------------------------------------------------------------------------

    def _request_id(self) -> str:
        return f"req_01FAKE{next(self._request_ids):014d}"

    def _error(
        self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Rendered:
        rid = self._request_id()
        body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": rid}
        return json_rendered(status, body, {"request-id": rid, **(headers or {})})

    def _message(self, reply: Reply, req: RequestInfo) -> dict[str, Any]:
        return {
            "id": f"msg_01FAKE{next(self._ids):014d}",
            "type": "message",
            "role": "assistant",
            "model": reply.model or req.model or DEFAULT_MODEL,
        }

    def render_reply(self, reply: Reply, req: RequestInfo) -> Rendered:
        content: list[dict[str, Any]] = []
        if reply.thinking is not None:
            content.append(
                {
                    "type": "thinking",
                    "thinking": reply.thinking,
                    "signature": thinking_signature(reply.thinking),
                }
            )
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": tool_use_id(call),
                    "name": call.name,
                    "input": tool_input(call.arguments),
                }
            )
        body = {
            **self._message(reply, req),
            "content": content,
            "stop_reason": STOP_REASONS.get(reply.finish_reason, reply.finish_reason),
            "stop_sequence": None,
            "usage": _usage(reply.usage),
        }
        return json_rendered(200, body, {"request-id": self._request_id()})

    def render_failure(self, failure: Failure, req: RequestInfo) -> Rendered:
        kind = failure.kind
        if kind in ("rate_limited", "daily_quota"):
            default = DEFAULT_RETRY_S if kind == "rate_limited" else DAILY_RETRY_S
            retry = failure.retry_after if failure.retry_after is not None else default
            headers = {
                **{k.lower(): v for k, v in retry_after_header(retry).items()},
                "anthropic-ratelimit-requests-limit": REQUESTS_LIMIT,
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": rfc3339(retry),
            }
            message = RATE_LIMIT_MESSAGE if kind == "rate_limited" else DAILY_LIMIT_MESSAGE
            return self._error(failure.status, "rate_limit_error", message, headers)
        if kind == "payment_required":
            return self._error(400, "invalid_request_error", CREDIT_MESSAGE)
        if kind == "unauthorized":
            return self._error(401, "authentication_error", "invalid x-api-key")
        if kind == "permission_denied":
            return self._error(403, "permission_error", PERMISSION_MESSAGE)
        if kind == "context_overflow":
            return self._error(400, "invalid_request_error", CONTEXT_MESSAGE)
        if kind == "model_not_found":
            return self._error(404, "not_found_error", f"model: {req.model or DEFAULT_MODEL}")
        status = failure.status
        headers = {k.lower(): v for k, v in retry_after_header(failure.retry_after).items()}
        if status >= 500:
            error_type, message = SERVER_ERRORS.get(status, SERVER_ERRORS[500])
            return self._error(status, error_type, message, headers)
        return self._error(status, "invalid_request_error", f"status {status}", headers)

    def render_error_in_200(self, step: ErrorIn200, req: RequestInfo) -> Rendered:
        kind = step.code if isinstance(step.code, str) else "api_error"
        return self._error(200, kind, step.message)

    def malformed_body(self, step: Malformed) -> str:
        return MALFORMED_BODY

    # -- streaming -------------------------------------------------------------------------

    def stream_plan(self, step: Stream, req: RequestInfo) -> StreamPlan:
        reply = step.reply
        usage = _usage(reply.usage)
        plan = FramedStreamPlan()
        pending: list[SSEEvent] = []
        index = -1

        def event(name: str, data: dict[str, Any]) -> SSEEvent:
            return SSEEvent(dumps({"type": name, **data}), name)

        def open_block(block: dict[str, Any]) -> None:
            nonlocal index
            if index >= 0:
                pending.append(event("content_block_stop", {"index": index}))
            index += 1
            pending.append(event("content_block_start", {"index": index, "content_block": block}))
            if index == 0:
                pending.append(event("ping", {}))

        def delta(data: dict[str, Any]) -> None:
            if pending:
                plan.framing[len(plan.content)] = pending.copy()
                pending.clear()
            plan.content.append(event("content_block_delta", {"index": index, "delta": data}))

        start_usage = {**usage, "output_tokens": min(1, reply.usage.output_tokens)}
        message = {
            **self._message(reply, req),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        }
        pending.append(event("message_start", {"message": message}))
        if reply.thinking is not None:
            open_block({"type": "thinking", "thinking": "", "signature": ""})
            for piece in text_pieces(reply.thinking, None, step.chunk_size):
                delta({"type": "thinking_delta", "thinking": piece})
            signature = {"type": "signature_delta", "signature": thinking_signature(reply.thinking)}
            pending.append(event("content_block_delta", {"index": index, "delta": signature}))
        pieces = text_pieces(reply.text, step.chunks, step.chunk_size)
        if pieces:
            open_block({"type": "text", "text": ""})
            for piece in pieces:
                delta({"type": "text_delta", "text": piece})
        size = step.chunk_size or _TOOL_ARGS_PIECE
        for call in reply.tool_calls:
            block = {"type": "tool_use", "id": tool_use_id(call), "name": call.name, "input": {}}
            open_block(block)
            delta({"type": "input_json_delta", "partial_json": ""})
            args = "" if call.arguments.strip() == "{}" else call.arguments
            for i in range(0, len(args), size):
                delta({"type": "input_json_delta", "partial_json": args[i : i + size]})
        plan.tail.extend(pending)
        if index >= 0:
            plan.tail.append(event("content_block_stop", {"index": index}))
        stop_reason = STOP_REASONS.get(reply.finish_reason, reply.finish_reason)
        plan.tail.append(
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": reply.usage.output_tokens},
                },
            )
        )
        plan.tail.append(event("message_stop", {}))
        return plan

    def stream_error_event(self, req: RequestInfo) -> SSEEvent:
        return SSEEvent(dumps(STREAM_ERROR), "error")
