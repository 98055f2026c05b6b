"""The scripted in-process model (``hermes_mcp.testing.scripted``) drives a real runtime:
answers, thoughts, tool calls, a failed walk with its attempts, a fallback announced."""

from __future__ import annotations

import io
import json
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.delegation import delegate
from hermes_mcp.agent.events import (
    ChildUpdate,
    Event,
    ModelSwitch,
    TextDelta,
    ToolCallEnd,
    UsageUpdate,
)
from hermes_mcp.config import Settings
from hermes_mcp.log import configure_logging
from hermes_mcp.runtime import open_runtime
from hermes_mcp.testing.scripted import Call, Fail, Hop, Say, ScriptedModel, by_round
from tests.agent_helpers import new_home, new_workspace
from tests.routing import Home
from tools.delegation import DelegatedTask


def settings(home: Home) -> Settings:
    home.write({"scripted": {"url": "http://127.0.0.1:9", "keys": ["none"]}}, "scripted:model")
    return home.settings()


@pytest.mark.anyio
async def test_a_scripted_turn_runs_tools_and_streams_thoughts(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    model = ScriptedModel(
        [
            Say(
                "reading",
                thought="look first",
                calls=(Call("read_file", {"path": "hello.py"}, "r1"),),
                hops=(Hop("scripted:model", "rate_limit", "fallback", to="backup:big"),),
                route="backup:big",
            ),
            Say("it prints hello", chunks=3),
        ],
        fallbacks=["backup:big"],
    )
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    async with open_runtime(settings(home), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(30):
            end = await session.run("what does it print?", keep)
        await session.close()
    assert end.stop_reason == "end_turn" and end.text == "it prints hello"
    assert events[0] == ModelSwitch("scripted:model", "backup:big", "rate_limit", "fallback")
    assert [e.type for e in events][1:3] == ["thought_delta", "text_delta"]
    read = next(e for e in events if isinstance(e, ToolCallEnd))
    assert read.status == "completed" and 'print("hello")' in read.output
    usage = [e for e in events if isinstance(e, UsageUpdate)]
    assert usage[-1].session_usage is not None and usage[-1].session_usage.input_tokens == 20
    assert usage[0].context_window == 128_000
    assert len(model.requests) == 2


@pytest.mark.anyio
async def test_a_scripted_failed_walk_reports_every_attempt(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    hops = (
        Hop("scripted:model", "rate_limit", "fallback", to="backup:big"),
        Hop("backup:big", "server_error", "surface"),
    )
    model = ScriptedModel(script=by_round([Fail(hops, "nothing answered")]))
    async with open_runtime(settings(home), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(30):
            end = await session.run("hi")
        await session.close()
    assert end.stop_reason == "error" and end.message == "nothing answered"
    assert end.error is not None
    assert [a["action"] for a in end.error["attempts"]] == ["fallback", "surface"]


@pytest.mark.anyio
async def test_every_log_line_of_a_turn_carries_its_session_id(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    model = ScriptedModel(
        [Say(calls=(Call("terminal", {"command": "echo hi"}, "t1"),)), Say("done")]
    )
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        async with open_runtime(settings(home), model=model) as rt:
            session = await rt.create_session(ws, mode="auto")
            with anyio.fail_after(30):
                await session.run("run it")
            await session.close()
    finally:
        configure_logging()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    during = [line for line in lines if line["event"] in ("tool_policy", "turn.end")]
    assert {line["event"] for line in during} == {"tool_policy", "turn.end"}
    assert {line.get("session_id") for line in during} == {session.id}


@pytest.mark.anyio
async def test_delegate_outside_a_turn_streams_child_text_on_request_and_counts_usage(
    tmp_path: Path,
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    model = ScriptedModel(script=by_round([Say("child says hi", chunks=3)]))
    async with open_runtime(settings(home), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        seen: dict[bool, list[Event]] = {True: [], False: []}
        for deltas in (False, True):

            async def keep(event: Event, deltas: bool = deltas) -> None:
                seen[deltas].append(event)

            with anyio.fail_after(30):
                out = await delegate(
                    session, [DelegatedTask(goal="say hi")], emit=keep, deltas=deltas
                )
            assert out.results[0].status == "completed"
            assert out.results[0].summary == "child says hi"
        totals = session.totals.usage
        await session.close()

    def texts(events: list[Event]) -> str:
        return "".join(
            e.event.text
            for e in events
            if isinstance(e, ChildUpdate) and isinstance(e.event, TextDelta)
        )

    assert texts(seen[False]) == "" and texts(seen[True]) == "child says hi"
    assert totals.input_tokens == 20 and totals.output_tokens == 10
