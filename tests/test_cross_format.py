"""A conversation with a pending tool call fails over across formats and completes:
OpenAI → Anthropic → Gemini, with tool-call ids and results mapped and the system prompt
carried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.llm.types import ChatRequest, Message, ToolCall, ToolDef
from hermes_mcp.testing import FakeProvider, rate_limited, reply, server_error
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B
from tests.routing import Home, router_for

TOOLS = (
    ToolDef(
        "read_file",
        "Read a file",
        {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.mark.anyio
async def test_pending_tool_call_fails_over_openai_to_anthropic_to_gemini(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    home.write(
        {
            "oai": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "claude": {"url": fake.url, "keys": [KEY_B], "wire": "anthropic"},
            "gem": {"url": fake.url, "keys": [FALLBACK_KEY], "wire": "gemini"},
        },
        "oai:gpt-4o",
        ("claude:claude-sonnet-4", "gem:gemini-2.5-pro"),
    )
    # Turn 1: OpenAI asks for a tool. Turn 2 (with the tool's result): OpenAI is rate
    # limited, Anthropic overloaded (twice), and Gemini finishes the conversation.
    fake.script(
        KEY_A,
        reply(
            "",
            tool_calls=[
                {"id": "call_abc.123", "name": "read_file", "arguments": {"path": "README.md"}}
            ],
        ),
        rate_limited(retry_after=30),
    )
    fake.script(KEY_B, server_error(529), server_error(529))
    fake.script(FALLBACK_KEY, reply("README.md says: hermes."))
    history = [Message.system("You are Hermes."), Message.user("What does README.md say?")]
    async with router_for(home) as router:
        first = await router.complete(ChatRequest(tuple(history), tools=TOOLS))
        (call,) = first.completion.tool_calls
        assert (first.provider, call.id) == ("oai", "call_abc.123")
        history += [
            Message.assistant("", (call,)),
            Message.tool(call.id, call.name, "# hermes"),
        ]
        final = await router.complete(ChatRequest(tuple(history), tools=TOOLS))
    assert (final.provider, final.text) == ("gem", "README.md says: hermes.")
    assert [(a.provider, a.error_class, a.action) for a in final.attempts] == [
        ("oai", "rate_limit", "fallback"),
        ("claude", "overloaded", "retry"),
        ("claude", "overloaded", "fallback"),
        ("gem", None, "served"),
    ]
    anthropic_body = next(r.body for r in fake.requests if r.key == KEY_B)
    assert anthropic_body is not None
    assert anthropic_body["system"][0]["text"] == "You are Hermes."
    use = anthropic_body["messages"][1]["content"][0]
    result = anthropic_body["messages"][2]["content"][0]
    assert (use["type"], use["id"]) == ("tool_use", "call_abc_123")  # mapped to its charset
    assert (result["type"], result["tool_use_id"]) == ("tool_result", use["id"])
    gemini_body = next(r.body for r in fake.requests if r.key == FALLBACK_KEY)
    assert gemini_body is not None
    assert gemini_body["systemInstruction"]["parts"][0]["text"] == "You are Hermes."
    assert gemini_body["contents"][1]["parts"][0]["functionCall"] == {
        "name": "read_file",
        "args": {"path": "README.md"},
    }
    assert gemini_body["contents"][2]["parts"][0]["functionResponse"]["name"] == "read_file"


@pytest.mark.anyio
async def test_gemini_tool_calls_continue_on_openai(tmp_path: Path, fake: FakeProvider) -> None:
    """Gemini gives no tool-call ids; the ones made for it carry over to other formats."""
    home = Home(tmp_path)
    home.write(
        {
            "gem": {"url": fake.url, "keys": [KEY_A], "wire": "gemini"},
            "oai": {"url": fake.openai_base_url, "keys": [KEY_B]},
        },
        "gem:gemini-2.5-pro",
        ("oai:gpt-4o",),
    )
    fake.script(
        KEY_A,
        reply("", tool_calls=[{"name": "read_file", "arguments": {"path": "a"}}]),
        rate_limited(retry_after=30),
    )
    fake.script(KEY_B, reply("done"))
    async with router_for(home) as router:
        first = await router.complete(ChatRequest((Message.user("go"),), tools=TOOLS))
        (call,) = first.completion.tool_calls
        history = (
            Message.user("go"),
            Message.assistant("", (call,)),
            Message.tool(call.id, call.name, "contents"),
        )
        final = await router.complete(ChatRequest(history, tools=TOOLS))
    assert final.provider == "oai"
    body = fake.requests[-1].body
    assert body is not None
    sent_call = body["messages"][1]["tool_calls"][0]
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": sent_call["id"],
        "content": "contents",
    }
    assert isinstance(call, ToolCall) and sent_call["id"] == call.id
