"""What a new user types by mistake at the command line: an empty prompt or title is a
usage error (exit 2) that sends and stores nothing; output says what happened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.credentials import fingerprint
from hermes_mcp.state import open_database
from hermes_mcp.testing import FakeProvider, rate_limited, reply
from tests.keys import KEY_A
from tests.routing import Home, hermes


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(KEY_A, reply("hello"))
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")


def _sessions(home: Home) -> int:
    db = open_database(home.path / "state.db")
    try:
        return int(db.query("SELECT count(*) FROM sessions")[0][0])
    finally:
        db.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "args",
    [("ask", ""), ("ask", "--json", " "), ("run", ""), ("run", "--json", "   "), ("run", "", " ")],
)
async def test_an_empty_prompt_is_a_usage_error_that_sends_and_stores_nothing(
    tmp_path: Path, fake: FakeProvider, args: tuple[str, ...]
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    ran = await hermes(home, *args)
    assert ran.code == 2, ran.stdout
    if "--json" in args:
        line = json.loads(ran.stdout.splitlines()[-1])
        assert line["error"]["class"] == "usage"
        assert "empty" in line["error"]["message"]
    else:
        assert "the prompt is empty" in ran.stderr
    assert fake.requests == []
    assert not (tmp_path / "state.db").exists() or _sessions(home) == 0


def _add_sessions(home: Home) -> None:
    db = open_database(home.path / "state.db")
    try:
        with db.write() as conn:
            for sid, parent in (("parent1", None), ("child1", "parent1")):
                conn.execute(
                    "INSERT INTO sessions (id, parent_id, cwd, title, created_at, updated_at)"
                    " VALUES (?, ?, '/w', ?, 1.0, 1.0)",
                    (sid, parent, f"title of {sid}"),
                )
    finally:
        db.close()


@pytest.mark.anyio
async def test_sessions_rename_to_an_empty_title_is_a_usage_error(tmp_path: Path) -> None:
    home = Home(tmp_path)
    _add_sessions(home)
    ran = await hermes(home, "sessions", "rename", "parent1", " ")
    assert ran.code == 2
    assert "title is empty" in ran.stderr + ran.stdout
    shown = await hermes(home, "sessions", "show", "parent1", "--json")
    assert shown.json()["session"]["title"] == "title of parent1"


@pytest.mark.anyio
async def test_list_all_marks_child_sessions_and_a_search_without_hits_says_so(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path)
    _add_sessions(home)
    listed = await hermes(home, "sessions", "list", "--all")
    child = next(line for line in listed.stdout.splitlines() if line.startswith("child1"))
    assert "[delegated by parent1]" in child
    parent = next(line for line in listed.stdout.splitlines() if line.startswith("parent1"))
    assert "delegated" not in parent
    searched = await hermes(home, "sessions", "search", "zebra crossing")
    assert searched.code == 0
    assert "no matches" in searched.stdout


@pytest.mark.anyio
async def test_help_describes_the_command_not_its_module(tmp_path: Path) -> None:
    ran = await hermes(Home(tmp_path), "--help")
    assert ran.code == 0
    assert "DESIGN.md" not in ran.stdout
    assert "``" not in ran.stdout


@pytest.mark.anyio
async def test_providers_reset_takes_a_fingerprint_in_any_case(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, rate_limited(3600))
    await hermes(home, "ask", "hi")
    fp = fingerprint(KEY_A)
    ran = await hermes(home, "providers", "--reset", fp.upper())
    assert ran.code == 0, ran.stderr
    assert "1 mark(s) cleared" in ran.stderr


@pytest.mark.anyio
async def test_a_session_continued_from_another_directory_works_in_its_own(
    tmp_path: Path, fake: FakeProvider
) -> None:
    import anyio

    from tests.agent_helpers import call, calls, new_home, new_workspace
    from tests.keys import seen
    from tests.routing import HERMES

    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    configure(home, fake)
    fake.script(
        KEY_A,
        reply("started"),
        calls(call("read_file", "r1", path="hello.py")),
        reply("read it"),
    )

    async def run(cwd: Path, *args: str) -> tuple[int, list[dict[str, object]], str]:
        with anyio.fail_after(30):
            proc = await anyio.run_process(
                [HERMES, "run", "--json", *args], env=home.process_env, cwd=cwd, check=False
            )
        lines = [json.loads(x) for x in seen(proc.stdout.decode()).splitlines()]
        return proc.returncode, lines, seen(proc.stderr.decode())

    code, first, _ = await run(ws, "start")
    assert code == 0
    sid = str(first[-1]["session_id"])
    code, events, err = await run(elsewhere, "--session", sid, "read hello.py")
    assert code == 0, err
    assert f"session {sid} works in {ws}; continuing there" in err
    ends = [e for e in events if e.get("type") == "tool_call_end"]
    assert ends and ends[0]["status"] == "completed"
    assert 'print("hello")' in str(ends[0]["output"])  # ws's file: read in ws
