"""What the MCP server holds for its one client (stdio serves one): the runtime; the
workspace; the sessions it keeps open (``sessions.McpSession``: each with its approver,
its 2026-07-28 interactions and the connection it may elicit on), and the one that holds
direct tool calls; the background jobs; the client's log level.

Loading comes in two steps so that the handshake is as fast as the SDK allows and a
host that only lists the tools pays little memory: the tools and the config load in a
worker thread once the first answer is on the wire (``await edge.listed()``); the
runtime (the router and its HTTP stack, the database) opens when the first request
needs it (``await edge.loaded()``).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError

from hermes_mcp.log import get_logger
from hermes_mcp.mcp_server.approvals import Ctx as Ctx
from hermes_mcp.mcp_server.approvals import Interaction
from hermes_mcp.mcp_server.prompt_text import Changes
from hermes_mcp.mcp_server.sessions import McpApprover, McpSession

if TYPE_CHECKING:
    from hermes_mcp.agent.jobs import Jobs
    from hermes_mcp.config import Settings
    from hermes_mcp.mcp_client import McpClient
    from hermes_mcp.mcp_server.catalog import Catalog
    from hermes_mcp.runtime import Runtime
    from tools import ToolContext

_log = get_logger("hermes_mcp.mcp_server")

LOG_LEVELS: tuple[types.LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)
ROOT_REFUSAL = (
    "the workspace is / (hosts often start servers there), so file and terminal tools are "
    "off: add --workspace DIR to this server's args in the host's config (see the README), "
    "or use a client that offers roots"
)
DIRECT_SESSION = "mcp"  # the session id of direct tool calls (no agent turn)
OPEN_SESSIONS = 32  # sessions kept open (their "always" approvals) before the oldest closes


def _import_runtime() -> None:
    """What a call needs on top: the runtime (the router and its HTTP stack)."""
    import hermes_mcp.mcp_client
    import hermes_mcp.runtime  # noqa: F401


class Edge:
    def __init__(
        self, workspaces: list[Path], *, preload: Callable[[], None] | None = None
    ) -> None:
        """``preload`` imports what ``tools/list`` needs (the server's modules and the
        tools), in a worker thread, once the first answer is on the wire."""
        self._preload = preload or (lambda: None)
        self.explicit = [p.expanduser().resolve() for p in workspaces]
        self.client_roots: list[Path] | None = None
        self.mcp_client: McpClient | None = None
        self.log_level: types.LoggingLevel = "info"
        self.settings: Settings | None = None
        self.runtime: Runtime | None = None
        self.jobs: Jobs | None = None
        self.catalog: Catalog | None = None
        self.problem: str | None = None  # why nothing can run (a broken config file)
        self.changes = Changes()  # the whole of changes approval prompts showed in part
        self.direct = McpSession(changes=self.changes)  # direct tool calls (no agent turn)
        self.sessions: OrderedDict[str, McpSession] = OrderedDict()  # most recent last
        self._listed = anyio.Event()  # the catalog is there
        self._ready = anyio.Event()  # the runtime is there (or cannot be)
        self._wanted = anyio.Event()
        self._runtime_wanted = anyio.Event()
        self._stop = anyio.Event()

    # -- lifetime ----------------------------------------------------------------------------

    async def run(self, start: anyio.Event) -> None:
        """Load in two steps. The tools and the config, once ``start`` is set (the first
        answer was written) or a request needs them (a client may open with
        ``tools/list``). The runtime (router, HTTP stack, database), when the first
        request needs it (``tools/call``, resources): a host that only lists the tools
        never pays its memory. Then hold it open until :meth:`stop`. A failure to load
        is every call's error, never a crash."""
        try:
            if await _first(start, self._wanted, stop=self._stop):
                await self._load_tools()
            self._listed.set()
            if self.problem is None and await _first(self._runtime_wanted, stop=self._stop):
                await self._open_runtime()
        except Exception as exc:  # a bug while loading: every call says so
            _log.error("mcp_load_failed", error=exc)
            self.problem = f"hermes-mcp failed to start: {type(exc).__name__}: {exc}"
        finally:
            self.runtime = None
            self._listed.set()
            self._ready.set()

    async def _load_tools(self) -> None:
        await anyio.to_thread.run_sync(self._preload)
        from hermes_mcp.config import load_settings
        from hermes_mcp.errors import HermesError
        from hermes_mcp.mcp_server.catalog import Catalog

        self.catalog = Catalog.build(None)
        try:
            self.settings = load_settings(required=False)
        except HermesError as exc:
            self.problem = f"hermes-mcp cannot run: {exc}"
            _log.error("mcp_config_error", error=str(exc))
            return
        self.catalog = Catalog.build(self.settings.config.mcp.toolsets)

    async def _open_runtime(self) -> None:
        await anyio.to_thread.run_sync(_import_runtime)
        from hermes_mcp.agent.jobs import Jobs
        from hermes_mcp.errors import HermesError
        from hermes_mcp.mcp_client import install
        from hermes_mcp.runtime import open_runtime

        assert self.settings is not None
        mcp = self.settings.config.mcp
        try:
            async with open_runtime(self.settings) as rt:
                self.runtime = rt
                self.mcp_client = install(rt)  # [mcp_servers] for every session
                self.jobs = Jobs(
                    rt.task_group,
                    retention_s=mcp.job_retention_s,
                    max_running=mcp.max_jobs,
                )
                self._ready.set()
                await self._stop.wait()
                self.jobs.cancel_all()
        except HermesError as exc:
            self.problem = f"hermes-mcp cannot run: {exc}"
            _log.error("mcp_runtime_error", error=str(exc))
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        self._stop.set()

    async def listed(self) -> None:
        """Wait for what ``tools/list`` needs (the catalog)."""
        self._wanted.set()
        await self._listed.wait()

    async def loaded(self) -> None:
        """Wait for the runtime (or for the reason there is none: ``problem``)."""
        self._wanted.set()
        self._runtime_wanted.set()
        await self._ready.wait()

    def rt(self) -> Runtime:
        """The runtime, or an error that says why there is none."""
        if self.runtime is None:
            raise MCPError(code=types.INTERNAL_ERROR, message=self.problem or "shutting down")
        return self.runtime

    # -- the client ---------------------------------------------------------------------------

    def interaction(self, token: str) -> tuple[McpSession, Interaction] | None:
        """The 2026-07-28 work a retry's ``requestState`` names, and its session."""
        for owner in (self.direct, *self.sessions.values()):
            found = owner.interactions.get(token)
            if found is not None:
                return owner, found
        return None

    def owner_of(self, session_id: str) -> McpSession | None:
        """The open session with this id (as this edge holds it)."""
        return self.sessions.get(session_id)

    def wants_log(self, level: types.LoggingLevel) -> bool:
        return LOG_LEVELS.index(level) >= LOG_LEVELS.index(self.log_level)

    async def log(self, ctx: Ctx, level: types.LoggingLevel, data: Any) -> None:
        """A ``notifications/message`` for this request (the SDK applies the 2026-07-28
        per-request opt-in; in the handshake era ``logging/setLevel`` decides here)."""
        if ctx.session.can_send_request and not self.wants_log(level):
            return
        try:
            await ctx.session.send_log_message(level, data, "hermes", ctx.request_id)
        except Exception as exc:  # the wire went away: the work goes on
            _log.debug("mcp_log_failed", error=exc)

    # -- the workspace ------------------------------------------------------------------------

    async def roots(self, ctx: Ctx) -> tuple[Path, ...]:
        """``--workspace`` dirs; else the client's roots (when it offers them); else cwd."""
        if self.explicit:
            return tuple(self.explicit)
        if self.client_roots is None:
            self.client_roots = await self._ask_roots(ctx)
        if self.client_roots:
            return tuple(self.client_roots)
        return (Path.cwd().resolve(),)

    async def _ask_roots(self, ctx: Ctx) -> list[Path]:
        caps = ctx.session.client_capabilities
        if not (caps and caps.roots is not None and ctx.session.can_send_request):
            return []
        try:
            with anyio.fail_after(10):
                listed = await ctx.session.list_roots()
        except Exception as exc:
            _log.info("mcp_roots_failed", error=exc)
            return []
        uris = [urlparse(str(root.uri)) for root in listed.roots]
        paths = [Path(unquote(u.path)) for u in uris if u.scheme == "file"]
        return await anyio.to_thread.run_sync(lambda: [p.resolve() for p in paths if p.is_dir()])

    async def workspace(self, ctx: Ctx, *, needs_disk: bool) -> tuple[Path, ...] | str:
        """The roots, or why the tool refuses (the workspace would be ``/``)."""
        roots = await self.roots(ctx)
        if needs_disk and any(r == Path(r.anchor) for r in roots):
            return ROOT_REFUSAL
        return roots

    def tool_context(
        self,
        roots: tuple[Path, ...],
        progress: Any = None,
        approver: McpApprover | None = None,
    ) -> ToolContext:
        """The context of a direct tool call (not inside an agent turn): one per set of
        roots, built once (the policy parsed, the roots resolved); ``progress`` and the
        approver (default: the direct calls' own) per call."""
        base = self.direct.contexts.get(roots)
        if base is None:
            base = self.direct.contexts[roots] = self._direct_context(roots)
        return dataclasses.replace(
            base, progress=progress, approver=approver or self.direct.approver
        )

    def _direct_context(self, roots: tuple[Path, ...]) -> ToolContext:
        from tools import Policy, ToolContext

        rt = self.rt()
        config = rt.settings.config
        file = str(rt.settings.source) if rt.settings.source else None
        return ToolContext(
            roots,
            policy=Policy.from_section(config.policy, file),
            approver=self.direct.approver,
            db=rt.db,
            session_id=DIRECT_SESSION,
            state_dir=rt.settings.home,
            plans=self.direct.plans,
            remembered=self.direct.remembered,
            approval_timeout_s=config.policy.approval_timeout_s,
        )

    # -- sessions -----------------------------------------------------------------------------

    async def session(
        self,
        ctx: Ctx,
        roots: tuple[Path, ...],
        *,
        session_id: str | None,
        model: str | None,
        toolsets: list[str] | None,
        title: str,
    ) -> McpSession:
        """A new session, or a stored one continued; kept open (most recent last), with
        its own approver; ``ctx`` (this request) becomes the connection it may ask on."""
        from hermes_mcp.runtime import Backends

        rt = self.rt()
        owner = self.sessions.get(session_id) if session_id is not None else None
        if owner is None:
            owner = McpSession(changes=self.changes)
        backends = Backends(approver=owner.approver)
        if session_id is None:
            session = await rt.create_session(
                roots[0],
                extra_roots=roots[1:],
                backends=backends,
                model=model,
                toolsets=_agent_toolsets(toolsets),
                title=title,
            )
        else:
            session = rt.get(session_id) or await rt.load_session(
                session_id, extra_roots=roots[1:], backends=backends
            )
            if model is not None:
                await session.set_model(model)
            if toolsets is not None:
                await session.set_toolsets(_agent_toolsets(toolsets))
        if session.id not in self.sessions and self.mcp_client is not None:
            # [mcp_servers] that failed for this session: named to the host once.
            for problem in self.mcp_client.problems(session):
                await self.log(ctx, "warning", problem)
        owner.session = session
        owner.used_by(ctx)
        self.sessions[session.id] = owner
        self.sessions.move_to_end(session.id)
        await self._trim()
        return owner

    async def _trim(self) -> None:
        while len(self.sessions) > OPEN_SESSIONS:
            idle = next((o for o in self.sessions.values() if _idle(o)), None)
            if idle is None or idle.session is None:
                return
            del self.sessions[idle.session.id]
            await idle.session.close()


async def _first(*events: anyio.Event, stop: anyio.Event) -> bool:
    """Wait until one of ``events`` or ``stop`` is set; whether it was not ``stop``."""
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in (*events, stop):
            tg.start_soon(wait, event)
    return not stop.is_set()


def _idle(owner: McpSession) -> bool:
    session = owner.session
    return session is not None and not session.busy and owner.waiting is None


def _agent_toolsets(toolsets: list[str] | None) -> list[str] | None:
    """The toolsets an agent turn may use; the MCP-only name ``agent`` means delegation."""
    if toolsets is None:
        return None
    return list(dict.fromkeys("delegation" if t == "agent" else t for t in toolsets))
