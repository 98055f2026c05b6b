"""Session persistence: sessions, turns and messages in the SQLite state (schema v2).

Each message is appended the moment it exists: the user's prompt when the turn starts,
an assistant message when its stream has ended, each tool result when its call returns.
Killing the process loses at most the message in flight. Writes are ``BEGIN IMMEDIATE``
transactions run in a worker thread, never on the event loop.

:meth:`SessionStore.history` rebuilds a session's conversation for the next turn. A
tool call left without a result (the process died during it) gets a placeholder result,
so the conversation stays one that every provider accepts.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio

from hermes_mcp.errors import StateError, UsageError
from hermes_mcp.llm.types import Message, Result, ToolCall, Usage
from hermes_mcp.state import Database
from tools import ToolResult

P = ParamSpec("P")
R = TypeVar("R")

INTERRUPTED = "[no result: the turn ended before this call finished]"


class SessionNotFound(UsageError):
    """``--session`` (or an edge's session id) names no stored session."""


@dataclass(frozen=True)
class SessionInfo:
    id: str
    parent_id: str | None
    cwd: str
    title: str
    created_at: float
    updated_at: float


class SessionStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def _run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        def call() -> R:
            try:
                return fn(*args, **kwargs)
            except sqlite3.Error as exc:
                raise StateError(f"{self.db.path}: {exc}") from exc

        return await anyio.to_thread.run_sync(call)

    # -- sessions --------------------------------------------------------------------------

    async def create(self, *, cwd: str, title: str = "", parent_id: str | None = None) -> str:
        session_id = uuid.uuid4().hex
        now = self._clock()

        def insert() -> None:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO sessions (id, parent_id, cwd, title, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, parent_id, cwd, title[:200], now, now),
                )

        await self._run(insert)
        return session_id

    async def get(self, session_id: str) -> SessionInfo | None:
        rows = await self._run(
            self.db.query,
            "SELECT id, parent_id, cwd, title, created_at, updated_at FROM sessions WHERE id = ?",
            (session_id,),
        )
        return SessionInfo(*rows[0]) if rows else None

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
                _insert_message(conn, session_id, turn, Message.user(prompt), now)
                conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
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
        await self._run(self._append, session_id, turn, message, now, meta)

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
            _insert_message(conn, session_id, turn, message, now, meta)

    async def history(self, session_id: str) -> list[Message]:
        """The session's conversation, oldest first, with placeholders for lost results."""
        rows = await self._run(
            self.db.query,
            "SELECT role, content, tool_calls, tool_call_id, name FROM messages"
            " WHERE session_id = ? ORDER BY id",
            (session_id,),
        )
        messages = [
            Message(
                role=row["role"],
                content=row["content"],
                tool_calls=_calls(row["tool_calls"]),
                tool_call_id=row["tool_call_id"],
                name=row["name"],
            )
            for row in rows
        ]
        return repair(messages)


def _insert_message(
    conn: sqlite3.Connection,
    session_id: str,
    turn: int,
    message: Message,
    now: float,
    meta: dict[str, Any] | None = None,
) -> None:
    calls = None
    if message.tool_calls:
        calls = json.dumps(
            [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
        )
    meta = meta or {}
    conn.execute(
        "INSERT INTO messages (session_id, turn, role, content, tool_calls, tool_call_id, name,"
        " is_error, structured, provider, model, input_tokens, output_tokens, cost_usd,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session_id,
            turn,
            message.role,
            message.content,
            calls,
            message.tool_call_id,
            message.name,
            meta.get("is_error", 0),
            meta.get("structured"),
            meta.get("provider"),
            meta.get("model"),
            meta.get("input_tokens"),
            meta.get("output_tokens"),
            meta.get("cost_usd"),
            now,
        ),
    )


def _calls(raw: str | None) -> tuple[ToolCall, ...]:
    if not raw:
        return ()
    return tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in json.loads(raw))


def repair(messages: list[Message]) -> list[Message]:
    """Give every tool call a result: a placeholder right after the results it has."""
    out: list[Message] = []
    pending: list[ToolCall] = []

    def close_pending() -> None:
        out.extend(Message.tool(c.id, c.name, INTERRUPTED) for c in pending)
        pending.clear()

    for message in messages:
        if message.role == "tool":
            pending[:] = [c for c in pending if c.id != message.tool_call_id]
        else:
            close_pending()
        out.append(message)
        if message.role == "assistant":
            pending.extend(message.tool_calls)
    close_pending()
    return out
