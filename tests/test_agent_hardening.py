"""Defects found in review, each pinned: event arguments scrubbed, one turn at a time per
session, and a stored history repaired into one every provider accepts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.events import ToolCallStart, TurnEnd
from hermes_mcp.agent.transcript import INTERRUPTED, repair
from hermes_mcp.llm.types import Message, ToolCall
from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import agent_rig, call, calls, new_home, new_workspace, run_turn
from tests.keys import KEY_A


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(tmp_path: Path, fake: FakeProvider) -> tuple[object, Path]:
    home = new_home(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    return home, new_workspace(tmp_path)


def test_repair_drops_a_result_that_answers_no_pending_call() -> None:
    c1 = ToolCall("c1", "terminal", {"command": "sleep 5"})
    stored = [
        Message.user("A"),
        Message.assistant("", (c1,)),
        Message.tool("c1", "terminal", INTERRUPTED),  # B's turn gave it a placeholder
        Message.user("B"),
        Message.assistant("B answer"),
        Message.tool("c1", "terminal", "slow"),  # A's late result
        Message.assistant("A answer"),
    ]
    repaired = repair(stored)
    assert [(m.role, m.tool_call_id) for m in repaired] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("user", None),
        ("assistant", None),
        ("assistant", None),
    ]


@pytest.mark.anyio
async def test_tool_call_start_scrubs_key_shaped_arguments(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = configure(tmp_path, fake)
    key = "sk-proj-ARGUMENTabcdefghijklmnopqrst"
    fake.script(KEY_A, calls(call("read_file", "r1", path=f"{key}.txt")), reply("No such file."))
    async with agent_rig(home, ws) as rig:  # type: ignore[arg-type]
        events, end = await run_turn(rig.agent, "read it")
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert key not in str(start.to_json()) and "[REDACTED]" in start.arguments["path"]
    assert end.stop_reason == "end_turn"
    # The tool itself got the argument as the model wrote it (the file name it looked for).
    tool_result = fake.requests[-1].body["messages"][-1]["content"]  # type: ignore[index]
    assert "not found" in tool_result.lower() or "no such" in tool_result.lower()


@pytest.mark.anyio
async def test_two_turns_on_one_session_run_one_after_the_other(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = configure(tmp_path, fake)
    fake.script(KEY_A, hold("a", then=reply("A answer")), reply("B answer"))
    async with agent_rig(home, ws) as rig:  # type: ignore[arg-type]
        first_events: list[object] = []
        async with rig.agent.turn("A") as first:
            session = first.session_id
            ends: list[TurnEnd] = []

            async def second() -> None:
                ends.append((await run_turn(rig.agent, "B", session_id=session))[1])

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(second)
                    await fake.wait_in_flight(1)
                    assert len(fake.requests) == 1  # B waits for A instead of interleaving
                    fake.release("a")
                    first_events = [e async for e in first]
        history = await rig.store.history(session)
    assert next(e for e in first_events if isinstance(e, TurnEnd)).text == "A answer"
    assert ends[0].text == "B answer"
    assert [(m.role, m.content) for m in history] == [
        ("user", "A"),
        ("assistant", "A answer"),
        ("user", "B"),
        ("assistant", "B answer"),
    ]
