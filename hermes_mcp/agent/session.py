"""A session: one conversation, with the state that belongs to it and an explicit lifetime.

Edges never build an :class:`~hermes_mcp.agent.loop.Agent` themselves: they ask the
runtime (``hermes_mcp/runtime.py``) to create or load a :class:`Session`, run turns on
it, and close it. Everything that is per session lives here, not on the agent or in a
process-wide dict:

- the workspace roots (the cwd first, then extra directories), the approver, and the
  file and terminal back-ends (local, or an editor's over ACP);
- the policy mode (``ask``, ``accept_edits``, ``auto``), the model (an override of
  ``[model] default``; the configured fallbacks still follow) and the toolsets: all
  three stored with the session and restored on load;
- remembered approvals ("allow always" holds for this session only) and the plan
  (rebuilt from the last ``todo`` result on load);
- the one-turn-at-a-time rule: a second turn while one runs is refused at once
  (:class:`SessionBusy`), never queued behind it;
- tools from outside (other MCP servers), registered for this session only, and what
  must end with the session (``add_closer``: their connections and processes).

A session is opened by the runtime and must be closed (``await session.close()`` or
``async with``): closing cancels a running turn and releases the session's memory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio

from hermes_mcp.agent.conversation import Conversation
from hermes_mcp.agent.delegation import run_tasks, task_usage
from hermes_mcp.agent.engine import compact_now as engine_compact
from hermes_mcp.agent.events import ContextCompacted, Emit, Event, TurnEnd
from hermes_mcp.agent.loop import Agent
from hermes_mcp.agent.model import ChatModel, bind
from hermes_mcp.agent.prompt import Prompt
from hermes_mcp.agent.store import SessionStore
from hermes_mcp.agent.turn import Turn
from hermes_mcp.agent.turn_state import SessionTotals
from hermes_mcp.config import POLICY_MODES, Config, ModelRef, PolicyMode, config_path
from hermes_mcp.errors import ConfigError, UsageError
from hermes_mcp.log import get_logger
from hermes_mcp.state import Database
from tools import (
    TOOLSETS,
    Approver,
    FileBackend,
    LocalFiles,
    LocalTerminal,
    NonInteractiveApprover,
    Policy,
    TerminalBackend,
    Tool,
    ToolContext,
    ToolRegistry,
    build_registry,
)
from tools.delegation import DelegatedTask, DelegationOutput


class SessionBusy(UsageError):
    """A turn was asked for while the session is running one."""


class SessionClosed(UsageError):
    """The session was closed; load it again to continue it."""


@dataclass(frozen=True)
class SessionDeps:
    """What every session of a runtime shares: the model interface (the router), the
    store, the loaded config (and its file, for error messages), the database and the
    state directory."""

    model: ChatModel
    store: SessionStore
    config: Config
    config_file: str | None
    db: Database
    state_dir: Path | None


@dataclass
class SessionChoices:
    """What a session chose, stored with it; ``None`` means "as the config says"."""

    mode: PolicyMode | None = None
    model: str | None = None
    toolsets: tuple[str, ...] | None = None


def check_mode(mode: str) -> PolicyMode:
    for known in POLICY_MODES:
        if mode == known:
            return known
    raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(POLICY_MODES)}")


def check_toolsets(toolsets: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(toolsets))
    unknown = sorted(set(wanted).difference(TOOLSETS))
    if unknown:
        raise UsageError(
            f"unknown toolset(s) {', '.join(unknown)}: choose from {', '.join(TOOLSETS)}"
        )
    return wanted


def check_model(model: str, config: Config) -> str:
    try:
        ref = ModelRef.parse(model)
    except ValueError as exc:
        raise UsageError(f"model {model!r}: {exc}") from None
    if ref.provider not in config.providers:
        known = ", ".join(sorted(config.providers)) or "none is configured"
        raise UsageError(f"model {model!r}: no provider {ref.provider!r} ({known})")
    return str(ref)


@dataclass
class _Live:
    """The running turn, if any."""

    turn: Turn | None = None
    extra_tools: list[Tool[Any]] = field(default_factory=list)


class Session:
    """One conversation. Built by the runtime (``Runtime.create_session`` /
    ``load_session``); see the module docstring."""

    def __init__(
        self,
        session_id: str,
        deps: SessionDeps,
        *,
        roots: Sequence[Path],
        choices: SessionChoices,
        approver: Approver | None = None,
        files: FileBackend | None = None,
        terminal: TerminalBackend | None = None,
        plan: list[dict[str, Any]] | None = None,
        on_close: Callable[[Session], None] | None = None,
        totals: SessionTotals | None = None,
    ) -> None:
        self.id = session_id
        self.totals = totals if totals is not None else SessionTotals()
        self._deps = deps
        self._choices = choices
        self._on_close = on_close
        self._closed = False
        self._live = _Live()
        self._closers: list[Callable[[], Awaitable[None]]] = []
        policy = Policy.from_section(deps.config.policy, deps.config_file)
        policy.mode = choices.mode or deps.config.policy.mode
        self.policy = policy
        self.context = ToolContext(
            tuple(roots),
            policy=policy,
            approver=approver or NonInteractiveApprover(),
            files=files or LocalFiles(),
            terminal=terminal or LocalTerminal(),
            db=deps.db,
            session_id=session_id,
            state_dir=deps.state_dir,
            plans={session_id: list(plan or [])},
            remembered={},
            approval_timeout_s=deps.config.policy.approval_timeout_s,
            config_file=config_path() if deps.config_file is None else Path(deps.config_file),
        )
        self.conversation = Conversation(
            session_id,
            deps.store,
            db=deps.db,
            cwd=self.context.cwd,
            state_dir=deps.state_dir,
            config_file=self.context.config_file,
        )
        self._agent = self._build_agent()

    # -- what the session is -----------------------------------------------------------

    @property
    def cwd(self) -> Path:
        return self.context.cwd

    @property
    def roots(self) -> tuple[Path, ...]:
        return self.context.roots

    @property
    def mode(self) -> PolicyMode:
        return self.policy.mode

    @property
    def model(self) -> str | None:
        """The session's model override (``None``: ``[model] default``)."""
        return self._choices.model

    @property
    def toolsets(self) -> tuple[str, ...]:
        return self._agent.toolsets

    @property
    def plan(self) -> list[dict[str, Any]]:
        return list(self.context.plans.get(self.id, []))

    @property
    def remembered(self) -> dict[tuple[str, str], bool]:
        """The "always" answers given in this session (tool and exact target)."""
        return self.context.remembered

    @property
    def registry(self) -> ToolRegistry:
        """The tools a turn of this session offers (``delegate_task`` is added per turn)."""
        return self._agent.registry

    @property
    def busy(self) -> bool:
        return self._live.turn is not None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def agent(self) -> Agent:
        return self._agent

    # -- changing it ---------------------------------------------------------------------

    async def set_mode(self, mode: str) -> PolicyMode:
        """Switch the policy mode for this session only; stored. UsageError if unknown."""
        checked = check_mode(mode)
        self.policy.mode = checked
        self._choices.mode = checked
        await self._save()
        return checked

    async def set_model(self, model: str | None) -> str | None:
        """Use ``model`` (``provider:model``) first, the configured fallbacks after it;
        ``None`` goes back to ``[model] default``. Stored. UsageError if unknown."""
        checked = None if model is None else check_model(model, self._deps.config)
        self._choices.model = checked
        self._agent = self._build_agent()
        await self._save()
        return checked

    async def set_toolsets(self, toolsets: Iterable[str] | None) -> tuple[str, ...]:
        """The toolsets turns may use (``None``: ``[agent] toolsets``). Stored."""
        self._choices.toolsets = None if toolsets is None else check_toolsets(toolsets)
        self._agent = self._build_agent()
        await self._save()
        return self.toolsets

    def add_tools(self, tools: Iterable[Tool[Any]]) -> None:
        """Offer more tools in this session's turns (e.g. another MCP server's, in an
        open toolset with namespaced names). Raises ValueError for a name taken, and
        then adds none of them."""
        previous = self._live.extra_tools
        self._live.extra_tools = [*previous, *tools]
        try:
            self._agent = self._build_agent()
        except ValueError:
            self._live.extra_tools = previous
            raise

    def remove_tools(self, names: Iterable[str]) -> None:
        gone = set(names)
        self._live.extra_tools = [t for t in self._live.extra_tools if t.name not in gone]
        self._agent = self._build_agent()

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Await ``closer`` when the session closes (after its turn is cancelled; the
        last added runs first): the MCP client ends its server connections there."""
        self._closers.append(closer)

    # -- turns ---------------------------------------------------------------------------

    @asynccontextmanager
    async def turn(self, prompt: Prompt, *, buffer: int = 64) -> AsyncIterator[Turn]:
        """Run one turn: ``async with session.turn(prompt) as turn: async for event in
        turn``. ``turn.cancel()`` cancels it. SessionBusy while another turn runs."""
        self._check_open()
        if self._live.turn is not None:
            raise SessionBusy(
                f"session {self.id} is already running a turn: wait for it to end or cancel it"
            )
        if (isinstance(prompt, str) and not prompt.strip()) or not prompt:
            raise UsageError("the prompt is empty")
        async with self._agent.turn(prompt, session_id=self.id, buffer=buffer) as handle:
            self._live.turn = handle
            try:
                yield handle
            finally:
                self._live.turn = None

    async def run(self, prompt: Prompt, emit: Emit | None = None) -> TurnEnd:
        """Run one turn to its end, sending each event to ``emit``."""
        async with self.turn(prompt) as handle:
            async for event in handle:
                if emit is not None:
                    await emit(event)
        if handle.outcome is None:
            raise RuntimeError("the turn ended without a turn_end event")
        return handle.outcome

    async def reset_context(self) -> None:
        """A fresh conversation in the same session (``/reset``): the model's next turn
        sees none of what came before; the transcript and replay keep it all.
        SessionBusy while a turn runs."""
        self._check_open()
        if self._live.turn is not None:
            raise SessionBusy(f"session {self.id} is running a turn: cancel it first")
        await self._deps.store.reset_context(self.id)
        self.conversation.forget()

    async def compact(self, focus: str | None = None) -> ContextCompacted:
        """Compact the conversation now (``/compact [focus]``): old tool outputs elided
        and the older turns summarised (``focus`` says what the summary should keep),
        whatever its size; stored like an automatic compaction (a ``compaction`` event
        is not emitted: there is no turn). SessionBusy while a turn runs; UsageError
        when no model is configured or nothing is old enough to summarise."""
        self._check_open()
        if self._live.turn is not None:
            raise SessionBusy(f"session {self.id} is running a turn: wait for it to end")
        return await engine_compact(self._agent, self.conversation, focus)

    def cancel(self) -> bool:
        """Cancel the running turn (if any); whether there was one."""
        if self._live.turn is None:
            return False
        self._live.turn.cancel()
        return True

    async def delegate(
        self, tasks: Sequence[DelegatedTask], *, emit: Emit | None = None, deltas: bool = False
    ) -> DelegationOutput:
        """Run ``tasks`` as delegated children outside any turn (the MCP edge's
        ``delegate_task``): concurrently up to ``delegation.max_concurrency``, the rest
        queued, each in a child session of this one, with this session's approver and
        router. Progress goes to ``emit`` as ``child`` events (the call id is a fresh
        ``delegate-<hex>``); a child's own call ids are its session's, so an edge that
        shows them next to the parent's must qualify them with ``ChildUpdate.session_id``.
        ``deltas=True`` forwards the children's text and thought deltas too (as
        ``child`` progress events), for an edge that streams them. The children's tokens
        and cost join this session's totals.
        """
        self._check_open()

        async def discard(event: Event) -> None:
            return None

        call_id = f"delegate-{uuid.uuid4().hex[:12]}"
        ctx = self.context.for_call(call_id)
        results = await run_tasks(
            self._agent, list(tasks), ctx, self.id, emit or discard, deltas=deltas
        )
        for result in results:
            self.totals.add(task_usage(result), result.cost_usd)
        return DelegationOutput(results=results)

    # -- replay and lifetime ---------------------------------------------------------------

    def replay(self) -> AsyncIterator[Event]:
        """The stored session as the events a live turn emitted (``SessionStore.replay``)."""
        return self._deps.store.replay(self.id)

    async def close(self) -> None:
        """Cancel a running turn and release the session (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.cancel()
        closers, self._closers = self._closers, []
        for closer in reversed(closers):
            with anyio.CancelScope(shield=True):
                try:
                    await closer()
                except Exception as exc:  # one failing closer must not keep the others
                    get_logger("hermes_mcp.session").error("session_closer_failed", error=exc)
        if self._on_close is not None:
            self._on_close(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- inside ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosed(f"session {self.id} is closed")

    def _build_agent(self) -> Agent:
        config = self._deps.config
        toolsets = self._choices.toolsets
        if toolsets is None:
            try:
                toolsets = check_toolsets(config.agent.toolsets)
            except UsageError as exc:
                key = "agent.toolsets"
                raise ConfigError(str(exc), file=self._deps.config_file, key=key) from None
        registry = build_registry(t for t in toolsets if t != "delegation")
        for tool in self._live.extra_tools:
            registry.register(tool)
        model = self._deps.model
        if self._choices.model is not None:
            model = bind(model, self._choices.model)
        return Agent(
            model,
            self._deps.store,
            self.context,
            config=config,
            toolsets=toolsets,
            registry=registry,
            totals=self.totals,
            conversation=self.conversation,
        )

    async def _save(self) -> None:
        choices = self._choices
        await self._deps.store.save_settings(
            self.id,
            mode=choices.mode,
            model=choices.model,
            toolsets=None if choices.toolsets is None else list(choices.toolsets),
        )
