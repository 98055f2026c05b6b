"""``[providers.NAME.models."MODEL"] reasoning`` mapped per wire, and sent only to the
model configured with it (absent: nothing is sent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_mcp.llm.types import ChatRequest, Message
from hermes_mcp.llm.wires.anthropic import AnthropicWire
from hermes_mcp.llm.wires.gemini import GeminiWire
from hermes_mcp.llm.wires.openai import OpenAIWire
from hermes_mcp.testing import FakeProvider, rate_limited, reply
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home, router_for

HI = (Message.user("hi"),)


def ask(reasoning: Any, max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest(HI, max_tokens=max_tokens, reasoning=reasoning, temperature=0.5)


@pytest.mark.parametrize(
    ("model", "reasoning", "effort"),
    [
        ("gpt-5", "high", "high"),
        ("gpt-5-mini", "off", "minimal"),
        ("gpt-5.1", "off", "none"),
        ("o3", "off", "low"),
        ("o4-mini", "medium", "medium"),
        ("deepseek-reasoner", "low", "low"),
        ("llama-3.3-70b", "off", None),
        ("gpt-5", None, None),
    ],
)
def test_openai_reasoning_effort(model: str, reasoning: Any, effort: str | None) -> None:
    body = OpenAIWire().body(ask(reasoning), model)
    assert body.get("reasoning_effort") == effort


@pytest.mark.parametrize(
    ("reasoning", "thinking", "max_tokens"),
    [
        ("high", {"type": "enabled", "budget_tokens": 24576}, 1000 + 24576),
        ("low", {"type": "enabled", "budget_tokens": 2048}, 1000 + 2048),
        ("off", {"type": "disabled"}, 1000),
        (None, None, 1000),
    ],
)
def test_anthropic_thinking_budget(reasoning: Any, thinking: Any, max_tokens: int) -> None:
    body = AnthropicWire().body(ask(reasoning, max_tokens=1000), "claude-sonnet-4-5")
    assert body.get("thinking") == thinking
    assert body["max_tokens"] == max_tokens  # the budget never eats the answer's room
    # The API refuses a temperature with thinking on.
    assert ("temperature" in body) is (thinking is None or thinking["type"] == "disabled")


@pytest.mark.parametrize(
    ("model", "reasoning", "config"),
    [
        ("gemini-3-pro-preview", "high", {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-3-pro-preview", "off", {"thinkingLevel": "low", "includeThoughts": True}),
        ("gemini-3-flash", "off", {"thinkingLevel": "minimal", "includeThoughts": True}),
        ("gemini-2.5-flash", "off", {"thinkingBudget": 0, "includeThoughts": False}),
        ("gemini-2.5-pro", "off", {"thinkingBudget": 128, "includeThoughts": True}),
        ("gemini-2.5-pro", "medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("gemini-2.5-pro", None, None),
    ],
)
def test_gemini_thinking_config(model: str, reasoning: Any, config: Any) -> None:
    body = GeminiWire().body(ask(reasoning), model)
    assert body["generationConfig"].get("thinkingConfig") == config


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.mark.anyio
async def test_the_setting_goes_only_to_the_model_configured_with_it(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    home.write(
        {
            "oai": {
                "url": fake.openai_base_url,
                "keys": [KEY_A],
                "models": {"gpt-5": {"reasoning": "high"}},
            },
            "claude": {"url": fake.url, "keys": [FALLBACK_KEY], "wire": "anthropic"},
        },
        "oai:gpt-5",
        ("claude:claude-sonnet-4-5",),
    )
    fake.script(KEY_A, rate_limited(retry_after=30))
    fake.script(FALLBACK_KEY, reply("ok"))
    async with router_for(home) as router:
        result = await router.complete(ChatRequest(HI))
    assert result.provider == "claude"
    first, second = (r.body for r in fake.requests)
    assert first is not None and second is not None
    assert first["reasoning_effort"] == "high"
    assert "thinking" not in second  # not configured there: nothing sent


def test_anthropic_thinking_waits_for_a_loop_begun_elsewhere_to_end() -> None:
    """A tool loop that failed over from another wire has no signed thinking to send
    back; the API refuses thinking then, so that request goes without."""
    from hermes_mcp.llm.types import ToolCall

    call = ToolCall("call_1", "read_file", {"path": "a"})
    loop = (
        Message.user("read a"),
        Message.assistant("", (call,)),  # written by the OpenAI wire: no replay
        Message.tool("call_1", "read_file", "A"),
    )
    wire = AnthropicWire()
    assert "thinking" not in wire.body(ChatRequest(loop, reasoning="high"), "claude-sonnet-4-5")
    after = ChatRequest((*loop, Message.assistant("A."), Message.user("and b?")), reasoning="high")
    assert wire.body(after, "claude-sonnet-4-5")["thinking"]["type"] == "enabled"
