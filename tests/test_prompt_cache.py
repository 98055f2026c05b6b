"""Prompt caching: every request of a session re-sends the whole history, so its prefix
(system prompt, tool order, tool schemas, earlier turns) must stay byte-identical from
one call to the next; OpenAI gets one ``prompt_cache_key`` per session and its delegated
children; Anthropic gets breakpoints on that prefix."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import (
    call,
    calls,
    delegate,
    new_home,
    new_workspace,
    run_turn,
    session_rig,
)
from tests.keys import KEY_A
from tests.test_wire_replay import uncached

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def dumped(value: Any) -> list[str]:
    return [json.dumps(v) for v in value]


async def test_the_prefix_stays_byte_identical_and_one_key_serves_the_session(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"p": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "p:gpt-5")
    fake.script(
        KEY_A,
        calls(call("read_file", "c1", path="hello.py")),
        delegate({"goal": "count the lines of hello.py"}),
        reply("one line"),  # the child
        reply("It prints hello, in one line."),
        reply("Still hello."),
    )
    async with session_rig(home, ws, delegation={"max_depth": 1}) as rig:
        _, first = await run_turn(rig.session, "what does hello.py do?")
        await run_turn(rig.session, "and now?")
    bodies = [r.body for r in fake.requests]
    assert len(bodies) == 5 and all(b is not None for b in bodies)
    parent = [b for i, b in enumerate(bodies) if i != 2]
    keys = {b["prompt_cache_key"] for b in bodies}  # type: ignore[index]
    assert len(keys) == 1 and first.session_id not in next(iter(keys))  # a hash, not the id
    for before, after in itertools.pairwise(parent):
        assert before is not None and after is not None
        assert json.dumps(before["tools"]) == json.dumps(after["tools"])
        sent, next_sent = dumped(before["messages"]), dumped(after["messages"])
        assert next_sent[: len(sent)] == sent  # the earlier request, byte for byte, first
    names = [t["function"]["name"] for t in parent[0]["tools"]]  # type: ignore[index]
    assert names == sorted(names)


async def test_anthropic_breakpoints_sit_on_an_unchanging_prefix(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write(
        {"p": {"url": fake.url, "keys": [KEY_A], "wire": "anthropic"}}, "p:claude-sonnet-4-5"
    )
    fake.script(
        KEY_A,
        calls(call("read_file", "c1", path="hello.py")),
        calls(call("search_files", "c2", pattern="hello")),
        reply("It prints hello."),
    )
    async with session_rig(home, ws) as rig:
        await run_turn(rig.session, "what does hello.py do?")
    bodies = [r.body for r in fake.requests]
    for before, after in itertools.pairwise(bodies):
        assert before is not None and after is not None
        assert json.dumps(before["system"]) == json.dumps(after["system"])
        assert json.dumps(before["tools"]) == json.dumps(after["tools"])
        sent = dumped(uncached(before["messages"]))
        assert dumped(uncached(after["messages"]))[: len(sent)] == sent
        marks = json.dumps(after).count('"cache_control"')
        assert 3 <= marks <= 4  # the API's limit is 4
