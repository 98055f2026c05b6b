"""The agent: the public face of the run engine (``engine.py``).

One :class:`Agent` is one configuration (model interface, tools, budgets, workspace);
it runs any number of turns in any number of sessions: ``async with agent.turn(prompt)
as turn: async for event in turn``, or ``await agent.run_turn(...)``. What a turn does,
step by step, is the engine's docstring; this module holds what is per agent: its
tools, its depth (delegated children are one level deeper, with at most its tools), its
sessions' one-turn-at-a-time locks and the session's running totals.

Cancellation is an anyio cancel scope around the whole turn (:meth:`Agent.turn` hands
it out as ``Turn.cancel()``); the wall-time budget is a deadline inside it. Tool calls
and delegated children run in task groups inside that scope, so nothing of a cancelled
turn outlives it. A tool call cut short ends with status ``cancelled`` and gets a
placeholder result in the session, so the next turn's conversation stays valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio

from hermes_mcp.agent import engine
from hermes_mcp.agent.budget import Budget
from hermes_mcp.agent.conversation import Conversation
from hermes_mcp.agent.engine import tool_defs
from hermes_mcp.agent.events import Emit, Event, TurnEnd
from hermes_mcp.agent.model import ChatModel
from hermes_mcp.agent.prompt import Prompt, prompt_text
from hermes_mcp.agent.store import SessionNotFound, SessionStore
from hermes_mcp.agent.turn import Turn
from hermes_mcp.agent.turn_state import SessionTotals, TurnState
from hermes_mcp.config import Config
from tools import TOOLSETS, ToolContext, ToolRegistry, build_registry

__all__ = ["Agent", "SessionTotals", "TurnState", "tool_defs"]


class Agent:
    """Runs turns: ``async with agent.turn(prompt) as turn: async for event in turn``.

    ``model`` is the router (or anything with its ``stream``); ``context`` the tool
    context of the workspace, whose ``approver`` answers every risky action of this
    agent and of the children it delegates to; ``toolsets`` default to
    ``config.agent.toolsets``; ``model_name`` overrides ``[model] default`` (the
    fallbacks still follow); ``depth`` is 0 for an agent talking to a user; ``totals``
    the session's running usage (a ``Session`` passes its own, loaded with it).
    """

    def __init__(
        self,
        model: ChatModel,
        store: SessionStore,
        context: ToolContext,
        *,
        config: Config,
        toolsets: Sequence[str] | None = None,
        registry: ToolRegistry | None = None,
        model_name: str | None = None,
        depth: int = 0,
        totals: SessionTotals | None = None,
        conversation: Conversation | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.context = context
        self.config = config
        self.toolsets = tuple(config.agent.toolsets if toolsets is None else toolsets)
        unknown = set(self.toolsets).difference(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolset(s): {', '.join(sorted(unknown))}")
        if registry is None:
            registry = build_registry(t for t in self.toolsets if t != "delegation")
        self.registry = registry
        self.model_name = model_name
        self.depth = depth
        self.totals = totals if totals is not None else SessionTotals()
        self.conversation = conversation
        self._session_locks: dict[str, anyio.Lock] = {}

    @property
    def can_delegate(self) -> bool:
        return "delegation" in self.toolsets and self.depth < self.config.delegation.max_depth

    def child(
        self,
        *,
        toolsets: Sequence[str] | None,
        model: str | None,
        context: ToolContext,
        timeout_s: float | None = None,
    ) -> Agent:
        """The agent of a delegated task: one level deeper, at most this agent's tools,
        its own budget (``timeout_s`` shortens its time limit)."""
        wanted = self.toolsets if toolsets is None else tuple(toolsets)
        unknown = set(wanted).difference(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolset(s): {', '.join(sorted(unknown))}")
        missing = set(wanted).difference(self.toolsets)
        if missing:
            raise ValueError(
                f"toolset(s) not available to the delegating agent: {', '.join(sorted(missing))}"
            )
        config = self.config
        if timeout_s is not None and timeout_s < config.agent.max_duration_s:
            agent = config.agent.model_copy(update={"max_duration_s": timeout_s})
            config = config.model_copy(update={"agent": agent})
        return Agent(
            self.model,
            self.store,
            context,
            config=config,
            toolsets=wanted,
            registry=self.registry.by_toolsets(wanted),
            model_name=model or self.model_name,
            depth=self.depth + 1,
        )

    async def open_session(
        self, session_id: str | None = None, *, title: str = "", parent_id: str | None = None
    ) -> str:
        """A new session (``session_id`` None), or check that ``session_id`` exists."""
        if session_id is None:
            return await self.store.create(
                cwd=str(self.context.cwd), title=title, parent_id=parent_id
            )
        if await self.store.get(session_id) is None:
            raise SessionNotFound(f"no stored session {session_id!r}")
        return session_id

    @asynccontextmanager
    async def turn(
        self, prompt: Prompt, *, session_id: str | None = None, buffer: int = 64
    ) -> AsyncIterator[Turn]:
        """Start a turn in a task of its own and hand out its :class:`Turn`.

        The events go through a memory stream of ``buffer`` events: a consumer that
        stops reading holds the turn back. Leaving the block before ``turn_end`` cancels
        the turn. Raises ``SessionNotFound`` for an unknown ``session_id``.
        """
        sid = await self.open_session(session_id, title=prompt_text(prompt))
        send, receive = anyio.create_memory_object_stream[Event](buffer)
        handle = Turn(sid, receive)

        async def emit(event: Event) -> None:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(event)  # suppressed: nobody is listening any more

        async def drive() -> None:
            with send:
                await self.run_turn(prompt, session_id=sid, emit=emit, cancel_scope=handle.scope)

        async with anyio.create_task_group() as tg:
            tg.start_soon(drive)
            try:
                yield handle
            finally:
                handle.cancel()
                receive.close()

    def _session_lock(self, session_id: str) -> anyio.Lock:
        lock = self._session_locks.get(session_id)
        if lock is None:
            lock = self._session_locks[session_id] = anyio.Lock()
        return lock

    async def run_turn(
        self,
        prompt: Prompt,
        *,
        session_id: str,
        emit: Emit,
        cancel_scope: anyio.CancelScope | None = None,
    ) -> TurnEnd:
        """Run one turn in an existing session; every event goes to ``emit``, the last
        one a ``TurnEnd``, which is also returned. Never raises for a failure (it ends
        the turn with ``error``); cancellation from outside propagates after the turn's
        state is saved."""
        scope = cancel_scope if cancel_scope is not None else anyio.CancelScope()
        context = dataclasses.replace(self.context, session_id=session_id)
        budget = Budget.from_section(self.config.agent)
        st = TurnState(session_id, emit, budget, context, totals=self.totals)
        # One turn at a time per session (in this process): two interleaved turns would
        # store a history no provider accepts.
        async with self._session_lock(session_id):
            return await engine.run_turn(self, prompt, st, scope)
