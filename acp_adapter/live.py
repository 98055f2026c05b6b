"""The handlers that need the runtime: opening, replaying, listing sessions, options and
the prompt itself. Imported in the background (see ``host.py``).

A prompt runs one turn of the session and streams its events through the session's
:class:`~acp_adapter.mapping.UpdateMapper`; the turn hands its events over unbuffered
(``buffer=0``), so an editor that reads slowly holds the turn back rather than letting
updates pile up, and the terminal links see a call start before its command does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp import RequestError
from acp.interfaces import Client
from acp.schema import (
    ClientCapabilities,
    ConfigOptionUpdate,
    CurrentModeUpdate,
    ListSessionsResponse,
    PromptResponse,
    SessionConfigOptionSelect,
    SessionInfo,
    SessionInfoUpdate,
    SessionModeState,
    Usage,
)

from acp_adapter import options, skills, slash
from acp_adapter.content import Block, ContentRefused, command_text, to_parts
from acp_adapter.edge import EdgeSession
from acp_adapter.editor import EditorFiles, EditorTerminal, TerminalLinks
from acp_adapter.mapping import NOT_CONFIGURED, Answer, UpdateMapper, message, outcome
from acp_adapter.mcp import attach_mcp_servers
from acp_adapter.permissions import EditorApprover
from hermes_mcp.agent.events import ToolCallEnd, ToolCallStart, TurnEnd
from hermes_mcp.agent.prompt import PromptPart
from hermes_mcp.agent.session import Session, SessionBusy
from hermes_mcp.agent.store import SessionNotFound
from hermes_mcp.errors import UsageError
from hermes_mcp.log import get_logger
from hermes_mcp.runtime import Backends, Runtime
from tools import ToolError

if TYPE_CHECKING:
    from hermes_mcp.mcp_client import McpClient

log = get_logger("acp_adapter.live")

SESSION_BUSY = -32003
LIST_PAGE = 50


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def invalid(message: str, **data: Any) -> RequestError:
    return RequestError.invalid_params({**data, "message": message})


class Live:
    def __init__(self, runtime: Runtime, conn: Client, caps: ClientCapabilities) -> None:
        self.rt = runtime
        self.conn = conn
        # The MCP client (it loads the mcp SDK, ~15 MB): at once for [mcp_servers], which
        # every session of this runtime gets; else when an editor first passes servers.
        self._mcp: McpClient | None = None
        if runtime.settings.config.mcp_servers:
            self._mcp_client()
        fs = caps.fs
        self._read = bool(fs and fs.read_text_file)
        self._write = bool(fs and fs.write_text_file)
        self._terminal = bool(caps.terminal)

    def _mcp_client(self) -> McpClient:
        if self._mcp is None:
            from hermes_mcp.mcp_client import install

            self._mcp = install(self.rt)
        return self._mcp

    async def _attach(self, session: Session, servers: list[Any]) -> None:
        if servers or self._mcp is not None:
            await attach_mcp_servers(self._mcp_client(), self.conn, session, servers)

    # -- opening -----------------------------------------------------------------------------

    def _backends(self, session_id: str, mapper: UpdateMapper, links: TerminalLinks) -> Backends:
        async def attach(call_id: str, terminal_id: str) -> None:
            await self.conn.session_update(session_id, mapper.attach_terminal(call_id, terminal_id))

        files = None
        if self._read or self._write:
            files = EditorFiles(self.conn, session_id, read=self._read, write=self._write)
        terminal = None
        if self._terminal:
            terminal = EditorTerminal(self.conn, session_id, links, attach)
        return Backends(
            approver=EditorApprover(self.conn, session_id), files=files, terminal=terminal
        )

    async def create(self, edge: EdgeSession, extra: list[Path], servers: list[Any]) -> None:
        mapper, links = UpdateMapper(edge.cwd), TerminalLinks()
        session = await self.rt.create_session(
            edge.cwd,
            extra_roots=extra,
            backends=self._backends(edge.id, mapper, links),
            session_id=edge.id,
        )
        # The editor's servers are connected before a prompt can reach the session.
        await self._attach(session, servers)
        edge.opened(session, mapper, links)
        if edge.closed:  # session/close came while it was being created
            await session.close()
            return
        await self._commands(edge.id, session)

    async def reopen(self, edge: EdgeSession) -> None:
        """Open ``edge``'s stored session again (the runtime was restarted)."""
        mapper, links = UpdateMapper(edge.cwd), TerminalLinks()
        try:
            session = await self.rt.load_session(
                edge.id, cwd=edge.cwd, backends=self._backends(edge.id, mapper, links)
            )
        except SessionNotFound as exc:
            edge.failed(exc)
            return
        edge.opened(session, mapper, links)

    async def open(
        self, session_id: str, cwd: Path, extra: list[Path], servers: list[Any]
    ) -> EdgeSession:
        """A stored session opened for this connection (``session/load``, ``resume``)."""
        info = await self.rt.store.get(session_id)
        if info is None:
            raise invalid(f"no stored session {session_id!r}", sessionId=session_id)
        edge = EdgeSession(session_id, cwd)
        mapper, links = UpdateMapper(cwd), TerminalLinks()
        already_open = self.rt.get(session_id) is not None  # its servers are connected
        try:
            session = await self.rt.load_session(
                session_id,
                cwd=cwd,
                extra_roots=extra,
                backends=self._backends(session_id, mapper, links),
            )
        except SessionNotFound as exc:
            raise invalid(str(exc), sessionId=session_id) from None
        edge.opened(session, mapper, links)
        edge.titled = bool(info.title)
        await self._attach(session, [] if already_open else servers)
        await self._commands(session_id, session)
        return edge

    async def fork(self, session_id: str, servers: list[Any]) -> EdgeSession:
        info = await self.rt.store.get(session_id)
        if info is None:
            raise invalid(f"no stored session {session_id!r}", sessionId=session_id)
        # The runtime forks (messages, event log, choices); the copy is then opened again
        # with this editor's back-ends, which need its id.
        forked = await self.rt.fork_session(session_id)
        await forked.close()
        return await self.open(forked.id, Path(info.cwd), [], servers)

    async def _commands(self, session_id: str, session: Session) -> None:
        """The built-in commands and the skills', followed until the session closes."""
        await skills.announce(self.rt, self.conn, session_id, session)

    def announced(
        self, edge: EdgeSession
    ) -> tuple[SessionModeState, list[SessionConfigOptionSelect]]:
        session = self._session(edge)
        return options.modes(session.mode), self._options(session)

    def _options(self, session: Session) -> list[SessionConfigOptionSelect]:
        return options.config_options(
            self.rt.settings.config, model=session.model, mode=session.mode
        )

    @staticmethod
    def _session(edge: EdgeSession) -> Session:
        session = edge.session
        if session is None:  # pragma: no cover - announced() follows an open
            raise RequestError.internal_error({"sessionId": edge.id})
        return session

    # -- reading -------------------------------------------------------------------------------

    async def replay(self, edge: EdgeSession) -> None:
        """Send the whole stored session as updates, through the live mapper."""
        session = await edge.wait()
        mapper = UpdateMapper(edge.cwd)
        async for event in session.replay():
            for update in mapper.updates(event):
                await self.conn.session_update(edge.id, update)

    async def list_sessions(self, cwd: Path | None, cursor: str | None) -> ListSessionsResponse:
        try:
            page = await self.rt.store.list_sessions(
                cwd=None if cwd is None else str(cwd), limit=LIST_PAGE, cursor=cursor
            )
        except UsageError as exc:
            raise invalid(str(exc), cursor=cursor) from None
        return ListSessionsResponse(
            sessions=[
                SessionInfo(
                    session_id=info.id,
                    cwd=info.cwd,
                    title=info.title or None,
                    updated_at=_iso(info.updated_at),
                )
                for info in page.sessions
            ],
            next_cursor=page.next_cursor,
        )

    # -- changing ------------------------------------------------------------------------------

    async def set_option(
        self, edge: EdgeSession, option: str, value: str | bool
    ) -> list[SessionConfigOptionSelect]:
        session = await edge.wait()
        if not isinstance(value, str):
            raise invalid(f"option {option!r} takes a string value", configId=option)
        try:
            if option == options.MODE_OPTION:
                await session.set_mode(value)
                update = CurrentModeUpdate(
                    session_update="current_mode_update", current_mode_id=value
                )
                await self.conn.session_update(edge.id, update)
            elif option == options.MODEL_OPTION:
                await self.set_model(session, value)
            else:
                known = f"{options.MODEL_OPTION}, {options.MODE_OPTION}"
                raise invalid(f"unknown config option {option!r} ({known})", configId=option)
        except UsageError as exc:
            raise invalid(str(exc), configId=option, value=value) from None
        current = self._options(session)
        await self.conn.session_update(
            edge.id,
            ConfigOptionUpdate(session_update="config_option_update", config_options=current),
        )
        return current

    async def set_model(self, session: Session, value: str) -> None:
        config = self.rt.settings.config
        allowed = {choice[0] for choice in options.model_choices(config)}
        if session.model is not None:
            allowed.add(session.model)
        if value not in allowed:
            raise UsageError(f"unknown model {value!r}: choose one of {', '.join(sorted(allowed))}")
        default = config.model.default if config.model is not None else None
        await session.set_model(None if value == default else value)

    # -- the prompt ------------------------------------------------------------------------------

    async def prompt(self, edge: EdgeSession, blocks: list[Block]) -> PromptResponse:
        session = await edge.wait()
        command = command_text(blocks)
        if command is not None and slash.known(command):

            async def switch_model(value: str) -> None:
                await self.set_model(session, value)
                update = ConfigOptionUpdate(
                    session_update="config_option_update", config_options=self._options(session)
                )
                await self.conn.session_update(edge.id, update)

            text = await slash.run(self.rt, session, command, switch_model=switch_model)
            await self.conn.session_update(edge.id, message(text))
            return PromptResponse(stop_reason="end_turn")
        skill_parts = None
        if command is not None:  # /name args: a skill's instructions and the args
            try:
                skill_parts = await skills.turn_prompt(self.rt, session, *slash.split(command))
            except ToolError as exc:
                raise invalid(str(exc), sessionId=edge.id) from None
        problem = self.rt.problem
        if problem is not None:
            raise RequestError(
                NOT_CONFIGURED,
                f"no model is configured: {problem}; run `hermes-acp --setup`",
                {"class": "config", "message": problem, "authMethod": "setup"},
            )
        try:
            parts = skill_parts if skill_parts is not None else to_parts(blocks)
        except ContentRefused as exc:
            raise invalid(str(exc), sessionId=edge.id) from None
        if session.busy:
            raise self._busy(edge)
        started = time.monotonic()
        try:
            end = await self._run(edge, session, parts)
        except SessionBusy as exc:  # here, or in another process (the session's lease)
            raise RequestError(SESSION_BUSY, str(exc), {"sessionId": edge.id}) from None
        except UsageError as exc:
            raise invalid(str(exc), sessionId=edge.id) from None
        result = outcome(end)
        if not isinstance(result, Answer):
            raise RequestError(result.code, result.message, result.data)
        if result.note:
            await self.conn.session_update(edge.id, message(result.note))
        if not edge.titled:
            await self._title(edge)
        log.info(
            "acp_prompt",
            session_id=edge.id,
            stop=end.stop_reason,
            s=round(time.monotonic() - started, 3),
        )
        usage = end.usage
        return PromptResponse(
            stop_reason=result.stop_reason,
            usage=Usage(
                total_tokens=usage.input_tokens + usage.output_tokens,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_read_tokens=usage.cached_tokens or None,
                thought_tokens=usage.reasoning_tokens or None,
            ),
        )

    async def _run(self, edge: EdgeSession, session: Session, parts: list[PromptPart]) -> TurnEnd:
        mapper, links = edge.mapper, edge.links
        assert mapper is not None and links is not None
        try:
            async with session.turn(parts, buffer=0) as turn:
                async for event in turn:
                    if isinstance(event, ToolCallStart) and event.name == "terminal":
                        command = event.arguments.get("command")
                        if isinstance(command, str):
                            links.expect(event.call_id, command)
                    elif isinstance(event, ToolCallEnd):
                        links.done(event.call_id)
                    for update in mapper.updates(event):
                        await self.conn.session_update(edge.id, update)
        finally:
            mapper.forget()
        if turn.outcome is None:  # pragma: no cover - a turn always ends with turn_end
            raise RequestError.internal_error({"message": "the turn ended without turn_end"})
        return turn.outcome

    @staticmethod
    def _busy(edge: EdgeSession) -> RequestError:
        return RequestError(
            SESSION_BUSY,
            "a prompt is already running in this session: wait for it to end or cancel it",
            {"sessionId": edge.id},
        )

    async def _title(self, edge: EdgeSession) -> None:
        info = await self.rt.store.get(edge.id)
        if info is None or not info.title:
            return
        edge.titled = True
        update = SessionInfoUpdate(
            session_update="session_info_update", title=info.title, updated_at=_iso(info.updated_at)
        )
        await self.conn.session_update(edge.id, update)
