"""Session persistence: sessions, turns and messages in the SQLite state (schema v3).

Each message is appended the moment it exists: the user's prompt when the turn starts,
an assistant message when its stream has ended, each tool result when its call returns.
Killing the process loses at most the message in flight. Writes are ``BEGIN IMMEDIATE``
transactions run in a worker thread, never on the event loop.

:meth:`SessionStore.history` rebuilds a session's conversation for the next turn. A
tool call left without a result (the process died during it) gets a placeholder result,
so the conversation stays one that every provider accepts.

Each assistant message also adds its usage and cost to the session's totals and records
its route on the turn, in the same transaction. Listing, loading, forking, renaming,
deleting and searching are the base-level queries of ``hermes_mcp.state.sessions`` and
``hermes_mcp.state.search`` (shared with the tools and the command line), run here in a
worker thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import anyio

from hermes_mcp.agent.transcript import INTERRUPTED, add_totals, insert_message, repair, tool_calls
from hermes_mcp.errors import StateError
from hermes_mcp.llm.types import Message, Result, Usage
from hermes_mcp.state import Database
from hermes_mcp.state.search import SearchHit, search_sessions
from hermes_mcp.state.sessions import (
    SessionInfo,
    SessionNotFound,
    SessionPage,
    SessionRecord,
    delete_session,
    fork_session,
    get_session,
    list_sessions,
    load_session,
    make_title,
    rename_session,
)
from tools import ToolResult

if TYPE_CHECKING:
    from hermes_mcp.agent.events import Event

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "INTERRUPTED",
    "SearchHit",
    "SessionInfo",
    "SessionNotFound",
    "SessionPage",
    "SessionRecord",
    "SessionStore",
    "repair",
]


#: Worker threads the store may hold at once. Writes serialise on the database's lock
#: anyway (and may sit in ``busy_timeout`` while another process writes): with a limiter
#: of their own, waiting store calls wait as coroutines instead of filling anyio's
#: shared worker threads, which every file tool needs.
STORE_THREADS = 4


class SessionStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock
        self._limiter: anyio.CapacityLimiter | None = None

    async def _run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        def call() -> R:
            try:
                return fn(*args, **kwargs)
            except sqlite3.Error as exc:
                raise StateError(f"{self.db.path}: {exc}") from exc

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(STORE_THREADS)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    # -- sessions --------------------------------------------------------------------------

    async def create(
        self,
        *,
        cwd: str,
        title: str = "",
        parent_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """A new session; ``session_id`` is a fresh uuid hex unless the caller chose one
        (an edge that answered with the id before the store was open)."""
        session_id = session_id or uuid.uuid4().hex
        now = self._clock()

        def insert() -> None:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO sessions (id, parent_id, cwd, title, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, parent_id, cwd, make_title(title), now, now),
                )

        await self._run(insert)
        return session_id

    async def get(self, session_id: str) -> SessionInfo | None:
        return await self._run(get_session, self.db, session_id)

    async def list_sessions(
        self,
        *,
        cwd: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        children: bool = False,
    ) -> SessionPage:
        """Newest activity first; ``cwd`` filters, ``cursor`` continues a page."""
        return await self._run(
            list_sessions, self.db, cwd=cwd, limit=limit, cursor=cursor, children=children
        )

    async def load(self, session_id: str) -> SessionRecord | None:
        """The session, its turns and its stored messages (as stored: no placeholders)."""
        return await self._run(load_session, self.db, session_id)

    async def fork(
        self, session_id: str, *, title: str | None = None, upto_message: int | None = None
    ) -> str:
        """A new session holding a copy of this one (up to ``upto_message``); its id."""
        new_id = uuid.uuid4().hex
        await self._run(
            fork_session,
            self.db,
            session_id,
            new_id,
            self._clock(),
            title=title,
            upto_message=upto_message,
        )
        return new_id

    async def rename(self, session_id: str, title: str) -> None:
        await self._run(rename_session, self.db, session_id, title, self._clock())

    async def delete(self, session_id: str) -> int:
        """Delete it (and the tasks it delegated); how many sessions were deleted."""
        return await self._run(delete_session, self.db, session_id)

    async def search(
        self,
        text: str,
        *,
        cwd: str | None = None,
        exclude_session: str | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        """Ranked messages matching ``text`` across sessions, each with a snippet."""
        return await self._run(
            search_sessions, self.db, text, cwd=cwd, exclude_session=exclude_session, limit=limit
        )

    async def save_settings(
        self, session_id: str, *, mode: str | None, model: str | None, toolsets: list[str] | None
    ) -> None:
        """What the session chose (``None``: as the config says), kept across restarts."""
        packed = None if toolsets is None else json.dumps(list(toolsets))

        def update() -> None:
            with self.db.write() as conn:
                conn.execute(
                    "UPDATE sessions SET mode = ?, model_override = ?, toolsets = ? WHERE id = ?",
                    (mode, model, packed, session_id),
                )

        await self._run(update)

    async def load_settings(
        self, session_id: str
    ) -> tuple[str | None, str | None, list[str] | None]:
        """``(mode, model, toolsets)`` as saved by :meth:`save_settings`."""
        rows = await self._run(
            self.db.read,
            "SELECT mode, model_override, toolsets FROM sessions WHERE id = ?",
            (session_id,),
        )
        if not rows:
            raise SessionNotFound.named(session_id)
        mode, model, toolsets = rows[0]
        return mode, model, None if toolsets is None else list(json.loads(toolsets))

    async def last_plan(self, session_id: str) -> list[dict[str, Any]] | None:
        """The plan of the session's last successful ``todo`` result, if any."""
        rows = await self._run(
            self.db.read,
            "SELECT structured FROM messages WHERE session_id = ? AND role = 'tool'"
            " AND name = 'todo' AND is_error = 0 AND structured IS NOT NULL"
            " ORDER BY id DESC LIMIT 1",
            (session_id,),
        )
        if not rows:
            return None
        entries = json.loads(rows[0][0]).get("entries")
        return list(entries) if isinstance(entries, list) else None

    def replay(self, session_id: str) -> AsyncIterator[Event]:
        """The stored session as the events its live turns emitted."""
        raise NotImplementedError("replay arrives with the session event log (issue 12)")

    # -- turns -----------------------------------------------------------------------------

    async def begin_turn(self, session_id: str, prompt: str) -> int:
        """Record a new turn and its user message; returns the turn's number."""
        now = self._clock()

        def insert() -> int:
            with self.db.write() as conn:
                row = conn.execute(
                    "SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE session_id = ?",
                    (session_id,),
                ).fetchone()
                turn = int(row[0])
                conn.execute(
                    "INSERT INTO turns (session_id, turn, started_at) VALUES (?, ?, ?)",
                    (session_id, turn, now),
                )
                insert_message(conn, session_id, turn, Message.user(prompt), now)
                conn.execute(
                    "UPDATE sessions SET updated_at = ?,"
                    " title = CASE title WHEN '' THEN ? ELSE title END WHERE id = ?",
                    (now, make_title(prompt), session_id),
                )
                return turn

        return await self._run(insert)

    async def end_turn(
        self,
        session_id: str,
        turn: int,
        stop_reason: str,
        message: str | None,
        usage: Usage,
        cost_usd: float | None,
    ) -> None:
        now = self._clock()

        def update() -> None:
            with self.db.write() as conn:
                conn.execute(
                    "UPDATE turns SET ended_at = ?, stop_reason = ?, message = ?,"
                    " input_tokens = ?, output_tokens = ?, cost_usd = ?"
                    " WHERE session_id = ? AND turn = ?",
                    (
                        now,
                        stop_reason,
                        message,
                        usage.input_tokens,
                        usage.output_tokens,
                        cost_usd,
                        session_id,
                        turn,
                    ),
                )
                conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))

        await self._run(update)

    # -- messages --------------------------------------------------------------------------

    async def append_assistant(
        self, session_id: str, turn: int, message: Message, result: Result
    ) -> None:
        now = self._clock()
        usage = result.completion.usage
        meta = {
            "provider": result.provider,
            "model": result.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": result.cost_usd,
        }
        served = {
            "provider": result.provider,
            "model": result.model,
            "credential": result.credential,
        }

        def append() -> None:
            with self.db.write() as conn:
                insert_message(conn, session_id, turn, message, now, meta)
                add_totals(conn, session_id, turn, served, usage, result.cost_usd, now)

        await self._run(append)

    async def append_tool(
        self, session_id: str, turn: int, message: Message, result: ToolResult | None = None
    ) -> None:
        meta: dict[str, Any] = {}
        if result is not None:
            meta["is_error"] = int(result.is_error)
            if result.structured is not None:
                meta["structured"] = json.dumps(result.structured)
        await self._run(self._append, session_id, turn, message, self._clock(), meta)

    def _append(
        self, session_id: str, turn: int, message: Message, now: float, meta: dict[str, Any]
    ) -> None:
        with self.db.write() as conn:
            insert_message(conn, session_id, turn, message, now, meta)

    async def history(self, session_id: str) -> list[Message]:
        """The session's conversation, oldest first, with placeholders for lost results."""
        rows = await self._run(
            self.db.read,
            "SELECT role, content, tool_calls, tool_call_id, name FROM messages"
            " WHERE session_id = ? ORDER BY id",
            (session_id,),
        )
        messages = [
            Message(
                role=row["role"],
                content=row["content"],
                tool_calls=tool_calls(row["tool_calls"]),
                tool_call_id=row["tool_call_id"],
                name=row["name"],
            )
            for row in rows
        ]
        return repair(messages)
