"""Stored agent sessions, read and managed (schema v3): list, get, load, fork, rename,
delete, and titles made without a model call.

Base-level and synchronous, so that the agent's store (``hermes_mcp.agent.store``, which
also appends the messages), the tools (``session_search``) and the command line share one
set of queries. Async callers run these in a worker thread. SQLite failures become
:class:`StateError`; an unknown id given to :func:`fork_session`, :func:`rename_session`
or :func:`delete_session` raises :class:`SessionNotFound` (a usage error naming it).

The records (``SessionInfo``, ``TurnRecord``, ``StoredMessage``, ``SessionRecord``,
``SessionPage``) live in ``records.py``. :func:`list_sessions` pages by last activity,
newest first, with an opaque cursor (keyset pagination, stable while sessions are
written). Delegated tasks are sessions whose ``parent_id`` names the delegating session;
lists leave them out unless asked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hermes_mcp.errors import StateError, UsageError
from hermes_mcp.state.db import Database
from hermes_mcp.state.records import (
    SessionInfo,
    SessionPage,
    SessionRecord,
    StoredMessage,
    TurnRecord,
    stored_message,
    turn_record,
)
from hermes_mcp.state.schema import RETOTAL_SESSIONS

__all__ = [
    "SessionInfo",
    "SessionNotFound",
    "SessionPage",
    "SessionRecord",
    "StoredMessage",
    "TurnRecord",
    "delete_session",
    "fork_session",
    "get_session",
    "list_sessions",
    "load_session",
    "make_title",
    "rename_session",
]

TITLE_MAX = 80


class SessionNotFound(UsageError):
    """A session id (``--session``, ``sessions show ID``, an edge's id) names no session."""

    @classmethod
    def named(cls, session_id: str) -> SessionNotFound:
        return cls(f"no stored session {session_id!r}")


@contextmanager
def translated(db: Database) -> Iterator[None]:
    """SQLite errors become StateError naming the database."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StateError(f"{db.path}: {exc}") from exc


def make_title(text: str, limit: int = TITLE_MAX) -> str:
    """A title from a prompt: its first non-empty line, whitespace collapsed, cut at a
    word boundary with an ellipsis when longer than ``limit``."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    words = " ".join(line.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


_INFO = """
SELECT s.id, s.parent_id, s.cwd, s.title, s.created_at, s.updated_at, s.model,
       s.input_tokens, s.output_tokens, s.cost_usd, s.forked_from,
       (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id),
       (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id)
FROM sessions s"""


def get_session(db: Database, session_id: str) -> SessionInfo | None:
    with translated(db):
        rows = db.read(f"{_INFO} WHERE s.id = ?", (session_id,))
    return SessionInfo(*rows[0]) if rows else None


def within_clause(within: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL keeping the sessions started in or below any of ``within`` (none: nothing)."""
    places = [p.rstrip("/") or "/" for p in within]
    tests = ["s.cwd = ? OR substr(s.cwd, 1, ?) = ?" for _ in places] or ["0"]
    params: list[Any] = []
    for place in places:
        below = place if place.endswith("/") else place + "/"
        params.extend([place, len(below), below])
    return "(" + " OR ".join(tests) + ")", params


def list_sessions(
    db: Database,
    *,
    cwd: str | None = None,
    within: Sequence[str] | None = None,
    limit: int = 50,
    cursor: str | None = None,
    children: bool = False,
) -> SessionPage:
    """Sessions by last activity, newest first; ``cwd`` keeps one workspace's, ``within``
    those started in or below any of these directories, ``children`` adds delegated
    tasks; ``cursor`` is a previous page's ``next_cursor``."""
    if limit < 1:
        raise UsageError(f"limit must be at least 1, got {limit}")
    where: list[str] = []
    params: list[Any] = []
    if cwd is not None:
        where.append("s.cwd = ?")
        params.append(cwd)
    if within is not None:
        clause, values = within_clause(within)
        where.append(clause)
        params += values
    if not children:
        where.append("s.parent_id IS NULL")
    if cursor is not None:
        updated, _, after = cursor.partition("/")
        try:
            at = float(updated)
        except ValueError:
            raise UsageError(f"not a session list cursor: {cursor!r}") from None
        where.append("(s.updated_at < ? OR (s.updated_at = ? AND s.id < ?))")
        params += [at, at, after]
    sql = _INFO + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY s.updated_at DESC, s.id DESC LIMIT ?"
    with translated(db):
        rows = db.read(sql, (*params, limit + 1))
    sessions = [SessionInfo(*row) for row in rows[:limit]]
    last = sessions[-1] if len(rows) > limit else None
    return SessionPage(sessions, f"{last.updated_at!r}/{last.id}" if last else None)


def load_session(db: Database, session_id: str) -> SessionRecord | None:
    """The session with every turn and stored message (no placeholders added)."""
    info = get_session(db, session_id)
    if info is None:
        return None
    with translated(db):
        turns = db.read(
            "SELECT turn, started_at, ended_at, stop_reason, message, model, route,"
            " input_tokens, output_tokens, cost_usd FROM turns WHERE session_id = ?"
            " ORDER BY turn",
            (session_id,),
        )
        messages = db.read(
            "SELECT id, turn, role, content, tool_calls, tool_call_id, name, is_error,"
            " structured, provider, model, created_at FROM messages WHERE session_id = ?"
            " ORDER BY id",
            (session_id,),
        )
    return SessionRecord(
        info, [turn_record(t) for t in turns], [stored_message(m) for m in messages]
    )


def rename_session(db: Database, session_id: str, title: str, now: float) -> None:
    with translated(db), db.write() as conn:
        found = conn.execute(
            "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
            (make_title(title), now, session_id),
        ).rowcount
    if not found:
        raise SessionNotFound.named(session_id)


def delete_session(db: Database, session_id: str) -> int:
    """Delete a session with its turns, messages (and their search entries) and the
    tasks it delegated; returns how many sessions went. Forks of it stay."""
    with translated(db), db.write() as conn:
        deleted = conn.execute(
            "DELETE FROM sessions WHERE id IN (WITH RECURSIVE tree(id) AS"
            " (SELECT id FROM sessions WHERE id = ?"
            " UNION SELECT s.id FROM sessions s JOIN tree ON s.parent_id = tree.id)"
            " SELECT id FROM tree)",
            (session_id,),
        ).rowcount
    if not deleted:
        raise SessionNotFound.named(session_id)
    return int(deleted)


def fork_session(
    db: Database,
    session_id: str,
    new_id: str,
    now: float,
    *,
    title: str | None = None,
    upto_message: int | None = None,
) -> None:
    """Copy a session (up to and including message ``upto_message``, default all) into
    ``new_id``, which records where it came from; totals are those of what was copied."""
    upto = upto_message if upto_message is not None else 2**62
    with translated(db), db.write() as conn:
        source = conn.execute(
            "SELECT cwd, title FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if source is None:
            raise SessionNotFound.named(session_id)
        name = make_title(title) if title else make_title(f"{source['title']} (fork)")
        conn.execute(
            "INSERT INTO sessions (id, parent_id, cwd, title, created_at, updated_at,"
            " forked_from) VALUES (?, NULL, ?, ?, ?, ?, ?)",
            (new_id, source["cwd"], name, now, now, session_id),
        )
        conn.execute(
            "INSERT INTO messages (session_id, turn, role, content, tool_calls, tool_call_id,"
            " name, is_error, structured, provider, model, input_tokens, output_tokens,"
            " cost_usd, created_at, parts) SELECT ?, turn, role, content, tool_calls,"
            " tool_call_id, name, is_error, structured, provider, model, input_tokens,"
            " output_tokens, cost_usd, created_at, parts FROM messages"
            " WHERE session_id = ? AND id <= ? ORDER BY id",
            (new_id, session_id, upto),
        )
        conn.execute(
            "INSERT INTO turns (session_id, turn, started_at, ended_at, stop_reason, message,"
            " input_tokens, output_tokens, cost_usd, model, route) SELECT ?, turn, started_at,"
            " ended_at, stop_reason, message, input_tokens, output_tokens, cost_usd, model,"
            " route FROM turns WHERE session_id = ? AND turn IN"
            " (SELECT DISTINCT turn FROM messages WHERE session_id = ?)",
            (new_id, session_id, new_id),
        )
        # The event log of every turn copied whole (a turn cut by ``upto_message`` replays
        # from its messages instead).
        conn.execute(
            "INSERT INTO events (session_id, turn, seq, type, payload)"
            " SELECT ?, e.turn, e.seq, e.type, e.payload FROM events e"
            " WHERE e.session_id = ? AND e.turn IN"
            " (SELECT turn FROM messages WHERE session_id = ? GROUP BY turn HAVING MAX(id) <= ?)"
            " ORDER BY e.id",
            (new_id, session_id, session_id, upto),
        )
        conn.execute(_RETOTAL, (new_id,))


_RETOTAL = RETOTAL_SESSIONS + "WHERE id = ?"
