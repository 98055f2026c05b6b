"""The ACP handlers: small, and fast where an editor waits.

``initialize`` and ``session/new`` answer from the config alone, before the runtime
(router, HTTP clients, the agent core) has finished loading: that loads in the
background from the first request on (:class:`acp_adapter.host.RuntimeHost`), and a new
session is stored under the id already given out as soon as it has. Every other
request waits for it and is handled in :mod:`acp_adapter.live`.

Errors are JSON-RPC errors with codes (``acp.RequestError``): unknown session ids and
values are ``-32602 Invalid params`` naming what was wrong; the prompt's own failures
are described in :mod:`acp_adapter.mapping`. The SDK's dispatcher turns anything else
into ``-32603`` and keeps serving.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.abc
from acp import PROTOCOL_VERSION, RequestError
from acp.interfaces import Client
from acp.schema import AcpMcpServer as _AcpMcp
from acp.schema import (
    AgentCapabilities,
    AudioContentBlock,
    AuthenticateResponse,
    ClientCapabilities,
    CloseSessionResponse,
    EmbeddedResourceContentBlock,
    ForkSessionResponse,
    HttpMcpServer,
    ImageContentBlock,
    Implementation,
    InitializeResponse,
    ListSessionsResponse,
    LoadSessionResponse,
    McpCapabilities,
    McpServerStdio,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    ResourceContentBlock,
    ResumeSessionResponse,
    SessionCapabilities,
    SessionCloseCapabilities,
    SessionForkCapabilities,
    SessionListCapabilities,
    SessionResumeCapabilities,
    SetSessionConfigOptionResponse,
    SetSessionModeResponse,
    SseMcpServer,
    TerminalAuthMethod,
    TextContentBlock,
)

from acp_adapter import options
from acp_adapter.edge import EdgeSession
from acp_adapter.errors import config_error
from acp_adapter.host import RuntimeHost
from hermes_mcp import __version__
from hermes_mcp.log import get_logger

if TYPE_CHECKING:
    from acp_adapter.live import Live

log = get_logger("acp_adapter.agent")

SETUP_METHOD = "setup"
McpServer = HttpMcpServer | SseMcpServer | _AcpMcp | McpServerStdio
Block = (
    TextContentBlock
    | ImageContentBlock
    | AudioContentBlock
    | ResourceContentBlock
    | EmbeddedResourceContentBlock
)


def unknown_session(session_id: str) -> RequestError:
    return RequestError.invalid_params(
        {"sessionId": session_id, "message": f"no open session {session_id!r} (load it first)"}
    )


def absolute(cwd: str, what: str = "cwd") -> Path:
    path = Path(cwd)
    if not path.is_absolute():
        raise RequestError.invalid_params({what: cwd, "message": f"{what} must be absolute"})
    return Path(os.path.realpath(path))


class HermesAgent:
    """``acp.Agent`` for one connection (one editor)."""

    def __init__(self, host: RuntimeHost, task_group: anyio.abc.TaskGroup) -> None:
        self._host = host
        self._tg = task_group
        self._conn: Client | None = None
        self._caps = ClientCapabilities()
        self._sessions: dict[str, EdgeSession] = {}  # this connection's open sessions

    def on_connect(self, conn: Client) -> None:
        self._conn = conn

    @property
    def conn(self) -> Client:
        if self._conn is None:  # pragma: no cover - the SDK connects before dispatching
            raise RuntimeError("not connected")
        return self._conn

    async def _live(self) -> Live:
        return await self._host.live(self.conn, self._caps)

    def _edge(self, session_id: str) -> EdgeSession:
        edge = self._sessions.get(session_id)
        if edge is None:
            raise unknown_session(session_id)
        return edge

    # -- connection ------------------------------------------------------------------------

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        self._caps = client_capabilities or ClientCapabilities()
        self._host.start()
        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_info=Implementation(name="hermes", title="Hermes", version=__version__),
            agent_capabilities=AgentCapabilities(
                load_session=True,
                # stdio always; what hermes_mcp.mcp_client speaks besides (its
                # ACP_MCP_CAPABILITIES; not imported here: it loads the mcp SDK).
                mcp_capabilities=McpCapabilities(http=True, sse=True),
                prompt_capabilities=PromptCapabilities(image=True, embedded_context=True),
                session_capabilities=SessionCapabilities(
                    list=SessionListCapabilities(),
                    resume=SessionResumeCapabilities(),
                    close=SessionCloseCapabilities(),
                    fork=SessionForkCapabilities(),
                ),
            ),
            auth_methods=[
                TerminalAuthMethod(
                    id=SETUP_METHOD,
                    name="Set up a provider",
                    description="Writes a starter config.toml (asks for the provider and the "
                    "variable holding its key; never overwrites a config)",
                    type="terminal",
                    args=["--setup"],
                )
            ],
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> AuthenticateResponse | None:
        if method_id != SETUP_METHOD:
            raise RequestError.invalid_params(
                {"methodId": method_id, "message": f"unknown auth method {method_id!r}"}
            )
        problem = self._host.reload()
        if problem is not None:
            raise config_error(problem)
        if await self._host.restart():  # the runtime had no model: open it again
            live = await self._live()
            for edge in list(self._sessions.values()):
                await live.reopen(edge)
        return AuthenticateResponse()

    # -- sessions --------------------------------------------------------------------------

    async def new_session(
        self,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: list[McpServer] | None = None,
        **kwargs: Any,
    ) -> NewSessionResponse:
        root = absolute(cwd)
        extra = [absolute(d, "additionalDirectories") for d in additional_directories or []]
        config = self._host.config()
        session_id = uuid.uuid4().hex
        await self._host.reserve(session_id, root)  # stored now: load/resume after a restart
        mode = config.policy.mode
        edge = EdgeSession(session_id, root)
        self._sessions[session_id] = edge
        self._tg.start_soon(self._create, edge, extra, list(mcp_servers or []))
        return NewSessionResponse(
            session_id=session_id,
            modes=options.modes(mode),
            config_options=options.config_options(config, model=None, mode=mode),
        )

    async def _create(self, edge: EdgeSession, extra: list[Path], servers: list[McpServer]) -> None:
        try:
            live = await self._live()
            await live.create(edge, extra, servers)
        except BaseException as exc:
            edge.failed(exc)
            if not isinstance(exc, Exception):
                raise

    async def load_session(
        self,
        cwd: str,
        session_id: str,
        mcp_servers: list[McpServer] | None = None,
        additional_directories: list[str] | None = None,
        **kwargs: Any,
    ) -> LoadSessionResponse | None:
        live, edge = await self._attached(session_id, cwd, additional_directories, mcp_servers)
        await live.replay(edge)
        modes, config = live.announced(edge)
        return LoadSessionResponse(modes=modes, config_options=config)

    async def resume_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: list[McpServer] | None = None,
        **kwargs: Any,
    ) -> ResumeSessionResponse:
        live, edge = await self._attached(session_id, cwd, additional_directories, mcp_servers)
        await edge.wait()
        modes, config = live.announced(edge)
        return ResumeSessionResponse(modes=modes, config_options=config)

    async def _attached(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None,
        mcp_servers: list[McpServer] | None,
    ) -> tuple[Live, EdgeSession]:
        """A stored session attached to this connection (``load`` and ``resume``): the
        one already attached, or opened now with this editor's directories and servers."""
        root = absolute(cwd)
        extra = [absolute(d, "additionalDirectories") for d in additional_directories or []]
        live = await self._live()
        edge = self._sessions.get(session_id)
        if edge is None:
            edge = await live.open(session_id, root, extra, list(mcp_servers or []))
            self._sessions[session_id] = edge
        return live, edge

    async def fork_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: list[McpServer] | None = None,
        **kwargs: Any,
    ) -> ForkSessionResponse:
        absolute(cwd)
        live = await self._live()
        edge = await live.fork(session_id, list(mcp_servers or []))
        self._sessions[edge.id] = edge
        modes, config = live.announced(edge)
        return ForkSessionResponse(session_id=edge.id, modes=modes, config_options=config)

    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> ListSessionsResponse:
        root = None if cwd is None else absolute(cwd)
        live = await self._live()
        return await live.list_sessions(root, cursor)

    async def close_session(self, session_id: str, **kwargs: Any) -> CloseSessionResponse | None:
        edge = self._sessions.pop(session_id, None)
        if edge is None:
            raise unknown_session(session_id)
        await edge.close()
        return CloseSessionResponse()

    async def set_session_mode(
        self, session_id: str, mode_id: str, **kwargs: Any
    ) -> SetSessionModeResponse | None:
        edge = self._edge(session_id)
        live = await self._live()
        await live.set_option(edge, options.MODE_OPTION, mode_id)
        return SetSessionModeResponse()

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> SetSessionConfigOptionResponse | None:
        edge = self._edge(session_id)
        live = await self._live()
        config = await live.set_option(edge, config_id, value)
        return SetSessionConfigOptionResponse(config_options=config)

    # -- turns -----------------------------------------------------------------------------

    async def prompt(self, session_id: str, prompt: list[Block], **kwargs: Any) -> PromptResponse:
        edge = self._edge(session_id)
        live = await self._live()
        return await live.prompt(edge, prompt)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        edge = self._sessions.get(session_id)
        if edge is not None:
            edge.cancel()

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    async def aclose(self) -> None:
        """The connection ended: close this connection's sessions."""
        for edge in list(self._sessions.values()):
            await edge.close()
        self._sessions.clear()
