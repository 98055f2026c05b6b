"""The OpenAI Responses API wire (``wire = "responses"``), from fixtures written field for
field from OpenAI's reference: function calls and their outputs as items, encrypted
reasoning items sent back unchanged (``store: false``), usage with cached and reasoning
tokens, summaries shown as thinking, and the chat wire's failure classes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hermes_mcp.errors import FailureClass as F
from hermes_mcp.errors import ProviderError
from hermes_mcp.llm.types import ChatRequest, Message, ThinkingDelta, ToolCallDelta, ToolDef
from hermes_mcp.llm.wires.anthropic import AnthropicWire
from hermes_mcp.llm.wires.openai import OpenAIWire
from hermes_mcp.llm.wires.responses import ResponsesWire
from tests.test_wire_replay import decode, fixture, sse

WEATHER = ToolDef(
    "get_weather",
    "Get current temperature for a given location.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)
WIRE = ResponsesWire()


def test_request_shape() -> None:
    request = ChatRequest(
        (Message.system("Be brief."), Message.user("Weather in Paris?")),
        tools=(WEATHER,),
        max_tokens=500,
        reasoning="medium",
        cache_key="session-1",
    )
    body = WIRE.body(request, "gpt-5")
    assert WIRE.url("https://api.openai.com/v1", "gpt-5") == "https://api.openai.com/v1/responses"
    assert body == {
        "model": "gpt-5",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]}
        ],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": WEATHER.description,
                "parameters": WEATHER.parameters,
                "strict": False,
            }
        ],
        "max_output_tokens": 500,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "session-1",
    }
    assert WIRE.stream_body(request, "gpt-5")["stream"] is True
    # doctor --probe asks for 1 token; the API refuses fewer than 16.
    probe = ChatRequest((Message.user("ok?"),), max_tokens=1)
    assert WIRE.body(probe, "gpt-5")["max_output_tokens"] == 16


def test_function_call_and_reasoning_round_trip() -> None:
    raw = fixture("responses_reasoning_function_call.json")
    completion = WIRE.parse(raw)
    (call,) = completion.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "call_12345xyz",
        "get_weather",
        {"location": "Paris, France"},
    )
    assert completion.finish_reason == "tool_calls"
    assert completion.thinking.startswith("**Choosing the tool**")
    usage = completion.usage
    assert (usage.input_tokens, usage.cached_tokens, usage.output_tokens) == (2300, 2048, 148)
    assert usage.reasoning_tokens == 128
    history = (
        Message.system("Be brief."),
        Message.user("Weather in Paris?"),
        completion.message(),
        Message.tool(call.id, call.name, "18C"),
    )
    body = WIRE.body(ChatRequest(history, tools=(WEATHER,)), "gpt-5")
    # The reasoning item (encrypted) and the call go back unchanged (but for the ids of
    # items nothing stored), then the output.
    assert body["input"][1:] == [
        *({k: v for k, v in item.items() if k != "id"} for item in raw["output"]),
        {"type": "function_call_output", "call_id": "call_12345xyz", "output": "18C"},
    ]
    # Another wire gets the call and its result, never the encrypted reasoning.
    for other in (OpenAIWire(), AnthropicWire()):
        sent = json.dumps(other.body(ChatRequest(history), "m"))
        assert "gAAAAAB" not in sent and "Paris, France" in sent


def test_stream_shows_summaries_as_thinking_and_assembles_the_answer() -> None:
    deltas, completion = decode(WIRE.stream_decoder(), sse("responses_text_stream.sse"))
    assert [d.text for d in deltas if isinstance(d, ThinkingDelta)] == [
        "Checking the weather tool."
    ]
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert calls[0].id == "call_1" and calls[0].name == "get_weather"
    assert "".join(d.arguments for d in calls) == '{"location":"Paris"}'
    assert completion.text == "Let me check."
    assert completion.tool_calls[0].arguments == {"location": "Paris"}
    assert completion.usage.cached_tokens == 1280
    assert completion.replay is not None
    assert [i["type"] for i in completion.replay.items] == ["reasoning", "message", "function_call"]
    assert completion.replay.items[0]["encrypted_content"] == "gAAAAABoRXN0cmVhbWVk"


def test_a_failed_stream_is_classified() -> None:
    with pytest.raises(ProviderError) as failed:
        decode(WIRE.stream_decoder(), sse("responses_failed_stream.sse"))
    assert failed.value.failure_class is F.SERVER_ERROR


def test_an_error_event_is_classified() -> None:
    decoder = WIRE.stream_decoder()
    event = {
        "type": "error",
        "code": "rate_limit_exceeded",
        "message": "Rate limit reached for gpt-5 on tokens per min (TPM). Please try again in 2s.",
        "param": None,
        "sequence_number": 1,
    }
    with pytest.raises(ProviderError) as failed:
        decoder.feed("error", json.dumps(event), 0.0)
    assert failed.value.failure_class is F.RATE_LIMIT


def _error(message: str, kind: str, code: Any) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            429,
            _error("Rate limit reached for gpt-5 ...", "requests", "rate_limit_exceeded"),
            F.RATE_LIMIT,
        ),
        (
            429,
            _error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
            F.QUOTA_EXHAUSTED,
        ),
        (
            500,
            _error("The server had an error while processing your request.", "server_error", None),
            F.SERVER_ERROR,
        ),
        (
            400,
            _error(
                "Your input exceeds the context window of this model.",
                "invalid_request_error",
                "context_length_exceeded",
            ),
            F.CONTEXT_OVERFLOW,
        ),
        (
            401,
            _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
            F.AUTH,
        ),
    ],
)
def test_failure_classes_as_on_the_chat_wire(status: int, body: bytes, cls: F) -> None:
    assert WIRE.classify(status, {}, body, 0.0).failure_class is cls


def test_incomplete_answer_is_length() -> None:
    completion = WIRE.parse(
        {
            "id": "resp_i",
            "object": "response",
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "model": "gpt-5",
            "output": [
                {
                    "id": "msg_1",
                    "type": "message",
                    "status": "incomplete",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Half", "annotations": []}],
                }
            ],
            "usage": {"input_tokens": 5, "output_tokens": 16, "total_tokens": 21},
        }
    )
    assert (completion.text, completion.finish_reason) == ("Half", "length")
