"""The SQLite state: WAL, migrations, and the change token that lets a process see other
processes' commits before each request."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hermes_mcp.errors import StateError
from hermes_mcp.state import open_database
from hermes_mcp.state.schema import MIGRATIONS


def commit_elsewhere(path: Path) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute(
        "INSERT INTO memory (scope, content, created_at, updated_at) VALUES ('g', 'x', 1, 1)"
    )
    other.close()


@pytest.mark.parametrize("shared_memory", [True, False])
def test_change_token_moves_on_every_foreign_commit(tmp_path: Path, shared_memory: bool) -> None:
    db = open_database(tmp_path / "state.db")
    if not shared_memory:
        db._shm = None  # the PRAGMA data_version fallback
    try:
        assert db.journal_mode() == "wal"
        before = db.change_token()
        assert db.change_token() == before  # nothing committed: unchanged
        for _ in range(3):
            commit_elsewhere(tmp_path / "state.db")
            after = db.change_token()
            assert after != before
            before = after
    finally:
        db.close()


def test_migrations_are_recorded_and_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_database(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StateError, match="newer than this hermes-mcp knows"):
        open_database(path)


def test_unusable_location_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StateError):
        open_database(tmp_path / "file" / "state.db")


@pytest.mark.anyio
async def test_a_mark_never_weakens_one_in_force(tmp_path: Path) -> None:
    from hermes_mcp.llm.credential_state import CredentialState, CredentialStateStore, StateKey

    now = 1_800_000_000.0
    key = StateKey("p", "http://127.0.0.1:1/v1", "abcd1234")
    db = open_database(tmp_path / "state.db")
    other_db = open_database(tmp_path / "state.db")
    try:
        store = CredentialStateStore(db, lambda: now)
        quota = CredentialState("cooling", now + 86400, "quota_exhausted", now)
        await store.mark(key, quota)
        await store.mark(key, CredentialState("cooling", now + 5, "rate_limit", now + 1))
        assert store.get(key) == quota
        dead = CredentialState("dead", None, "auth", now + 2)
        await store.mark(key, dead)
        await store.mark(key, CredentialState("cooling", now + 9e5, "billing", now + 3))
        assert store.get(key) == dead
        # Another process's write that would weaken the stored mark changes nothing.
        CredentialStateStore(other_db)._write(key, quota)
        assert CredentialStateStore(other_db).get(key) == dead
        # A mark that has run out is replaced.
        later = CredentialStateStore(db, lambda: now + 2 * 86400)
        fresh_key = StateKey("p", "http://127.0.0.1:1/v1", "ffff0000")
        await later.mark(fresh_key, CredentialState("cooling", now + 10, "rate_limit", now))
        renewed = CredentialState("cooling", now + 2 * 86400 + 60, "rate_limit", now + 2 * 86400)
        await later.mark(fresh_key, renewed)
        assert later.get(fresh_key) == renewed
    finally:
        db.close()
        other_db.close()


def test_reads_do_not_wait_for_a_writer_stuck_in_busy_timeout(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "state.db"
    db = open_database(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    started, finished = threading.Event(), threading.Event()

    def write() -> None:
        started.set()
        try:
            with db.write() as conn:  # waits in busy_timeout, holding db's main connection
                conn.execute("DELETE FROM memory")
        finally:
            finished.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(5)
        assert not finished.wait(0.2)  # the writer is stuck behind the other process
        assert db.read("SELECT COUNT(*) FROM credential_state")[0][0] == 0  # not blocked
        assert not finished.is_set()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        writer.join(10)
        db.close()


def _open_and_report(path: str, results: Any) -> None:
    try:
        open_database(Path(path)).close()
        results.put("ok")
    except StateError as exc:
        results.put(str(exc))


def test_processes_opening_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    """Hosts start several servers at once on a fresh state directory: every process
    turns the new database into WAL and migrates it, and SQLite refuses some of those
    steps at once ("database is locked") instead of waiting; each must still open."""
    ctx = multiprocessing.get_context("fork")
    failures: list[str] = []
    for round_ in range(150):
        path = str(tmp_path / f"state-{round_}.db")
        results = ctx.Queue()
        procs = [ctx.Process(target=_open_and_report, args=(path, results)) for _ in range(5)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=30)
        failures += [r for r in (results.get(timeout=5) for _ in procs) if r != "ok"]
    assert failures == []
