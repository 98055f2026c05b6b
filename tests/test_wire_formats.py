"""Anthropic and Gemini wire formats: request building, response parsing, and failure
classes from real provider error bodies (not status codes alone)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hermes_mcp.errors import FailureClass as F
from hermes_mcp.llm.types import ChatRequest, Message, ToolCall, ToolDef
from hermes_mcp.llm.wires.anthropic import AnthropicWire
from hermes_mcp.llm.wires.gemini import GeminiWire, clean_schema, seconds_to_pacific_midnight

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z = 00:00 Pacific standard time
TOOL = ToolDef(
    "read_file",
    "Read a file",
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "title": "ReadFileArgs",
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "title": "Path"},
            "opts": {"$ref": "#/$defs/Opts"},
        },
        "$defs": {
            "Opts": {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}}
        },
        "required": ["path"],
    },
)
CONVERSATION = ChatRequest(
    (
        Message.system("Be brief."),
        Message.user("Read README.md and setup.py"),
        Message.assistant(
            "Reading.",
            (
                ToolCall("call_1", "read_file", {"path": "README.md"}),
                ToolCall("call_2", "read_file", {"path": "setup.py"}),
            ),
        ),
        Message.tool("call_1", "read_file", "# hermes"),
        Message.tool("call_2", "read_file", "from setuptools import setup"),
    ),
    tools=(TOOL,),
)


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


# -- Anthropic -----------------------------------------------------------------------


def test_anthropic_request_shape() -> None:
    wire = AnthropicWire()
    out = wire.body(CONVERSATION, "claude-sonnet-4")
    assert out["system"] == [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
    ]
    assert out["max_tokens"] > 0
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert out["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "read_file",
        "input": {"path": "README.md"},
    }
    # Cache breakpoints on the stable prefix: the last tool, the system prompt, and the
    # last block of each of the last two turns (4, the API's limit).
    marked = [b for m in out["messages"] for b in m["content"] if "cache_control" in b]
    assert [b.get("id") or b.get("tool_use_id") for b in marked] == ["call_2", "call_2"]
    assert out["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    results = out["messages"][2]["content"]
    assert [(r["type"], r["tool_use_id"]) for r in results] == [
        ("tool_result", "call_1"),
        ("tool_result", "call_2"),
    ]
    assert out["tools"][0]["input_schema"] == TOOL.parameters
    assert wire.auth_headers("k") == {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    assert wire.url("https://api.anthropic.com", "m") == "https://api.anthropic.com/v1/messages"


def test_anthropic_response_with_tool_use_and_cache_usage() -> None:
    completion = AnthropicWire().parse(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
            ],
            "stop_reason": "tool_use",
            "usage": {
                "input_tokens": 10,
                "output_tokens": 7,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 5,
            },
        }
    )
    assert completion.text == "Let me look."
    assert completion.tool_calls == (ToolCall("toolu_1", "read_file", {"path": "a"}),)
    assert completion.finish_reason == "tool_calls"
    assert (completion.usage.input_tokens, completion.usage.cached_tokens) == (115, 100)


ANTHROPIC_RATE = {
    "type": "error",
    "error": {
        "type": "rate_limit_error",
        "message": "Number of request tokens has exceeded your per-minute rate limit "
        "(https://docs.anthropic.com/en/api/rate-limits); see the response headers for "
        "current usage. Please reduce the prompt length or the maximum tokens requested, "
        "or try again later.",
    },
}


@pytest.mark.parametrize(
    ("status", "data", "headers", "cls", "retry_after"),
    [
        (429, ANTHROPIC_RATE, {"retry-after": "7"}, F.RATE_LIMIT, 7.0),
        (
            429,
            ANTHROPIC_RATE,
            {
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:42Z",
            },
            F.RATE_LIMIT,
            42.0,
        ),
        (
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "You have reached your daily request limit for this organization.",
                },
            },
            {},
            F.QUOTA_EXHAUSTED,
            None,
        ),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            {},
            F.OVERLOADED,
            None,
        ),
        (
            500,
            {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}},
            {},
            F.SERVER_ERROR,
            None,
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
                },
            },
            {},
            F.BILLING,
            None,
        ),
        (
            401,
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
            {},
            F.AUTH,
            None,
        ),
        (
            403,
            {
                "type": "error",
                "error": {
                    "type": "permission_error",
                    "message": "Your API key does not have permission to use the specified resource.",
                },
            },
            {},
            F.AUTH,
            None,
        ),
        (
            404,
            {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-9"}},
            {},
            F.MODEL_NOT_FOUND,
            None,
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 210000 tokens > 200000 maximum",
                },
            },
            {},
            F.CONTEXT_OVERFLOW,
            None,
        ),
        (
            413,
            {
                "type": "error",
                "error": {
                    "type": "request_too_large",
                    "message": "Request exceeds the maximum allowed number of bytes.",
                },
            },
            {},
            F.CONTEXT_OVERFLOW,
            None,
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "messages: roles must alternate",
                },
            },
            {},
            F.BAD_REQUEST,
            None,
        ),
        (
            200,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            {},
            F.OVERLOADED,
            None,
        ),
    ],
)
def test_anthropic_failures(
    status: int, data: Any, headers: dict[str, str], cls: F, retry_after: float | None
) -> None:
    err = AnthropicWire().classify(status, headers, body(data), NOW)
    assert err.failure_class is cls, err.message
    assert err.retry_after == retry_after


# -- Gemini --------------------------------------------------------------------------


def test_gemini_request_shape_and_key_header() -> None:
    wire = GeminiWire()
    out = wire.body(CONVERSATION, "gemini-2.5-pro")
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in out["contents"]] == ["user", "model", "user"]
    # A turn written elsewhere has no signature: the first call of the step carries the
    # value Google documents for that case (Gemini 3 refuses an unsigned step).
    assert out["contents"][1]["parts"][1] == {
        "functionCall": {"name": "read_file", "args": {"path": "README.md"}},
        "thoughtSignature": "skip_thought_signature_validator",
    }
    assert out["contents"][1]["parts"][2] == {
        "functionCall": {"name": "read_file", "args": {"path": "setup.py"}}
    }
    assert out["contents"][2]["parts"][0] == {
        "functionResponse": {"name": "read_file", "response": {"result": "# hermes"}}
    }
    params = out["tools"][0]["functionDeclarations"][0]["parameters"]
    assert (
        "additionalProperties" not in params and "$schema" not in params and "title" not in params
    )
    assert params["properties"]["opts"] == {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
    }
    assert wire.auth_headers("AIza-secret") == {"x-goog-api-key": "AIza-secret"}
    for url in (wire.url("https://g", "m"), wire.stream_url("https://g", "m")):
        assert "key=" not in url
    assert wire.stream_url("https://g", "gemini-2.5-pro") == (
        "https://g/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    )


def test_gemini_response_with_function_call() -> None:
    completion = GeminiWire().parse(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "thinking...", "thought": True},
                            {"text": "Reading it."},
                            {"functionCall": {"name": "read_file", "args": {"path": "a"}}},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 20,
                "candidatesTokenCount": 4,
                "thoughtsTokenCount": 3,
                "cachedContentTokenCount": 8,
            },
            "modelVersion": "gemini-2.5-pro",
        }
    )
    assert completion.text == "Reading it."
    (call,) = completion.tool_calls
    assert (call.name, call.arguments) == ("read_file", {"path": "a"})
    assert call.id.startswith("call_0_")  # Gemini gives no ids: unique ones are made
    assert completion.finish_reason == "tool_calls"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (20, 7)
    assert completion.usage.reasoning_tokens == 3
    assert completion.usage.cached_tokens == 8


def quota(quota_id: str, delay: str) -> dict[str, Any]:
    return {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details. For more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": quota_id,
                            "quotaDimensions": {"location": "global", "model": "gemini-2.5-pro"},
                            "quotaValue": "50",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
            ],
        }
    }


def status_error(code: int, status: str, message: str, reason: str | None = None) -> dict[str, Any]:
    details = []
    if reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        )
    return {"error": {"code": code, "message": message, "status": status, "details": details}}


def test_gemini_per_day_quota_is_spent_whatever_retry_delay_says() -> None:
    err = GeminiWire().classify(
        429, {}, body(quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "59s")), NOW
    )
    assert err.failure_class is F.QUOTA_EXHAUSTED
    assert err.retry_after == 59.0
    assert err.reset_in == seconds_to_pacific_midnight(NOW) == 24 * 3600


def test_gemini_per_minute_quota_is_a_rate_limit() -> None:
    err = GeminiWire().classify(
        429, {}, body(quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "14s")), NOW
    )
    assert err.failure_class is F.RATE_LIMIT
    assert err.retry_after == 14.0


@pytest.mark.parametrize(
    ("status", "data", "cls"),
    [
        (
            503,
            status_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            F.OVERLOADED,
        ),
        (500, status_error(500, "INTERNAL", "An internal error has occurred."), F.SERVER_ERROR),
        (
            400,
            status_error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                "API_KEY_INVALID",
            ),
            F.AUTH,
        ),
        (
            401,
            status_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
            F.AUTH,
        ),
        (
            403,
            status_error(
                403, "PERMISSION_DENIED", "Permission denied: Consumer has been suspended."
            ),
            F.AUTH,
        ),
        (
            403,
            status_error(
                403,
                "PERMISSION_DENIED",
                "Billing account for project is not active; enable billing.",
            ),
            F.BILLING,
        ),
        (
            404,
            status_error(
                404,
                "NOT_FOUND",
                "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.",
            ),
            F.MODEL_NOT_FOUND,
        ),
        (
            400,
            status_error(
                400,
                "INVALID_ARGUMENT",
                "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            ),
            F.CONTEXT_OVERFLOW,
        ),
        (
            400,
            status_error(
                400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "foo".'
            ),
            F.BAD_REQUEST,
        ),
        (200, status_error(503, "UNAVAILABLE", "The model is overloaded."), F.OVERLOADED),
        (429, [quota("GenerateRequestsPerDayPerProjectPerModel", "30s")], F.QUOTA_EXHAUSTED),
        (
            429,
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "You exceeded your current quota.",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
                    ],
                }
            },
            F.RATE_LIMIT,
        ),
    ],
)
def test_gemini_failures(status: int, data: Any, cls: F) -> None:
    err = GeminiWire().classify(status, {}, body(data), NOW)
    assert err.failure_class is cls, err.message


def test_clean_schema_inlines_refs_and_drops_unsupported_keys() -> None:
    cleaned = clean_schema(TOOL.parameters)
    assert cleaned == {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "opts": {"type": "object", "properties": {"n": {"type": "integer"}}},
        },
        "required": ["path"],
    }


@pytest.mark.parametrize("wire", [AnthropicWire(), GeminiWire()])
def test_empty_messages_are_left_out_and_turns_still_alternate(wire: Any) -> None:
    request = ChatRequest((Message.user("first"), Message.assistant(""), Message.user("second")))
    out = wire.body(request, "m")
    turns = out["messages"] if "messages" in out else out["contents"]
    assert len(turns) == 1 and turns[0]["role"] == "user"
    texts = [b.get("text") for b in turns[0].get("content", turns[0].get("parts", []))]
    assert texts == ["first", "second"]
