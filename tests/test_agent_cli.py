"""``hermes-mcp run`` as a real process in a workspace: the answer only on stdout,
``--json`` events ending with ``turn_end``, ``--session``, exit codes, and Ctrl-C."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from hermes_mcp.testing import FakeProvider, fail, hold, reply
from tests.agent_helpers import call, calls, new_home, new_workspace, squeeze
from tests.keys import KEY_A, seen
from tests.routing import HERMES, Home, Ran


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    config = home.path / "config.toml"
    config.write_text(config.read_text() + '[policy]\nmode = "auto"\n')


async def run(home: Home, cwd: Path, *args: str) -> Ran:
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES, "run", *args], env=home.process_env, cwd=cwd, check=False
        )
    return Ran(proc.returncode, seen(proc.stdout.decode()), seen(proc.stderr.decode()))


def lines(ran: Ran) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ran.stdout.splitlines()]


@pytest.mark.anyio
async def test_run_prints_only_the_answer_and_works_in_the_current_directory(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, calls(call("read_file", "r1", path="hello.py")), reply("It greets."))
    ran = await run(home, ws, "what", "does", "hello.py", "do?")
    assert (ran.code, ran.stdout) == (0, "It greets.\n")
    body = fake.requests[1].body
    assert body is not None and 'print("hello")' in body["messages"][-1]["content"]


@pytest.mark.anyio
async def test_run_json_prints_events_and_a_session_continues(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        calls(call("terminal", "t1", command="echo hi")),
        reply("said hi"),
        reply("still here"),
    )
    first = await run(home, ws, "--json", "say hi")
    events = lines(first)
    assert first.code == 0
    assert squeeze([e["type"] for e in events]) == [
        "usage",
        "tool_call_start",
        "tool_call_progress",
        "tool_call_end",
        "text_delta",
        "usage",
        "turn_end",
    ]
    end = events[-1]
    assert (end["stop_reason"], end["text"]) == ("end_turn", "said hi")

    second = await run(home, ws, "--session", end["session_id"], "--json", "again")
    assert second.code == 0 and lines(second)[-1]["session_id"] == end["session_id"]
    body = fake.requests[-1].body
    assert body is not None
    roles = [m["role"] for m in body["messages"] if m["role"] != "system"]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]


@pytest.mark.anyio
async def test_run_exit_codes(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, fail(400, {"error": {"message": "unsupported parameter"}}))

    failed = await run(home, ws, "hi")  # the request failed: exit 1, nothing on stdout
    assert (failed.code, failed.stdout) == (1, "")
    assert "primary" in failed.stderr and "bad_request" in failed.stderr

    failed_json = await run(home, ws, "--json", "hi")
    end = lines(failed_json)[-1]
    assert failed_json.code == 1
    assert (end["type"], end["stop_reason"]) == ("turn_end", "error")
    assert end["error"]["class"] == "bad_request" and end["text"] == ""

    unknown = await run(home, ws, "--json", "--session", "nope", "hi")
    assert unknown.code == 2 and lines(unknown)[-1]["stop_reason"] == "error"
    assert "nope" in lines(unknown)[-1]["message"]


@pytest.mark.anyio
async def test_ctrl_c_cancels_the_turn_cleanly(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, hold("never"))
    with anyio.fail_after(30):
        async with await anyio.open_process(
            [HERMES, "run", "--json", "wait"], env=home.process_env, cwd=ws
        ) as proc:
            await fake.wait_in_flight(1, timeout=15)
            proc.send_signal(signal.SIGINT)
            assert proc.stdout is not None
            out = "".join([chunk async for chunk in TextReceiveStream(proc.stdout)])
            code = await proc.wait()
    seen(out)
    end = json.loads(out.splitlines()[-1])
    assert (code, end["type"], end["stop_reason"]) == (130, "turn_end", "cancelled")
    await fake.wait_disconnect()
