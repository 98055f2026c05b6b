"""Session persistence: sessions, turns, messages and events in the SQLite state.

Each message is appended the moment it exists: the user's prompt when the turn starts,
an assistant message when its stream has ended, each tool result when its call returns.
Killing the process loses at most the message in flight. Writes are ``BEGIN IMMEDIATE``
transactions run in a worker thread, never on the event loop.

:meth:`SessionStore.history` rebuilds a session's conversation for the next turn. A
tool call left without a result (the process died during it) gets a placeholder result,
so the conversation stays one that every provider accepts.

Each assistant message also adds its usage and cost to the session's totals and records
its route on the turn, in the same transaction. The turn's events
(``event_log.EventLog``) ride along with each of these writes, for
:meth:`SessionStore.replay`. Listing, loading, forking, renaming, deleting and
searching are the base-level queries of ``hermes_mcp.state.sessions`` and
``hermes_mcp.state.search`` (shared with the tools and the command line), run here in
a worker thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import anyio

from hermes_mcp.agent.prompt import Prompt, as_parts, describe, prompt_text
from hermes_mcp.agent.replay import replay_session
from hermes_mcp.agent.transcript import (
    INTERRUPTED,
    add_totals,
    images_of,
    insert_events,
    insert_message,
    pack_parts,
    pack_replay,
    repair,
    replay_of,
    tool_calls,
)
from hermes_mcp.agent.writer import GroupWriter
from hermes_mcp.errors import StateError
from hermes_mcp.llm.types import Message, Result, Usage
from hermes_mcp.log import redact
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

#: A turn's events waiting for a write: ``(seq, event JSON)`` (``EventLog.take()``).
Pending = Sequence[tuple[int, dict[str, Any]]]

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
        self._writer: GroupWriter | None = None

    async def _run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        def call() -> R:
            try:
                return fn(*args, **kwargs)
            except sqlite3.Error as exc:
                raise StateError(f"{self.db.path}: {exc}") from exc

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(STORE_THREADS)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        """One write, committed with whatever other writes are waiting (``writer.py``)."""
        if self._writer is None:
            self._writer = GroupWriter(self.db, self._run, self._state_error)
        return await self._writer.write(fn)

    def _state_error(self, exc: sqlite3.Error) -> Exception:
        return StateError(f"{self.db.path}: {exc}")

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

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sessions (id, parent_id, cwd, title, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, parent_id, cwd, make_title(title), now, now),
            )

        await self._write(insert)
        return session_id

    async def get(self, session_id: str) -> SessionInfo | None:
        return await self._run(get_session, self.db, session_id)

    async def list_sessions(
        self,
        *,
        cwd: str | None = None,
        within: Sequence[str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        children: bool = False,
    ) -> SessionPage:
        """Newest activity first; ``cwd`` or ``within`` (in or below any of these
        directories) filter, ``cursor`` continues a page."""
        return await self._run(
            list_sessions,
            self.db,
            cwd=cwd,
            within=within,
            limit=limit,
            cursor=cursor,
            children=children,
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

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sessions SET mode = ?, model_override = ?, toolsets = ? WHERE id = ?",
                (mode, model, packed, session_id),
            )

        await self._write(update)

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

    async def totals(self, session_id: str) -> tuple[Usage, float | None]:
        """The session's tokens and cost so far, its delegated tasks' (at any depth)
        included: where a loaded session's ``usage.session_usage`` starts."""
        rows = await self._run(
            self.db.read,
            "WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL"
            " SELECT s.id FROM sessions s JOIN tree ON s.parent_id = tree.id)"
            " SELECT COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),"
            " SUM(cost_usd) FROM sessions WHERE id IN (SELECT id FROM tree)",
            (session_id,),
        )
        inp, out, cost = rows[0]
        return Usage(int(inp), int(out)), cost

    async def replay(self, session_id: str) -> AsyncIterator[Event]:
        """The stored session as the events its live turns emitted, oldest turn first:
        per turn a ``user_message`` (the prompt, redacted like live events), then the
        turn's events field for field, ``turn_end`` last. Consecutive text deltas (and
        thought deltas) come coalesced into one event each. A turn stored before the
        event log (or copied by a partial fork) is rebuilt from its messages: text, tool
        calls with arguments, results, ``turn_end``. SessionNotFound for an unknown id."""
        if await self.get(session_id) is None:
            raise SessionNotFound.named(session_id)
        events = await self._run(replay_session, self.db, session_id)
        for event in events:
            yield event

    # -- turns -----------------------------------------------------------------------------

    async def begin_turn(self, session_id: str, prompt: Prompt) -> int:
        """Record a new turn and its user message (its text, and its other parts for the
        history) and the ``user_message`` event replay starts the turn with; returns the
        turn's number."""
        turn, _ = await self.start_turn(session_id, prompt, history=False)
        return turn

    async def start_turn(
        self, session_id: str, prompt: Prompt, *, history: bool = True
    ) -> tuple[int, list[Message]]:
        """``begin_turn`` and ``history`` in one write: the turn's number and the
        conversation it continues (its new user message last)."""
        now = self._clock()
        text = prompt_text(prompt)
        parts = as_parts(prompt)
        packed = pack_parts(parts)
        described = [d for d in (describe(p) for p in parts) if d is not None]
        user_event = {"type": "user_message", "text": redact(text), "parts": described}

        def insert(conn: sqlite3.Connection) -> tuple[int, list[Message]]:
            row = conn.execute(
                "SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE session_id = ?",
                (session_id,),
            ).fetchone()
            turn = int(row[0])
            conn.execute(
                "INSERT INTO turns (session_id, turn, started_at) VALUES (?, ?, ?)",
                (session_id, turn, now),
            )
            insert_message(conn, session_id, turn, Message.user(text), now, {"parts": packed})
            insert_events(conn, session_id, turn, [(0, user_event)])
            conn.execute(
                "UPDATE sessions SET updated_at = ?,"
                " title = CASE title WHEN '' THEN ? ELSE title END WHERE id = ?",
                (now, make_title(text), session_id),
            )
            history_rows = conn.execute(HISTORY, (session_id, session_id)) if history else []
            return turn, _messages(history_rows)

        return await self._write(insert)

    async def end_turn(
        self,
        session_id: str,
        turn: int,
        stop_reason: str,
        message: str | None,
        usage: Usage,
        cost_usd: float | None,
        events: Pending = (),
    ) -> None:
        now = self._clock()

        def update(conn: sqlite3.Connection) -> None:
            insert_events(conn, session_id, turn, events)
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

        await self._write(update)

    # -- messages --------------------------------------------------------------------------

    async def append_assistant(
        self,
        session_id: str,
        turn: int,
        message: Message,
        result: Result,
        events: Pending = (),
    ) -> None:
        now = self._clock()
        usage = result.completion.usage
        meta = {
            "provider": result.provider,
            "model": result.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": result.cost_usd,
            "parts": pack_replay(message.replay),
        }
        served = {
            "provider": result.provider,
            "model": result.model,
            "credential": result.credential,
        }

        def append(conn: sqlite3.Connection) -> None:
            insert_message(conn, session_id, turn, message, now, meta)
            add_totals(conn, session_id, turn, served, usage, result.cost_usd, now)
            insert_events(conn, session_id, turn, events)

        await self._write(append)

    async def append_tool(
        self,
        session_id: str,
        turn: int,
        message: Message,
        result: ToolResult | None = None,
        events: Pending = (),
    ) -> None:
        meta: dict[str, Any] = {}
        if result is not None:
            meta["is_error"] = int(result.is_error)
            if result.structured is not None:
                meta["structured"] = json.dumps(result.structured)
        now = self._clock()
        pending = list(events)

        def append(conn: sqlite3.Connection) -> None:
            insert_message(conn, session_id, turn, message, now, meta)
            insert_events(conn, session_id, turn, pending)

        await self._write(append)

    async def history(self, session_id: str) -> list[Message]:
        """The session's conversation, oldest first, with placeholders for lost results."""
        return _messages(await self._run(self.db.read, HISTORY, (session_id, session_id)))

    async def reset_context(self, session_id: str) -> None:
        """Start a fresh conversation for the model: the next turn's history holds only
        what comes after this point. The transcript (and replay) keeps everything."""

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE sessions SET context_from ="
                " (SELECT COALESCE(MAX(id), 0) FROM messages WHERE session_id = ?)"
                " WHERE id = ?",
                (session_id, session_id),
            )

        await self._write(update)


HISTORY = (
    "SELECT role, content, tool_calls, tool_call_id, name, parts FROM messages"
    " WHERE session_id = ? AND id > (SELECT context_from FROM sessions WHERE id = ?)"
    " ORDER BY id"
)


def _messages(rows: Iterable[sqlite3.Row]) -> list[Message]:
    messages = [
        Message(
            role=row["role"],
            content=row["content"],
            tool_calls=tool_calls(row["tool_calls"]),
            tool_call_id=row["tool_call_id"],
            name=row["name"],
            images=images_of(row["parts"]),
            replay=replay_of(row["parts"]),
        )
        for row in rows
    ]
    return repair(messages)
