"""OpenAI chat-completions rendering for the fake provider (``POST /v1/chat/completions``)."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping
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
    masked_key,
    retry_after_header,
)
from .fake_steps import ErrorIn200, Failure, Malformed, Reply, Stream, ToolCall, Usage

DEFAULT_MODEL = "fake-model"

RATE_LIMIT_BODY: dict[str, Any] = {
    "error": {
        "message": "Rate limit reached for gpt-4o in organization org-xyz on requests per min"
        " (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
QUOTA_BODY: dict[str, Any] = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing"
        " details. For more information on this error, read the docs:"
        " https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
PAYMENT_BODY: dict[str, Any] = {
    "error": {
        "code": 402,
        "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
    }
}
CONTEXT_BODY: dict[str, Any] = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your"
        " messages resulted in 130000 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
SERVER_ERROR_BODIES: dict[int, dict[str, Any]] = {
    500: {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    },
    502: {
        "error": {"message": "Bad gateway.", "type": "cf_bad_gateway", "param": None, "code": 502}
    },
    503: {
        "error": {
            "message": "The engine is currently overloaded, please try again later",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    },
    504: {
        "error": {
            "message": "Gateway timeout.",
            "type": "cf_gateway_timeout",
            "param": None,
            "code": 504,
        }
    },
    529: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
}
STREAM_ERROR: dict[str, Any] = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
MALFORMED_BODY = '{"id": "chatcmpl-1", "choices": ['

_WORDS = re.compile(r"\s*\S+|\s+$")
_TOOL_ARGS_PIECE = 16


def _unauthorized_body(key: str | None) -> dict[str, Any]:
    if not key:
        return {
            "error": {
                "message": "You didn't provide an API key. You need to provide your API key in"
                " an Authorization header using Bearer auth (i.e. Authorization: Bearer"
                " YOUR_KEY), or as the password field (with blank username) if you're"
                " accessing the API from your browser and are prompted for a username and"
                " password. You can obtain an API key from"
                " https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
    return {
        "error": {
            "message": f"Incorrect API key provided: {masked_key(key)}. You can find your API"
            " key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def _model_not_found_body(model: str | None) -> dict[str, Any]:
    return {
        "error": {
            "message": f"The model `{model or 'gpt-5x'}` does not exist or you do not have"
            " access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def text_pieces(text: str, chunks: tuple[str, ...] | None, chunk_size: int | None) -> list[str]:
    """How a streamed text is split: explicit chunks, fixed size, or per word."""
    if chunks is not None:
        return list(chunks)
    if not text:
        return []
    if chunk_size:
        return [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
    return _WORDS.findall(text)


class OpenAIDialect(Dialect):
    """OpenAI chat completions (also what OpenRouter, Groq, DeepSeek and most others speak)."""

    name = "openai"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def parse(self, body: Mapping[str, Any] | None, match_info: Mapping[str, str]) -> Parsed:
        if body is None:
            return Parsed(None, False)
        model = body.get("model")
        options = body.get("stream_options")
        include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        return Parsed(
            model if isinstance(model, str) else None, body.get("stream") is True, include_usage
        )

    def _head(self, reply: Reply, req: RequestInfo) -> tuple[str, int, str]:
        return (
            f"chatcmpl-fake{next(self._ids)}",
            int(time.time()),
            reply.model or req.model or DEFAULT_MODEL,
        )

    def render_reply(self, reply: Reply, req: RequestInfo) -> Rendered:
        rid, created, model = self._head(reply, req)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text if reply.text or not reply.tool_calls else None,
            "refusal": None,
        }
        if reply.tool_calls:
            message["tool_calls"] = [_tool_call(c) for c in reply.tool_calls]
        body = {
            "id": rid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": _usage(reply.usage),
            "system_fingerprint": "fp_fake",
        }
        return json_rendered(200, body)

    def render_failure(self, failure: Failure, req: RequestInfo) -> Rendered:
        headers = retry_after_header(failure.retry_after)
        kind = failure.kind
        body: dict[str, Any]
        if kind == "rate_limited":
            body = RATE_LIMIT_BODY
        elif kind == "daily_quota":
            body = QUOTA_BODY
        elif kind == "payment_required":
            body = PAYMENT_BODY
        elif kind == "unauthorized":
            body = _unauthorized_body(req.key)
        elif kind == "context_overflow":
            body = CONTEXT_BODY
        elif kind == "model_not_found":
            body = _model_not_found_body(req.model)
        else:
            body = SERVER_ERROR_BODIES.get(failure.status) or {
                "error": {
                    "message": f"The server returned status {failure.status}.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        return json_rendered(failure.status, body, headers)

    def render_error_in_200(self, step: ErrorIn200, req: RequestInfo) -> Rendered:
        error: dict[str, Any] = {"code": step.code, "message": step.message}
        if step.metadata is not None:
            error["metadata"] = dict(step.metadata)
        return json_rendered(200, {"error": error})

    def malformed_body(self, step: Malformed) -> str:
        return MALFORMED_BODY

    def stream_plan(self, step: Stream, req: RequestInfo) -> StreamPlan:
        reply = step.reply
        rid, created, model = self._head(reply, req)
        prefix = dumps(
            {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
        )[:-1]
        suffix = ',"usage":null}' if req.include_usage else "}"

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> SSEEvent:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return SSEEvent(f'{prefix},"choices":[{dumps(choice)}]{suffix}')

        plan = StreamPlan()
        first = True
        for piece in text_pieces(reply.text, step.chunks, step.chunk_size):
            delta: dict[str, Any] = {"content": piece}
            if first:
                delta = {"role": "assistant", "content": piece, "refusal": None}
                first = False
            plan.content.append(chunk(delta))
        size = step.chunk_size or _TOOL_ARGS_PIECE
        for index, call in enumerate(reply.tool_calls):
            opening: dict[str, Any] = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            delta = {"tool_calls": [opening]}
            if first:
                delta = {"role": "assistant", "content": None, "tool_calls": [opening]}
                first = False
            plan.content.append(chunk(delta))
            args = call.arguments
            for i in range(0, len(args), size):
                fragment = {"index": index, "function": {"arguments": args[i : i + size]}}
                plan.content.append(chunk({"tool_calls": [fragment]}))
        if first:
            plan.content.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        plan.tail.append(chunk({}, reply.finish_reason))
        if req.include_usage:
            plan.tail.append(
                SSEEvent(f'{prefix},"choices":[],"usage":{dumps(_usage(reply.usage))}}}')
            )
        plan.done = SSEEvent("[DONE]")
        return plan

    def stream_error_event(self, req: RequestInfo) -> SSEEvent:
        return SSEEvent(dumps(STREAM_ERROR))
