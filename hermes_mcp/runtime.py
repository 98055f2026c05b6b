"""The one composition root: settings → database → credential state → router → sessions.

Every entry point (``ask``, ``run``, ``doctor --probe``, the MCP and ACP edges) opens a
:class:`Runtime` and nothing else builds a ``Router`` or opens the database::

    async with open_runtime(settings) as runtime:
        session = await runtime.create_session(Path.cwd(), approver=...)
        async with session.turn("fix the failing test") as turn:
            async for event in turn: ...
        await session.close()

The runtime owns, for its lifetime: the database, the router (its HTTP clients), the
store, the sessions that are open (a session leaves the registry when it is closed,
so nothing only grows), and a task group for work that outlives the request that
started it (``runtime.task_group``: the MCP edge's background jobs run there).

A runtime opens without a usable provider (no config file, no ``[model]``): sessions
can be created, listed and replayed, and a turn then ends in ``error`` with the
configuration problem named (``settings.problem`` says it up front).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from hermes_mcp.agent import engine
from hermes_mcp.agent.model import ChatModel
from hermes_mcp.agent.session import (
    Session,
    SessionChoices,
    SessionDeps,
    check_mode,
    check_model,
    check_toolsets,
    new_context,
)
from hermes_mcp.agent.store import SessionNotFound, SessionStore
from hermes_mcp.config import Settings, load_settings
from hermes_mcp.errors import ConfigError
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.router import Router
from hermes_mcp.log import get_logger
from hermes_mcp.state import Database, open_database
from tools import Approver, FileBackend, TerminalBackend

log = get_logger("hermes_mcp.runtime")

#: Called with each session the runtime opens (created, loaded or forked), before it is
#: handed out: an edge's MCP client connects the configured servers there. A hook that
#: raises is logged; the session still opens.
SessionHook = Callable[["Runtime", Session], Awaitable[None]]


@dataclass(frozen=True)
class Backends:
    """How one session reaches files, commands and a person (an editor's, or local)."""

    approver: Approver | None = None
    files: FileBackend | None = None
    terminal: TerminalBackend | None = None


class Runtime:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        router: Router,
        task_group: anyio.abc.TaskGroup,
        *,
        model: ChatModel | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.router = router
        self.store = SessionStore(db)
        self.task_group = task_group
        self._sessions: dict[str, Session] = {}
        self.session_hooks: list[SessionHook] = []
        file = str(settings.source) if settings.source else None
        self._deps = SessionDeps(
            model=model if model is not None else router,
            engine=engine.run_turn,
            store=self.store,
            config=settings.config,
            config_file=file,
            db=db,
            state_dir=settings.home,
        )

    @property
    def problem(self) -> str | None:
        """Why no turn can be answered yet (no ``[model]`` section), or ``None``."""
        try:
            self.settings.chain  # noqa: B018
        except ConfigError as exc:
            return str(exc)
        return None

    @property
    def sessions(self) -> tuple[Session, ...]:
        """The sessions open in this process."""
        return tuple(self._sessions.values())

    def get(self, session_id: str) -> Session | None:
        """The open session with this id, if it is open in this process."""
        return self._sessions.get(session_id)

    async def create_session(
        self,
        cwd: Path,
        *,
        extra_roots: Sequence[Path] = (),
        backends: Backends | None = None,
        mode: str | None = None,
        model: str | None = None,
        toolsets: Iterable[str] | None = None,
        title: str = "",
        session_id: str | None = None,
    ) -> Session:
        """A new stored session working in ``cwd`` (plus ``extra_roots``). ``mode``,
        ``model`` and ``toolsets`` override the config for this session (UsageError when
        one is unknown); no network is touched. ``session_id``: an id the caller already
        gave out (the ACP edge answers ``session/new`` before the runtime is open)."""
        choices = SessionChoices(
            mode=None if mode is None else check_mode(mode),
            model=None if model is None else check_model(model, self.settings.config),
            toolsets=None if toolsets is None else check_toolsets(toolsets),
        )
        roots = (cwd, *extra_roots)
        session_id = await self.store.create(cwd=str(roots[0]), title=title, session_id=session_id)
        if choices != SessionChoices():
            await self.store.save_settings(
                session_id,
                mode=choices.mode,
                model=choices.model,
                toolsets=None if choices.toolsets is None else list(choices.toolsets),
            )
        try:
            session = self._open(session_id, roots, choices, backends, plan=None)
        except Exception:
            await self.store.delete(session_id)  # a config the session cannot open with
            raise
        return await self._opened(session)

    async def load_session(
        self,
        session_id: str,
        *,
        cwd: Path | None = None,
        extra_roots: Sequence[Path] = (),
        backends: Backends | None = None,
    ) -> Session:
        """Open a stored session (its mode, model, toolsets and plan restored). Returns
        the open one when it is already open here. ``cwd`` defaults to the session's own
        workspace. SessionNotFound for an unknown id."""
        open_already = self._sessions.get(session_id)
        if open_already is not None:
            return open_already
        info = await self.store.get(session_id)
        if info is None:
            raise SessionNotFound.named(session_id)
        mode, model, toolsets = await self.store.load_settings(session_id)
        choices = SessionChoices(
            mode=None if mode is None else check_mode(mode),
            model=model,
            toolsets=None if toolsets is None else tuple(toolsets),
        )
        plan = await self.store.last_plan(session_id)
        usage, cost = await self.store.totals(session_id)
        roots = (cwd or Path(info.cwd), *extra_roots)
        session = self._open(session_id, roots, choices, backends, plan=plan)
        session.totals.add(usage, cost)
        return await self._opened(session)

    async def fork_session(self, session_id: str, *, backends: Backends | None = None) -> Session:
        """A copy of a stored session (its messages and choices), opened."""
        if await self.store.get(session_id) is None:
            raise SessionNotFound.named(session_id)
        new_id = await self.store.fork(session_id)
        mode, model, toolsets = await self.store.load_settings(session_id)
        await self.store.save_settings(new_id, mode=mode, model=model, toolsets=toolsets)
        return await self.load_session(new_id, backends=backends)

    async def aclose(self) -> None:
        for session in list(self._sessions.values()):
            await session.close()

    def _open(
        self,
        session_id: str,
        roots: Sequence[Path],
        choices: SessionChoices,
        backends: Backends | None,
        *,
        plan: list[dict[str, Any]] | None,
    ) -> Session:
        backends = backends or Backends()
        context = new_context(
            session_id,
            self._deps,
            roots,
            mode=choices.mode,
            approver=backends.approver,
            files=backends.files,
            terminal=backends.terminal,
            plan=plan,
        )
        session = Session(
            session_id, self._deps, context=context, choices=choices, on_close=self._forget
        )
        self._sessions[session_id] = session
        return session

    async def _opened(self, session: Session) -> Session:
        for hook in self.session_hooks:
            try:
                await hook(self, session)
            except Exception as exc:
                log.error("session_hook_failed", session_id=session.id, error=exc)
        return session

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None, *, model: ChatModel | None = None
) -> AsyncIterator[Runtime]:
    """Open the runtime (``settings`` default: ``load_settings(required=False)``).
    ConfigError for a configuration that cannot be loaded; StateError for the database.
    ``model`` replaces the router as the sessions' model interface (tests: e.g.
    ``hermes_mcp.testing.scripted.ScriptedModel``); ``runtime.router`` stays the router."""
    if settings is None:
        settings = load_settings(required=False)
    db = open_database(settings.db_path)
    try:
        async with Router(settings, CredentialStateStore(db)) as router:
            try:
                async with anyio.create_task_group() as tg:
                    runtime = Runtime(settings, db, router, tg, model=model)
                    try:
                        yield runtime
                    finally:
                        await runtime.aclose()
                        tg.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                # The task group wraps what the caller's block raised; hand back the
                # caller's own exception (background work logs its failures itself).
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
    finally:
        db.close()
