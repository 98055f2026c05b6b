"""The session store (schema v3) in process: titles, totals and the route per turn,
paged lists by workspace, load, fork, rename, delete, full-text search, the
``session_search`` tool, and a database written by schema v2 opening with its rows."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.agent import SessionNotFound, SessionStore
from hermes_mcp.state import open_database
from hermes_mcp.state.schema import MIGRATIONS
from hermes_mcp.state.search import fts_query, search_sessions
from hermes_mcp.state.sessions import make_title
from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import call, calls, new_home, new_workspace, run_turn, session_rig
from tests.keys import KEY_A
from tests.routing import Clock, Home
from tests.tools_helpers import call as call_tool
from tests.tools_helpers import make_ctx


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")


def test_titles_come_from_the_first_line_without_a_model_call() -> None:
    assert make_title("  Fix the   failing test\n\nTraceback: ...") == "Fix the failing test"
    long = "Refactor " + "the router module and its many collaborators " * 4
    title = make_title(long)
    assert len(title) <= 80 and title.endswith("…") and not title[:-1].endswith(" ")
    assert make_title("\n\n") == ""


@pytest.mark.anyio
async def test_a_session_keeps_its_title_totals_and_the_route_of_each_turn(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        calls(call("read_file", "r1", path="hello.py")),
        reply("It greets.", usage=(30, 7)),
        reply("Still greets.", usage=(50, 3)),
    )
    async with session_rig(home, ws) as rig:
        _, first = await run_turn(rig.session, "What does hello.py do?\nBe brief.")
        await run_turn(rig.session, "And now?")
        info = await rig.store.get(first.session_id)
        record = await rig.store.load(first.session_id)
    assert info is not None and record is not None
    assert (info.title, info.cwd, info.model) == (
        "What does hello.py do?",
        str(ws),
        "primary:gpt-4o",
    )
    assert (info.turn_count, info.message_count) == (2, 6)
    assert (info.input_tokens, info.output_tokens) == (10 + 30 + 50, 5 + 7 + 3)
    credential = hashlib.sha256(KEY_A.encode()).hexdigest()[:8]
    route = [{"provider": "primary", "model": "gpt-4o", "credential": credential}]
    assert [(t.stop_reason, t.model, t.route) for t in record.turns] == [
        ("end_turn", "primary:gpt-4o", route),
        ("end_turn", "primary:gpt-4o", route),
    ]
    assert [(m.turn, m.role) for m in record.messages] == [
        (1, "user"),
        (1, "assistant"),
        (1, "tool"),
        (1, "assistant"),
        (2, "user"),
        (2, "assistant"),
    ]
    assert record.messages[1].tool_calls == [
        {"id": "r1", "name": "read_file", "arguments": {"path": "hello.py"}}
    ]
    assert record.to_json()["session"]["usage"] == {"input_tokens": 90, "output_tokens": 15}


@pytest.mark.anyio
async def test_list_filters_by_workspace_and_pages_newest_first(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    clock = Clock(1_000.0)
    store = SessionStore(db, clock)
    made = []
    try:
        for n in range(5):
            clock.now += 1
            made.append(await store.create(cwd="/a" if n != 2 else "/b", title=f"s{n}"))
        clock.now += 1
        await store.create(cwd="/a", title="a delegated task", parent_id=made[0])
        first = await store.list_sessions(cwd="/a", limit=2)
        second = await store.list_sessions(cwd="/a", limit=2, cursor=first.next_cursor)
        everything = await store.list_sessions(limit=10, children=True)
    finally:
        db.close()
    assert [s.title for s in first.sessions] == ["s4", "s3"] and first.next_cursor
    assert [s.title for s in second.sessions] == ["s1", "s0"]
    assert second.next_cursor is None
    assert len(everything.sessions) == 6 and everything.sessions[0].title == "a delegated task"


@pytest.mark.anyio
async def test_fork_rename_and_delete(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, reply("the original answer"), reply("the fork goes on"))
    async with session_rig(home, ws) as rig:
        _, end = await run_turn(rig.session, "tell me about zebras")
        original = end.session_id
        fork = await rig.store.fork(original)
        assert await rig.store.history(fork) == await rig.store.history(original)
        await run_turn(await rig.load(fork), "and the fork?")
        child = await rig.store.create(cwd=str(ws), title="a task", parent_id=original)
        await rig.store.rename(fork, "Zebras, forked\nsecond line")
        assert (await rig.store.get(original)).message_count == 2  # type: ignore[union-attr]

        assert await rig.store.delete(original) == 2  # the session and its delegated task
        assert await rig.store.get(child) is None
        forked = await rig.store.get(fork)
        assert forked is not None
        assert (forked.title, forked.forked_from, forked.message_count) == (
            "Zebras, forked",
            None,  # its origin is gone
            4,
        )
        assert [h.session_id for h in await rig.store.search("zebras")] == [fork]
        for unknown in (rig.store.delete, rig.store.fork):
            with pytest.raises(SessionNotFound, match=original):
                await unknown(original)
        with pytest.raises(SessionNotFound, match="nope"):
            await rig.store.rename("nope", "x")
        integrity = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
        with rig.db.write() as conn:
            conn.execute(integrity)  # the index still matches the messages exactly


def test_search_queries_are_made_safe_and_ranked(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    try:
        with db.write() as conn:
            for sid, cwd in (("s1", "/a"), ("s2", "/b")):
                conn.execute(
                    "INSERT INTO sessions (id, cwd, title, created_at, updated_at)"
                    " VALUES (?, ?, ?, 1, 1)",
                    (sid, cwd, sid),
                )
            rows = [
                ("s1", "tool", "the ferry leaves at noon from pier 9"),
                ("s1", "user", "ferry ferry ferry schedule"),
                ("s1", "assistant", "a ferry"),
                ("s2", "tool", "no boats here, only a ferry-like raft"),
            ]
            for sid, role, text in rows:
                conn.execute(
                    "INSERT INTO messages (session_id, turn, role, content, created_at)"
                    " VALUES (?, 1, ?, ?, 1)",
                    (sid, role, text),
                )
        for odd in ('foo-bar "unbalanced', "NOT a OR b", "col:x *", "NEAR(a b)", "don't"):
            assert fts_query(odd)  # every input is a valid query
            search_sessions(db, odd)
        assert fts_query('"pier 9" fer*') == '"pier 9" "fer"*'
        hits = search_sessions(db, "ferry")
        assert [h.session_id for h in hits].count("s1") == 3
        assert hits[0].snippet.count("**ferry**") == 3  # the densest match ranks first
        assert [h.session_id for h in search_sessions(db, "ferry", per_session=1)] == ["s1", "s2"]
        assert [h.session_id for h in search_sessions(db, "ferry", cwd="/b")] == ["s2"]
        assert [h.message_id for h in search_sessions(db, '"pier 9"')] == [1]
        assert search_sessions(db, "ferry", exclude_session="s1")[0].session_id == "s2"
    finally:
        db.close()


@pytest.mark.anyio
async def test_the_session_search_tool_leaves_out_the_asking_session(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    store = SessionStore(db)
    try:
        here = await store.create(cwd=str(tmp_path), title="asking")
        past = await store.create(cwd=str(tmp_path), title="past work")
        for sid in (here, past):
            await store.begin_turn(sid, "where is the blue lantern kept?")
        ctx = make_ctx(tmp_path, db=db, session_id=here)
        found = await call_tool(ctx, "session_search", query="blue lantern")
        nothing = await call_tool(ctx, "session_search", query="green lantern")
    finally:
        db.close()
    assert not found.is_error and found.structured is not None
    assert [h["session_id"] for h in found.structured["hits"]] == [past]
    assert past in found.text and "**blue** **lantern**" in found.text
    assert nothing.text == "no past session matches 'green lantern'"


def _v2_database(path: Path) -> None:
    """A database as schema v2 left it, with a session, two turns and a tool result."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO sessions (id, cwd, title, created_at, updated_at) VALUES"
        " ('old', '/w', 'Look into the\nflaky build', 100, 200)"
    )
    conn.execute("INSERT INTO turns VALUES ('old', 1, 100, 150, 'end_turn', NULL, 40, 9, 0.25)")
    conn.execute("INSERT INTO turns (session_id, turn, started_at) VALUES ('old', 2, 190)")
    rows = [
        (1, "user", "Look into the flaky build", None, None, None, None, None),
        (1, "assistant", "", '[{"id": "c1", "name": "terminal", "arguments": {}}]',
         None, None, "p", "m1"),
        (1, "tool", "cobalt otter failure in step 3", None, "c1", "terminal", None, None),
        (1, "assistant", "Found it.", None, None, None, "p", "m2"),
        (2, "user", "fix it", None, None, None, None, None),
    ]  # fmt: skip
    for turn, role, content, tool_calls, call_id, name, provider, model in rows:
        usage = (20, 4, 0.125) if role == "assistant" else (None, None, None)
        conn.execute(
            "INSERT INTO messages (session_id, turn, role, content, tool_calls, tool_call_id,"
            " name, provider, model, input_tokens, output_tokens, cost_usd, created_at)"
            " VALUES ('old', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 100)",
            (turn, role, content, tool_calls, call_id, name, provider, model, *usage),
        )
    conn.close()


@pytest.mark.anyio
async def test_a_database_written_by_schema_v2_opens_with_its_data_intact(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    _v2_database(home.path / "state.db")
    fake.script(KEY_A, reply("fixed"))
    async with session_rig(home, ws) as rig:
        version = rig.db.query("PRAGMA user_version")[0][0]
        info = await rig.store.get("old")
        record = await rig.store.load("old")
        hits = await rig.store.search("cobalt otter")
        _, end = await run_turn(await rig.load("old"), "try again")
        after = await rig.store.get("old")
    assert version == len(MIGRATIONS)
    assert info is not None and record is not None and after is not None
    assert info.title == "Look into the flaky build"  # one line now
    assert (info.input_tokens, info.output_tokens, info.cost_usd) == (40, 8, 0.25)
    assert (info.model, info.created_at, info.updated_at) == ("p:m2", 100, 200)
    assert [(t.turn, t.stop_reason, t.model) for t in record.turns] == [
        (1, "end_turn", "p:m2"),
        (2, None, None),
    ]
    assert record.turns[0].route == [
        {"provider": "p", "model": "m1", "credential": None},
        {"provider": "p", "model": "m2", "credential": None},
    ]
    assert [m.content for m in record.messages][2:4] == [
        "cobalt otter failure in step 3",
        "Found it.",
    ]
    assert [(h.session_id, h.role, h.name) for h in hits] == [("old", "tool", "terminal")]
    assert "**cobalt** **otter**" in hits[0].snippet
    assert end.stop_reason == "end_turn" and after.turn_count == 3
    assert (after.input_tokens, after.model) == (50, "primary:gpt-4o")
