"""Group commit (``hermes_mcp.agent.writer``): concurrent writes share transactions, a
failing write fails alone, a cancelled writer's write is still stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.store import SessionStore
from hermes_mcp.errors import StateError
from hermes_mcp.state import open_database


@pytest.mark.anyio
async def test_concurrent_writes_share_batches_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    store = SessionStore(db)
    commits: list[int] = []
    real_write = db.write

    def counting_write():  # type: ignore[no-untyped-def]
        commits.append(1)
        return real_write()

    db.write = counting_write  # type: ignore[method-assign]
    ids: list[str] = []
    failures: list[Exception] = []

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    async def one() -> None:
        ids.append(await store.create(cwd="/w"))

    async def broken() -> None:
        try:
            await store._write(bad)
        except StateError as exc:
            failures.append(exc)

    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(one)
                tg.start_soon(broken)
        assert len(ids) == 20 and len(failures) == 1
        assert "no_such_table" in str(failures[0])
        assert len(commits) < 21  # batched: fewer transactions than writes
        stored = db.read("SELECT COUNT(*) FROM sessions")[0][0]
        assert stored == 20
    finally:
        db.close()


@pytest.mark.anyio
async def test_a_cancelled_writer_still_stores_its_write(tmp_path: Path) -> None:
    db = open_database(tmp_path / "state.db")
    store = SessionStore(db)
    try:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await store.create(cwd="/w")
        assert db.read("SELECT COUNT(*) FROM sessions")[0][0] == 1
    finally:
        db.close()
