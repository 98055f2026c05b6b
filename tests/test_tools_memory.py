"""``memory`` (notes in the real SQLite state) and ``todo`` (the session plan)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.state import Database, open_database
from tests.tools_helpers import call, make_ctx


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(tmp_path / "state" / "state.db")
    yield database
    database.close()


@pytest.mark.anyio
async def test_add_list_replace_remove(tmp_path: Path, db: Database) -> None:
    ctx = make_ctx(tmp_path, db=db)
    added = await call(ctx, "memory", action="add", content="prefers tabs")
    assert added.text == "Added note 1 (global)"
    assert (added.structured or {})["notes"][0]["content"] == "prefers tabs"
    await call(ctx, "memory", action="add", content="uses uv", scope="workspace")
    listed = await call(ctx, "memory", action="list")
    assert listed.text == "[1] (global) prefers tabs\n[2] (workspace) uses uv"
    assert (await call(ctx, "memory", action="list", query="UV")).text == "[2] (workspace) uses uv"
    replaced = await call(ctx, "memory", action="replace", id=1, content="prefers spaces")
    assert replaced.text == "Replaced note 1 (global)"
    removed = await call(ctx, "memory", action="remove", id=2)
    assert removed.text == "Removed note 2"
    assert (await call(ctx, "memory", action="list")).text == "[1] (global) prefers spaces"
    rows = db.query("SELECT content FROM memory")
    assert [r["content"] for r in rows] == ["prefers spaces"]  # persisted


@pytest.mark.anyio
async def test_workspace_notes_stay_in_their_workspace(tmp_path: Path, db: Database) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    in_a = make_ctx(tmp_path / "a", db=db)
    in_b = make_ctx(tmp_path / "b", db=db)
    await call(in_a, "memory", action="add", content="a only", scope="workspace")
    await call(in_a, "memory", action="add", content="everyone")
    assert (await call(in_b, "memory", action="list")).text == "[2] (global) everyone"
    gone = await call(in_b, "memory", action="remove", id=1)
    assert gone.is_error and gone.text == "no note with id 1"


@pytest.mark.anyio
async def test_secrets_are_redacted_before_they_are_stored(tmp_path: Path, db: Database) -> None:
    ctx = make_ctx(tmp_path, db=db)
    await call(ctx, "memory", action="add", content="key is AIza" + "Q" * 35)
    assert db.query("SELECT content FROM memory")[0]["content"] == "key is [REDACTED]"


@pytest.mark.anyio
async def test_memory_argument_errors(tmp_path: Path, db: Database) -> None:
    ctx = make_ctx(tmp_path, db=db)
    result = await call(ctx, "memory", action="add")
    assert result.is_error and "content is required for add" in result.text
    result = await call(ctx, "memory", action="remove")
    assert result.is_error and "id is required for remove" in result.text
    result = await call(ctx, "memory", action="replace", id=99, content="x")
    assert result.is_error and "no note with id 99" in result.text
    no_db = await call(make_ctx(tmp_path), "memory", action="list")
    assert no_db.is_error and "no state database" in no_db.text


@pytest.mark.anyio
async def test_todo_plan_per_session(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, session_id="s1")
    empty = await call(ctx, "todo")
    assert empty.text == "the plan is empty" and empty.structured == {"entries": []}
    todos = [
        {"content": "read the code", "status": "completed"},
        {"content": "write the fix", "status": "in_progress", "priority": "high"},
        {"content": "run the tests"},
    ]
    result = await call(ctx, "todo", todos=todos)
    assert result.text == (
        "[x] read the code\n[>] write the fix\n[ ] run the tests\n(1/3 completed)"
    )
    assert (result.structured or {})["entries"][1] == {
        "content": "write the fix",
        "status": "in_progress",
        "priority": "high",
    }
    assert (await call(ctx.for_call("c2"), "todo")).text == result.text  # same session
    other = make_ctx(tmp_path, session_id="s2", plans=ctx.plans)
    assert (await call(other, "todo")).text == "the plan is empty"
    bad = await call(ctx, "todo", todos=[{"content": "x", "status": "done"}])
    assert bad.is_error and "todos.0.status" in bad.text
