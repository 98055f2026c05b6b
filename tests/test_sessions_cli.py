"""``hermes-mcp sessions`` (the entry point, tests/routing.py; ``run`` as a real process): search finds a phrase from an older
session's tool result (so does the ``session_search`` tool inside ``run``), and list,
show, rename, fork and delete print their shapes with DESIGN.md's exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A, seen
from tests.routing import HERMES, Home, Ran, hermes


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")


async def run(home: Home, cwd: Path, prompt: str) -> dict[str, Any]:
    """``run --json PROMPT`` in ``cwd``; its turn_end."""
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES, "run", "--json", prompt], env=home.process_env, cwd=cwd, check=False
        )
    assert proc.returncode == 0, proc.stderr.decode()
    end: dict[str, Any] = json.loads(seen(proc.stdout.decode()).splitlines()[-1])
    return end


@pytest.mark.anyio
async def test_search_finds_a_phrase_from_an_older_sessions_tool_result(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    (ws / "notes.txt").write_text("field log: the quartz heron nests beside the old mill\n")
    fake.script(
        KEY_A,
        calls(call("read_file", "r1", path="notes.txt")),
        reply("Noted."),
        reply("Something else entirely."),
        calls(call("session_search", "s1", query='"quartz heron"')),
        reply("Found it."),
    )
    older = await run(home, ws, "read my notes")  # the phrase is only in read_file's result
    await run(home, ws, "an unrelated question")

    found = await hermes(home, "sessions", "search", "--json", "quartz heron")
    assert found.code == 0
    [hit] = found.json()["hits"]
    assert (hit["session_id"], hit["role"], hit["name"]) == (
        older["session_id"],
        "tool",
        "read_file",
    )
    assert "**quartz** **heron** nests" in hit["snippet"]
    assert hit["title"] == "read my notes" and hit["turn"] == 1

    text = await hermes(home, "sessions", "search", '"quartz heron"')
    assert text.stdout.splitlines() == [
        f"{older['session_id']}  read my notes",
        f"  turn 1, read_file result: {hit['snippet'].replace('** **', ' ')}",
    ]

    # The tool, from a third session (whose own call to it is left out of the results).
    asking = await run(home, ws, "where did I see that heron?")
    body = fake.requests[-1].body
    assert body is not None
    result = next(m for m in body["messages"] if m.get("tool_call_id") == "s1")["content"]
    assert result.startswith("1 match(es) in past sessions")
    assert older["session_id"] in result and "**quartz heron** nests" in result
    assert asking["session_id"] not in result


async def sessions(home: Home, *commands: tuple[str, ...]) -> list[Ran]:
    """``hermes-mcp sessions ARGS...`` for each command, all at once; results in order."""
    results: dict[int, Ran] = {}

    async def one(n: int, args: tuple[str, ...]) -> None:
        results[n] = await hermes(home, "sessions", *args)

    async with anyio.create_task_group() as tg:
        for n, args in enumerate(commands):
            tg.start_soon(one, n, args)
    return [results[n] for n in range(len(commands))]


@pytest.mark.anyio
async def test_sessions_commands_print_their_shapes_and_exit_codes(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, calls(call("read_file", "r1", path="hello.py")), reply("It greets."))
    sid = (await run(home, ws, "what does hello.py do?"))["session_id"]

    listed, shown = await sessions(home, ("--json",), ("show", sid))
    assert listed.code == 0 and listed.json()["next_cursor"] is None  # bare `sessions` lists
    [info] = listed.json()["sessions"]
    assert {k: info[k] for k in ("id", "title", "cwd", "turns", "messages", "model")} == {
        "id": sid,
        "title": "what does hello.py do?",
        "cwd": str(ws),
        "turns": 1,
        "messages": 4,
        "model": "primary:gpt-4o",
    }
    assert info["usage"] == {"input_tokens": 20, "output_tokens": 10}
    assert info["updated_at"].endswith("Z")
    lines = shown.stdout.splitlines()
    assert shown.code == 0 and lines[0] == f"session {sid}  what does hello.py do?"
    assert "-- turn 1 (end_turn, primary:gpt-4o) --" in lines
    assert '  -> read_file {"path": "hello.py"} [r1]' in lines
    assert lines[-1] == "assistant: It greets."

    [forked] = await sessions(home, ("fork", sid))
    fork_id = forked.stdout.strip()  # `fork` prints the new id alone
    renamed, deleted = await sessions(
        home, ("rename", fork_id, "Greeting", "study", "--json"), ("delete", sid, "--json")
    )
    assert (renamed.json()["session"]["id"], renamed.json()["session"]["title"]) == (
        fork_id,
        "Greeting study",
    )
    assert (deleted.code, deleted.json()) == (0, {"deleted": sid, "sessions": 1})

    *gone, gone_json, here, in_ws, listed_text = await sessions(
        home,
        ("show", sid),
        ("delete", sid),
        ("rename", sid, "x"),
        ("fork", sid),
        ("show", sid, "--json"),
        ("list", "--here", "--json"),  # hermes() runs outside the workspace
        ("list", "--cwd", str(ws), "--json"),
        ("list",),
    )
    for ran in gone:
        assert (ran.code, ran.stdout) == (2, "")
        assert f"no stored session '{sid}'" in ran.stderr
    assert gone_json.code == 2
    assert gone_json.json() == {
        "error": {"class": "usage", "message": f"no stored session '{sid}'"}
    }
    assert here.json()["sessions"] == []
    [fork] = in_ws.json()["sessions"]
    assert (fork["id"], fork["title"], fork["messages"]) == (fork_id, "Greeting study", 4)
    assert fork["forked_from"] is None  # its origin was deleted
    assert listed_text.stdout.split()[0] == fork_id and "Greeting study" in listed_text.stdout


@pytest.mark.anyio
async def test_a_key_pasted_into_a_prompt_never_leaves_through_sessions(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    pasted = "sk-proj-PASTEDabcdefghijklmnopqrstuv"
    fake.script(KEY_A, reply("Please rotate that key."))
    sid = (await run(home, ws, f"is {pasted} a valid key? hermes-pasted-marker"))["session_id"]
    outputs = await sessions(
        home,
        ("show", sid, "--json"),
        ("show", sid),
        ("search", "--json", "hermes-pasted-marker"),
        ("list", "--json"),
    )
    for ran in outputs:
        assert ran.code == 0
        assert pasted not in ran.stdout + ran.stderr
    assert "[REDACTED]" in outputs[0].stdout


@pytest.mark.anyio
async def test_an_argument_that_is_not_utf8_is_a_usage_error(tmp_path: Path) -> None:
    home = new_home(tmp_path)
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES.encode(), b"sessions", b"--json", b"search", b"caf\xe9"],
            env=home.process_env,
            check=False,
        )
    assert proc.returncode == 2
    error = json.loads(seen(proc.stdout.decode()))["error"]
    assert error["class"] == "usage" and "UTF-8" in error["message"]
