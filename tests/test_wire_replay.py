"""What the wires send and read on a *successful* call, from fixtures written field for
field from each provider's API reference (tests/fixtures/wires/): Gemini thought
signatures, Anthropic thinking and server-tool blocks, OpenAI-compatible reasoning, and
the reasoning models' token parameter. A replay goes back unchanged to the wire that
wrote it, and never to another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hermes_mcp.llm.types import (
    ChatRequest,
    Completion,
    Delta,
    Message,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
)
from hermes_mcp.llm.wires.anthropic import AnthropicWire
from hermes_mcp.llm.wires.gemini import GeminiWire
from hermes_mcp.llm.wires.openai import OpenAIWire
from hermes_mcp.llm.wires.vertex import VertexWire

FIXTURES = Path(__file__).parent / "fixtures" / "wires"


def fixture(name: str) -> Any:
    data = json.loads((FIXTURES / name).read_text())
    data.pop("_source", None)
    return data


def sse(name: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE fixture, as the stream reader hands them over."""
    events: list[tuple[str, str]] = []
    for block in (FIXTURES / name).read_text().split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((event, "\n".join(data)))
    return events


def decode(decoder: Any, events: list[tuple[str, str]]) -> tuple[list[Delta], Completion]:
    deltas: list[Delta] = []
    for event, data in events:
        deltas.extend(decoder.feed(event, data, 0.0))
    return deltas, decoder.completion()


def uncached(value: Any) -> Any:
    """``value`` without Anthropic's cache breakpoints (markers, not content)."""
    if isinstance(value, list):
        return [uncached(v) for v in value]
    if isinstance(value, dict):
        return {k: uncached(v) for k, v in value.items() if k != "cache_control"}
    return value


def then_results(completion: Completion, *results: str) -> ChatRequest:
    """The next request of the loop: the answer, then one result per call."""
    calls = completion.tool_calls
    return ChatRequest(
        (
            Message.system("Be brief."),
            Message.user("Weather in Paris and London?"),
            completion.message(),
            *(Message.tool(c.id, c.name, r) for c, r in zip(calls, results, strict=True)),
        )
    )


# -- Gemini: thought signatures -----------------------------------------------------


@pytest.mark.parametrize("wire", [GeminiWire(), VertexWire("p", "l")], ids=["gemini", "vertex"])
def test_gemini_signature_goes_back_after_a_parallel_function_call(wire: GeminiWire) -> None:
    raw = fixture("gemini_parallel_calls.json")
    completion = wire.parse(raw)
    assert [c.arguments for c in completion.tool_calls] == [
        {"location": "Paris"},
        {"location": "London"},
    ]
    body = wire.body(then_results(completion, "18C", "12C"), "gemini-3-pro-preview")
    model_turn, results = body["contents"][1], body["contents"][2]
    assert model_turn == {"role": "model", "parts": raw["candidates"][0]["content"]["parts"]}
    assert [p["functionResponse"]["name"] for p in results["parts"]] == [
        "get_current_temperature",
        "get_current_temperature",
    ]


def test_gemini_streamed_signatures_stay_on_their_parts_in_order() -> None:
    wire = GeminiWire()
    events = [
        ("message", line)
        for line in (FIXTURES / "gemini_text_signature_stream.jsonl").read_text().splitlines()
    ]
    deltas, completion = decode(wire.stream_decoder(), events)
    assert [d.text for d in deltas if isinstance(d, ThinkingDelta)] == [
        "**Checking the weather**\nThe user wants a comparison."
    ]
    assert completion.text == "Paris is warmer than London."
    assert completion.thinking.startswith("**Checking the weather**")
    body = wire.body(then_results(completion), "gemini-3-pro-preview")
    assert body["contents"][1]["parts"] == [
        {"text": "**Checking the weather**\nThe user wants a comparison.", "thought": True},
        {"text": "Paris is warmer than London."},
        {"text": "", "thoughtSignature": "EuYCCuMCAdHtim9Xq0a3cC2vJ1zqYtQ3mZp8bXw="},
    ]


def test_gemini_thoughts_in_a_non_streamed_answer_are_kept() -> None:
    completion = GeminiWire().parse(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "Compare the tenths.", "thought": True},
                            {"text": "9.8", "thoughtSignature": "Q2lVQlZLaGM3cFVZ"},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    assert (completion.text, completion.thinking) == ("9.8", "Compare the tenths.")


@pytest.mark.parametrize("other", [OpenAIWire(), AnthropicWire(), VertexWire("p", "l")])
def test_a_gemini_replay_never_goes_to_another_wire(other: Any) -> None:
    completion = GeminiWire().parse(fixture("gemini_parallel_calls.json"))
    sent = json.dumps(other.body(then_results(completion, "18C", "12C"), "m"))
    assert "CiUBVKhc7pUYxXa0T5mNVtXcUjOr5fQxk2b1a8Yp7p5X0b1aQJ1w" not in sent
    assert "London" in sent  # the calls themselves still go, in that wire's format


# -- Anthropic: thinking, redacted thinking, server tools ------------------------------


def test_anthropic_thinking_and_redacted_thinking_round_trip_with_tool_use() -> None:
    wire = AnthropicWire()
    raw = fixture("anthropic_thinking_tool_use.json")
    completion = wire.parse(raw)
    assert completion.thinking == "The user wants the weather in Paris; I should call get_weather."
    assert completion.text == "Let me check the weather."
    (call,) = completion.tool_calls
    body = wire.body(then_results(completion, "18C"), "claude-sonnet-4-5")
    assistant, results = body["messages"][1], body["messages"][2]
    # The signed block, the redacted one, the text and the tool_use, unchanged, in order.
    assert uncached(assistant) == {"role": "assistant", "content": raw["content"]}
    assert uncached(results["content"]) == [
        {"type": "tool_result", "tool_use_id": call.id, "content": "18C"}
    ]


def test_anthropic_streamed_thinking_is_shown_and_sent_back_signed() -> None:
    wire = AnthropicWire()
    deltas, completion = decode(wire.stream_decoder(), sse("anthropic_thinking_stream.sse"))
    assert [d.text for d in deltas if isinstance(d, ThinkingDelta)] == [
        "I need the weather, ",
        "so I call get_weather.",
    ]
    body = wire.body(then_results(completion, "18C"), "claude-sonnet-4-5")
    assert uncached(body["messages"][1]["content"]) == [
        {
            "type": "thinking",
            "thinking": "I need the weather, so I call get_weather.",
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
        },
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"},
        {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_weather",
            "input": {"location": "Paris"},
        },
    ]


def test_anthropic_final_usage_keeps_an_explicit_zero() -> None:
    """message_start estimated 40 cache-write tokens; message_delta's final count is 0."""
    _, completion = decode(AnthropicWire().stream_decoder(), sse("anthropic_thinking_stream.sse"))
    usage = completion.usage
    assert (usage.input_tokens, usage.cached_tokens, usage.output_tokens) == (812, 340, 143)
    assert usage.cache_write_tokens == 0


def test_anthropic_stream_with_server_tool_blocks_completes() -> None:
    wire = AnthropicWire()
    deltas, completion = decode(wire.stream_decoder(), sse("anthropic_web_search_stream.sse"))
    assert not any(isinstance(d, ToolCallDelta) for d in deltas)  # not ours to run
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == (
        "I'll check the current weather in New York City for you.It is 22°C and sunny."
    )
    assert completion.tool_calls == ()
    assert completion.finish_reason == "stop"
    assert completion.usage.input_tokens == 10682
    assert completion.replay is not None
    kinds = [b["type"] for b in completion.replay.items]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "mcp_tool_use", "text"]
    assert completion.replay.items[1]["input"] == {"query": "weather NYC today"}


# -- OpenAI chat: reasoning models and reasoning deltas --------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-5", "max_completion_tokens"),
        ("gpt-5-mini-2025-08-07", "max_completion_tokens"),
        ("o3", "max_completion_tokens"),
        ("o4-mini", "max_completion_tokens"),
        ("openai/gpt-5.1", "max_completion_tokens"),  # through a gateway
        ("gpt-4.1", "max_tokens"),
        ("llama-3.3-70b", "max_tokens"),
        ("olmo-2", "max_tokens"),
    ],
)
def test_reasoning_models_get_max_completion_tokens(model: str, key: str) -> None:
    request = ChatRequest((Message.user("hi"),), max_tokens=16, temperature=0.2)
    body = OpenAIWire().body(request, model)
    assert body[key] == 16
    assert {"max_tokens", "max_completion_tokens"} - {key} - set(body) == {
        "max_tokens",
        "max_completion_tokens",
    } - {key}
    # Reasoning models refuse any temperature but the default.
    assert ("temperature" in body) is (key == "max_tokens")


@pytest.mark.parametrize(
    "name", ["openai_reasoning_content_stream.sse", "openrouter_reasoning_stream.sse"]
)
def test_openai_compatible_reasoning_is_shown_as_thinking(name: str) -> None:
    deltas, completion = decode(OpenAIWire().stream_decoder(), sse(name))
    thoughts = [d.text for d in deltas if isinstance(d, ThinkingDelta)]
    assert thoughts and completion.thinking == "".join(thoughts)
    assert completion.text in ("9.8 is larger.", "Done.")
    assert completion.thinking not in completion.text


def test_openai_non_streamed_reasoning_content_is_kept() -> None:
    completion = OpenAIWire().parse(
        {
            "id": "5e9c",
            "object": "chat.completion",
            "created": 1738000000,
            "model": "deepseek-reasoner",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "9.8 is larger.",
                        "reasoning_content": "Compare the tenths.",
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 18, "completion_tokens": 40, "total_tokens": 58},
        }
    )
    assert (completion.text, completion.thinking) == ("9.8 is larger.", "Compare the tenths.")
