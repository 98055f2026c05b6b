"""The agent keeps each answer's replay (thinking, thought signatures) in its history:
the next request of a tool loop, and a later turn read back from the store, send it to
the same wire unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import call, new_home, new_workspace, run_turn, session_rig
from tests.keys import KEY_A
from tests.test_wire_replay import uncached


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def model_turns(body: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    assert body is not None
    return [c["parts"] for c in body["contents"] if c["role"] == "model"]


@pytest.mark.anyio
@pytest.mark.parametrize("wire", ["gemini", "anthropic", "responses"])
async def test_thinking_goes_back_with_the_tool_loop_and_the_next_turn(
    tmp_path: Path, fake: FakeProvider, wire: str
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    model = {"gemini": "gemini-3-pro-preview", "anthropic": "claude-sonnet-4-5"}.get(wire, "gpt-5")
    url = fake.openai_base_url if wire == "responses" else fake.url
    home.write({"p": {"url": url, "keys": [KEY_A], "wire": wire}}, f"p:{model}")
    read = call("read_file", "c1", path="hello.py")
    fake.script(
        KEY_A,
        reply(tool_calls=[read], thinking="I should read hello.py."),
        reply("It prints hello."),
        reply("Still hello."),
    )
    async with session_rig(home, ws) as rig:
        await run_turn(rig.session, "what does hello.py do?")
        await run_turn(rig.session, "and now?")
    second, third = fake.requests[1].body, fake.requests[2].body
    assert second is not None and third is not None
    if wire == "gemini":
        # The fake signs the first call of a thinking step, as Gemini 3 does.
        sent = model_turns(second)[0]
        assert [p.get("thought", False) for p in sent] == [True, False]
        assert sent[1]["functionCall"]["name"] == "read_file"
        assert sent[1]["thoughtSignature"] and sent[1]["thoughtSignature"] != (
            "skip_thought_signature_validator"
        )
        assert model_turns(third)[0] == sent  # read back from the store
    elif wire == "responses":
        items = [i for i in second["input"] if i.get("type") in ("reasoning", "function_call")]
        assert [i["type"] for i in items] == ["reasoning", "function_call"]
        assert items[0]["encrypted_content"].startswith("gAAAAA")
        assert second["include"] == ["reasoning.encrypted_content"] and second["store"] is False
        assert [i for i in third["input"] if i.get("type") == "reasoning"] == items[:1]
    else:
        assistant = next(m for m in second["messages"] if m["role"] == "assistant")
        kinds = [b["type"] for b in assistant["content"]]
        assert kinds == ["thinking", "tool_use"]
        assert assistant["content"][0]["signature"]
        later = next(m for m in third["messages"] if m["role"] == "assistant")
        assert uncached(later) == uncached(assistant)
