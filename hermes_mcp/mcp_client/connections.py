"""The MCP servers of one session, with the session's lifetime; and the runtime's client.

:func:`connect_session_servers` connects a list of servers for one session: every
server at once, each bounded by its ``startup_timeout_s``; it returns when each one is
ready (its tools registered in the session) or has failed (named, left out). The
connections live in one task of a long-lived task group (the runtime's) and end when
the session closes (``Session.add_closer``): every child process is stopped by then.

Problems — a server that fails to start, goes away, lists garbage — are reported once
each: a log line (``mcp_server_problem``), and to every ``watch`` callback, which is how
an edge tells the person (an ACP agent message, an MCP log notification). A watcher
added late is told the problems so far.

:class:`McpClient` is what an entry point installs on its runtime (:func:`install`):
it connects ``[mcp_servers]`` for every session the runtime opens, and the servers an
editor passes (``connect``); ``watch(session, notify)`` covers both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from hermes_mcp.log import get_logger
from hermes_mcp.mcp_client.connection import ServerConnection
from hermes_mcp.mcp_client.spec import ServerSpec, specs_from_config

if TYPE_CHECKING:
    from hermes_mcp.agent.session import Session
    from hermes_mcp.runtime import Runtime

log = get_logger("hermes_mcp.mcp_client")

Notify = Callable[[str], Awaitable[None]]


class McpConnections:
    """Some MCP servers of one session (see the module docstring)."""

    def __init__(self, session: Session, specs: Sequence[ServerSpec]) -> None:
        self.session = session
        self.servers = [ServerConnection(spec, session, self._report) for spec in specs]
        self.problems: list[str] = []
        self._watchers: list[Notify] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._done = anyio.Event()

    def watch(self, notify: Notify, *, past: bool = True) -> None:
        """Call ``notify(message)`` for every problem: those so far (unless ``past`` is
        false), then each new one."""
        self._watchers.append(notify)
        for problem in self.problems if past else ():
            self._tell(notify, problem)

    @property
    def tools(self) -> list[str]:
        return [name for server in self.servers for name in server.registered]

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Connect every server, report started when each is ready or failed, then keep
        the connections until :meth:`aclose` (or until this task is cancelled)."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for server in self.servers:
                    tg.start_soon(server.run, name=f"mcp server {server.name}")
                for server in self.servers:
                    await server.settled.wait()
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self._tg = None
            for server in self.servers:
                if server.registered and not self.session.closed:
                    self.session.remove_tools(server.registered)
                server.registered = []
            self._done.set()

    async def aclose(self) -> None:
        """End every connection (child processes stopped) and wait until they have."""
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            await self._done.wait()

    def _report(self, problem: str) -> None:
        log.warning("mcp_server_problem", session_id=self.session.id, problem=problem)
        self.problems.append(problem)
        for notify in self._watchers:
            self._tell(notify, problem)

    def _tell(self, notify: Notify, problem: str) -> None:
        async def tell() -> None:
            try:
                await notify(problem)
            except Exception as exc:
                log.warning("mcp_notify_failed", error=exc)

        if self._tg is not None:
            self._tg.start_soon(tell)


async def connect_session_servers(
    session: Session,
    servers: Sequence[ServerSpec],
    *,
    task_group: anyio.abc.TaskGroup,
    notify: Notify | None = None,
) -> McpConnections:
    """Connect ``servers`` for ``session`` (their tools registered as ``<name>__<tool>``)
    in ``task_group``, which must outlive the session (the runtime's); they end when
    the session closes. Returns once every server is ready or has failed. A stdio
    server without a ``cwd`` starts in the session's workspace."""
    # A stdio server without a cwd starts in the session's workspace.
    servers = [s if s.cwd is not None else replace(s, cwd=session.cwd) for s in servers]
    connections = McpConnections(session, servers)
    if notify is not None:
        connections.watch(notify)
    if servers:
        await task_group.start(connections.run, name=f"mcp servers of {session.id}")
        session.add_closer(connections.aclose)
    return connections


class McpClient:
    """The MCP client of one runtime (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._sessions: dict[str, list[McpConnections]] = {}
        self._watchers: dict[str, list[Notify]] = {}

    async def on_session(self, runtime: Runtime, session: Session) -> None:
        """The runtime hook: ``[mcp_servers]`` for a session just opened."""
        settings = runtime.settings
        file = str(settings.source) if settings.source else None
        specs = specs_from_config(settings.config, file, cwd=session.cwd)
        if specs:
            await self.connect(session, specs)

    async def connect(self, session: Session, specs: Sequence[ServerSpec]) -> McpConnections:
        """Connect more servers for ``session`` (an editor's ``mcpServers``); a name
        already connected in this session gets a suffix (``github-2``)."""
        taken = {s.name for c in self._sessions.get(session.id, ()) for s in c.servers}
        unique: list[ServerSpec] = []
        for spec in specs:
            name, n = spec.name, 1
            while name in taken:
                n += 1
                name = f"{spec.name}-{n}"
            taken.add(name)
            unique.append(spec if name == spec.name else replace(spec, name=name))
        specs = unique
        connections = await connect_session_servers(
            session, specs, task_group=self._runtime.task_group
        )
        self._track(session)
        for notify in self._watchers.get(session.id, ()):
            connections.watch(notify)
        self._sessions[session.id].append(connections)
        return connections

    def _track(self, session: Session) -> None:
        """Keep per-session entries only while the session is open."""
        if session.id in self._sessions:
            return
        self._sessions[session.id] = []

        async def forget() -> None:
            self._sessions.pop(session.id, None)
            self._watchers.pop(session.id, None)

        session.add_closer(forget)

    def connections(self, session: Session) -> list[McpConnections]:
        return list(self._sessions.get(session.id, ()))

    def problems(self, session: Session) -> list[str]:
        return [p for c in self._sessions.get(session.id, ()) for p in c.problems]

    def watch(self, session: Session, notify: Notify, *, past: bool = True) -> None:
        """``notify(message)`` for each problem of this session's servers: those so far
        (unless ``past`` is false: an edge that must answer first reads ``problems``),
        then each new one, servers connected later included."""
        self._track(session)
        self._watchers.setdefault(session.id, []).append(notify)
        for connections in self._sessions.get(session.id, ()):
            connections.watch(notify, past=past)


def install(runtime: Runtime) -> McpClient:
    """Connect ``[mcp_servers]`` for every session ``runtime`` opens from now on."""
    client = McpClient(runtime)
    runtime.session_hooks.append(client.on_session)
    return client
