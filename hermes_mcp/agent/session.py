"""A session: one conversation, the one object a turn runs on, with an explicit lifetime.

Edges ask the runtime (``hermes_mcp/runtime.py``) to create or load a :class:`Session`,
run turns on it, and close it. The run engine (``engine.py``) takes the session and
reads everything a turn needs from it; nothing else claims to be the session. It holds:

- the model interface (the router, shared by every session of the runtime), the store,
  the config (a delegated child's may have a shorter time limit), its depth (0 for a
  session talking to a user; a delegated child is one deeper) and its running totals;
- the workspace roots (the cwd first, then extra directories), the approver, and the
  file and terminal back-ends (local, or an editor's over ACP), in its tool context;
- the policy mode (``ask``, ``accept_edits``, ``auto``), the model (an override of
  ``[model] default``; the configured fallbacks still follow) and the toolsets: all
  three stored with the session and restored on load; the tool registry they make;
- remembered approvals ("allow always" holds for this session only) and the plan
  (rebuilt from the last ``todo`` result on load);
- the one-turn-at-a-time rule, enforced here and only here: a second turn while one
  runs is refused at once (:class:`SessionBusy`), never queued behind it;
- tools from outside (other MCP servers), registered for this session only, and what
  must end with the session (``add_closer``: their connections and processes).

A delegated task runs in ``session.child(...)``: its own stored session (``parent_id``
= this one), sharing this session's model interface and approver.

The engine reaches the session through :class:`SessionDeps` (``deps.engine``, given by
the runtime): the engine imports this module, so this module cannot import it back.

A session is opened by the runtime and must be closed (``await session.close()`` or
``async with``): closing cancels a running turn and releases the session's memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio

from hermes_mcp.agent.events import Emit, Event, TurnEnd
from hermes_mcp.agent.model import ChatModel
from hermes_mcp.agent.prompt import Prompt
from hermes_mcp.agent.store import SessionStore
from hermes_mcp.agent.turn import Turn
from hermes_mcp.agent.turn_state import SessionTotals
from hermes_mcp.config import POLICY_MODES, Config, ModelRef, PolicyMode, config_path
from hermes_mcp.errors import ConfigError, UsageError
from hermes_mcp.log import get_logger
from hermes_mcp.state import Database
from hermes_mcp.state.leases import SessionLease
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


class SessionBusy(UsageError):
    """A turn was asked for while the session is running one."""


def take_lease(db: Database, session_id: str) -> SessionLease | None:
    """The session's turn lease across processes (``state/leases.py``); SessionBusy when
    another process holds it. ``None`` for a database without a file."""
    if str(db.path) in ("", ":memory:"):
        return None
    taken = SessionLease.take(Path(db.path).parent / "leases", session_id)
    if isinstance(taken, int):
        who = f"another process (pid {taken})" if taken else "another process"
        raise SessionBusy(
            f"session {session_id} is already running a turn in {who}: wait for it to end"
        )
    return taken


class SessionClosed(UsageError):
    """The session was closed; load it again to continue it."""


#: The run engine (``engine.run_turn``): one turn of ``session`` from ``prompt`` to its
#: ``turn_end``, every event sent to ``emit``, cancelled through the scope.
Engine = Callable[["Session", Prompt, Emit, anyio.CancelScope], Awaitable[TurnEnd]]


@dataclass(frozen=True)
class SessionDeps:
    """What every session of a runtime shares: the model interface (the router), the
    run engine, the store, the loaded config (and its file, for error messages), the
    database and the state directory."""

    model: ChatModel
    engine: Engine
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


def new_context(
    session_id: str,
    deps: SessionDeps,
    roots: Sequence[Path],
    *,
    mode: PolicyMode | None = None,
    approver: Approver | None = None,
    files: FileBackend | None = None,
    terminal: TerminalBackend | None = None,
    plan: list[dict[str, Any]] | None = None,
) -> ToolContext:
    """The tool context of a session the runtime opens: ``[policy]`` (its rules checked:
    ConfigError) in ``mode``, local back-ends unless an editor's are given, and an
    approver that says no unless one is given."""
    policy = Policy.from_section(deps.config.policy, deps.config_file)
    policy.mode = mode or deps.config.policy.mode
    return ToolContext(
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


@dataclass
class _Live:
    """The running turn's cancel scope, if any, and the tools added from outside."""

    scope: anyio.CancelScope | None = None
    extra_tools: list[Tool[Any]] = field(default_factory=list)


class Session:
    """One conversation. Built by the runtime (``Runtime.create_session`` /
    ``load_session``) or by :meth:`child`; see the module docstring."""

    def __init__(
        self,
        session_id: str,
        deps: SessionDeps,
        *,
        context: ToolContext,
        choices: SessionChoices,
        on_close: Callable[[Session], None] | None = None,
        totals: SessionTotals | None = None,
        config: Config | None = None,
        depth: int = 0,
        registry: ToolRegistry | None = None,
    ) -> None:
        self.id = session_id
        self.totals = totals if totals is not None else SessionTotals()
        self.context = context
        self.policy = context.policy
        self.config = config if config is not None else deps.config
        self.depth = depth
        self._deps = deps
        self._choices = choices
        self._on_close = on_close
        self._closed = False
        self._live = _Live()
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self.toolsets = self._toolsets()
        self.registry = registry if registry is not None else self._registry()

    # -- what the session is -----------------------------------------------------------

    @property
    def chat_model(self) -> ChatModel:
        """The model interface turns call (the router): ``model`` goes first in its chain."""
        return self._deps.model

    @property
    def store(self) -> SessionStore:
        return self._deps.store

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
    def plan(self) -> list[dict[str, Any]]:
        return list(self.context.plans.get(self.id, []))

    @property
    def remembered(self) -> dict[tuple[str, str], bool]:
        """The "always" answers given in this session (tool and exact target)."""
        return self.context.remembered

    @property
    def can_delegate(self) -> bool:
        """Whether turns offer ``delegate_task`` (added per turn to ``registry``'s tools)."""
        return "delegation" in self.toolsets and self.depth < self.config.delegation.max_depth

    @property
    def busy(self) -> bool:
        return self._live.scope is not None

    @property
    def closed(self) -> bool:
        return self._closed

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
        await self._save()
        return checked

    async def set_toolsets(self, toolsets: Iterable[str] | None) -> tuple[str, ...]:
        """The toolsets turns may use (``None``: ``[agent] toolsets``). Stored."""
        self._choices.toolsets = None if toolsets is None else check_toolsets(toolsets)
        self.toolsets = self._toolsets()
        self.registry = self._registry()
        await self._save()
        return self.toolsets

    def add_tools(self, tools: Iterable[Tool[Any]]) -> None:
        """Offer more tools in this session's turns (e.g. another MCP server's, in an
        open toolset with namespaced names). Raises ValueError for a name taken, and
        then adds none of them."""
        previous = self._live.extra_tools
        self._live.extra_tools = [*previous, *tools]
        try:
            self.registry = self._registry()
        except ValueError:
            self._live.extra_tools = previous
            raise

    def remove_tools(self, names: Iterable[str]) -> None:
        gone = set(names)
        self._live.extra_tools = [t for t in self._live.extra_tools if t.name not in gone]
        self.registry = self._registry()

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Await ``closer`` when the session closes (after its turn is cancelled; the
        last added runs first): the MCP client ends its server connections there."""
        self._closers.append(closer)

    # -- turns ---------------------------------------------------------------------------

    @asynccontextmanager
    async def turn(self, prompt: Prompt, *, buffer: int = 64) -> AsyncIterator[Turn]:
        """Run one turn in a task of its own: ``async with session.turn(prompt) as turn:
        async for event in turn``. ``turn.cancel()`` cancels it. SessionBusy while
        another turn runs.

        The events go through a memory stream of ``buffer`` events: a consumer that
        stops reading holds the turn back. Leaving the block before ``turn_end`` cancels
        the turn."""
        scope = anyio.CancelScope()
        with self._running(prompt, scope):
            send, receive = anyio.create_memory_object_stream[Event](buffer)
            handle = Turn(self.id, receive, scope)

            async def emit(event: Event) -> None:
                with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await send.send(event)  # suppressed: nobody is listening any more

            async def drive() -> None:
                with send:
                    await self._deps.engine(self, prompt, emit, scope)

            async with anyio.create_task_group() as tg:
                tg.start_soon(drive)
                try:
                    yield handle
                finally:
                    handle.cancel()
                    receive.close()

    async def run_turn(
        self, prompt: Prompt, emit: Emit, *, cancel_scope: anyio.CancelScope | None = None
    ) -> TurnEnd:
        """Run one turn in this task; every event goes to ``emit``, the last one a
        ``TurnEnd``, which is also returned. A failure ends the turn with ``error``
        (never raised); cancellation from outside propagates after the turn's state is
        saved. SessionBusy while another turn runs."""
        scope = cancel_scope if cancel_scope is not None else anyio.CancelScope()
        with self._running(prompt, scope):
            return await self._deps.engine(self, prompt, emit, scope)

    async def run(self, prompt: Prompt, emit: Emit | None = None) -> TurnEnd:
        """Run one turn to its end, sending each event to ``emit``."""

        async def discard(event: Event) -> None:
            return None

        return await self.run_turn(prompt, emit or discard)

    async def reset_context(self) -> None:
        """A fresh conversation in the same session (``/reset``): the model's next turn
        sees none of what came before; the transcript and replay keep it all.
        SessionBusy while a turn runs."""
        self.check_open()
        if self.busy:
            raise SessionBusy(f"session {self.id} is running a turn: cancel it first")
        await self.store.reset_context(self.id)

    def cancel(self) -> bool:
        """Cancel the running turn (if any); whether there was one."""
        if self._live.scope is None:
            return False
        self._live.scope.cancel()
        return True

    async def child(
        self,
        *,
        title: str,
        context: ToolContext,
        toolsets: Sequence[str] | None = None,
        model: str | None = None,
        timeout_s: float | None = None,
    ) -> Session:
        """A delegated task's session, stored (``parent_id`` = this one): one level
        deeper, at most this session's tools (ValueError for a toolset it does not
        have), the model ``model`` or this session's, its own budget (``timeout_s``
        shortens its time limit), and ``context`` (the delegating call's: its risky
        actions go to this session's approver)."""
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
        child_id = await self.store.create(cwd=str(context.cwd), title=title, parent_id=self.id)
        return Session(
            child_id,
            self._deps,
            context=dataclasses.replace(
                context,
                session_id=child_id,
                call_id=None,
                progress=None,
                parent_call_id=context.call_id,
            ),
            choices=SessionChoices(model=model or self.model, toolsets=wanted),
            config=config,
            depth=self.depth + 1,
            registry=self.registry.by_toolsets(wanted),
        )

    # -- replay and lifetime ---------------------------------------------------------------

    def replay(self) -> AsyncIterator[Event]:
        """The stored session as the events a live turn emitted (``SessionStore.replay``)."""
        return self.store.replay(self.id)

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

    def check_open(self) -> None:
        if self._closed:
            raise SessionClosed(f"session {self.id} is closed")

    @contextlib.contextmanager
    def _running(self, prompt: Prompt, scope: anyio.CancelScope) -> Iterator[None]:
        """The one-turn-at-a-time rule: the turn holds the session while it runs, in this
        process and (through a lease file) across processes."""
        self.check_open()
        if self._live.scope is not None:
            raise SessionBusy(
                f"session {self.id} is already running a turn: wait for it to end or cancel it"
            )
        if (isinstance(prompt, str) and not prompt.strip()) or not prompt:
            raise UsageError("the prompt is empty")
        lease = take_lease(self._deps.store.db, self.id)  # one turn across processes too
        self._live.scope = scope
        try:
            yield
        finally:
            self._live.scope = None
            if lease is not None:
                lease.release()

    def _toolsets(self) -> tuple[str, ...]:
        toolsets = self._choices.toolsets
        if toolsets is not None:
            return toolsets
        try:
            return check_toolsets(self.config.agent.toolsets)
        except UsageError as exc:
            key = "agent.toolsets"
            raise ConfigError(str(exc), file=self._deps.config_file, key=key) from None

    def _registry(self) -> ToolRegistry:
        registry = build_registry(t for t in self.toolsets if t != "delegation")
        for tool in self._live.extra_tools:
            registry.register(tool)
        return registry

    async def _save(self) -> None:
        choices = self._choices
        await self.store.save_settings(
            self.id,
            mode=choices.mode,
            model=choices.model,
            toolsets=None if choices.toolsets is None else list(choices.toolsets),
        )
