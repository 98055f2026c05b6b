"""One MCP server of one session: connect, list its tools into the session, call them,
follow ``tools/list_changed``, and notice when it goes away.

:meth:`ServerConnection.run` is the connection's whole life, in one task of the
session's :class:`~hermes_mcp.mcp_client.connections.McpConnections` (the SDK's client
and its stdio child must be entered and left by the same task). It moves through
``starting`` → ``ready`` (tools registered) → ``lost`` (the server went away: its
tools stay and answer an error saying so) or ``failed`` (it never got ready: its tools
are left out); ``settled`` is set once it is ready or failed. Every problem is
reported once, naming the server, through ``report``.

A call goes through the session's policy and approver first (category ``mcp``; a tool
its server annotates read-only is routine, like a read inside the workspace), then to
the server with the spec's ``timeout_s``. Progress notifications become tool progress.
Whatever the server does — an error, a result that breaks the schema it advertised,
garbage, a timeout, a crash mid-call — comes back as an error result naming the server
and the tool.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc
import mcp_types as types
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from hermes_mcp.log import get_logger, redact
from hermes_mcp.mcp_client import mapping
from hermes_mcp.mcp_client.spec import ServerSpec
from hermes_mcp.mcp_client.transport import StderrPipe, open_transport
from tools.approval import ApprovalRequest
from tools.context import ToolContext
from tools.registry import RawArguments, Tool, ToolError, ToolResult

if TYPE_CHECKING:
    from hermes_mcp.agent.session import Session

log = get_logger("hermes_mcp.mcp_client")

State = Literal["starting", "ready", "failed", "lost", "closed"]
_LIST_PAGES_MAX = 50  # a server whose tools/list never ends is cut off here
_TOOLS_MAX = 500


class ServerConnection:
    def __init__(
        self, spec: ServerSpec, session: Session | None, report: Callable[[str], None]
    ) -> None:
        self.spec = spec
        self.session = session  # None: list only (doctor)
        self.state: State = "starting"
        self.problem: str | None = None
        self.settled = anyio.Event()
        self.refreshed = anyio.Event()  # set (and replaced) after each tools/list_changed
        self.listed: list[types.Tool] = []  # the server's tools, after the allow-list
        self.registered: list[str] = []  # our names for them in the session
        self.protocol: str | None = None
        self._report = report
        self._client: Client | None = None
        self._stderr: StderrPipe | None = None
        self._lost = anyio.Event()
        self._changed = anyio.Event()
        self._garbage = 0
        self._phase = "handshake"  # what a start that timed out was waiting for

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def client(self) -> Client | None:
        """The SDK's client while connected (``bench/mcp_client.py`` calls it directly)."""
        return self._client

    # -- lifetime ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and serve until cancelled (the session closed) or the server is gone."""
        if self.spec.problem is not None:
            self._fail(self.spec.problem)
            return
        try:
            async with anyio.create_task_group() as tg:
                if self.spec.transport == "stdio":
                    self._stderr = StderrPipe(self.name)
                    tg.start_soon(self._stderr.pump)
                try:
                    await self._connected_life()
                except Exception as exc:  # anything the SDK or the transport raised
                    await self._stderr_settled()
                    self._fail(self._why(exc))
                tg.cancel_scope.cancel()
        except Exception as exc:  # the stderr pipe itself: this server only, still
            self._fail(self._why(exc))
        finally:
            self._client = None
            if self.state in ("starting", "ready"):
                self.state = "closed"
            self.settled.set()

    async def _connected_life(self) -> None:
        spec = self.spec
        client = Client(
            open_transport(spec, self._on_eof, self._stderr),
            mode="auto",
            read_timeout_seconds=spec.timeout_s,
            message_handler=self._on_message,
            logging_callback=self._on_log,
            cache=None,
        )
        with anyio.CancelScope(deadline=anyio.current_time() + spec.startup_timeout_s) as start:
            async with client:
                self._client = client
                self.protocol = client.protocol_version
                self._phase = "tools/list"
                await self._list_and_register(client)
                start.deadline = math.inf  # started: from here on only calls time out
                self.state = "ready"
                self.settled.set()
                log.info(
                    "mcp_server_ready",
                    server=self.name,
                    protocol=self.protocol,
                    tools=len(self.registered),
                )
                await self._serve(client)
        if start.cancelled_caught and self.state == "starting":
            self._fail(
                f"did not answer its {self._phase} within {spec.startup_timeout_s:g} s "
                "(startup_timeout_s: process start, handshake and tools/list)"
                + self._garbage_note()
            )

    async def _serve(self, client: Client) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._refresher, client)
            caps = client.server_capabilities.tools
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS and caps and caps.list_changed:
                tg.start_soon(self._listen, client)
            await self._lost.wait()
            self.state = "lost"
            await self._stderr_settled()
            self._problem(f"stopped{self._stderr_note()}; its tools answer an error from now on")
            tg.cancel_scope.cancel()

    async def _listen(self, client: Client) -> None:
        """2026-era servers send list changes on a ``subscriptions/listen`` stream; the
        notifications also reach ``_on_message``, which does the refreshing."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self._changed.set()
        except Exception as exc:
            log.info("mcp_server_listen_ended", server=self.name, error=exc)

    async def _refresher(self, client: Client) -> None:
        while True:
            await self._changed.wait()
            self._changed = anyio.Event()
            try:
                with anyio.fail_after(self.spec.timeout_s):
                    await self._list_and_register(client)
            except Exception as exc:
                self._problem(f"could not list its changed tools: {self._why(exc)}")
            else:
                log.info("mcp_server_tools_changed", server=self.name, tools=len(self.registered))
            refreshed, self.refreshed = self.refreshed, anyio.Event()
            refreshed.set()

    # -- tools ---------------------------------------------------------------------------

    async def _list_all(self, client: Client) -> list[types.Tool]:
        found: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_LIST_PAGES_MAX):
            page = await client.list_tools(cursor=cursor)
            found.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None or len(found) >= _TOOLS_MAX:
                break
        return found[:_TOOLS_MAX]

    async def _list_and_register(self, client: Client) -> None:
        listed = await self._list_all(client)
        allow = self.spec.tools
        if allow is not None:
            missing = sorted(set(allow).difference(t.name for t in listed))
            if missing:
                where = f"mcp_servers.{self.name}.tools"
                self._problem(f"has no tool(s) {', '.join(missing)} ({where})")
            listed = [t for t in listed if t.name in allow]
        self.listed = listed
        if self.session is None:
            return
        tools: list[Tool[Any]] = []
        taken = set(self.session.registry.names).difference(self.registered)
        for item in listed:
            name = mapping.tool_name(self.name, item.name)
            if name in taken:
                self._problem(f"tool {item.name!r} left out: the name {name} is taken")
                continue
            try:
                tools.append(self._tool(name, item))
            except Exception as exc:  # a schema jsonschema cannot even read
                self._problem(f"tool {item.name!r} left out: {exc}")
                continue
            taken.add(name)
        self.session.remove_tools(self.registered)
        self.session.add_tools(tools)
        self.registered = [t.name for t in tools]

    def _tool(self, name: str, item: types.Tool) -> Tool[RawArguments]:
        remote = item.name

        async def call(args: RawArguments, ctx: ToolContext) -> ToolResult:
            return await self.call(name, remote, tool, args.values(), ctx)

        tool = Tool(
            name=name,
            description=mapping.description(self.name, item),
            args=RawArguments,
            fn=call,
            toolset="mcp",
            annotations=mapping.tool_annotations(item),
            input_schema=mapping.input_schema(item),
            output_json_schema=item.output_schema,
        )
        return tool

    async def call(
        self,
        name: str,
        remote: str,
        tool: Tool[RawArguments],
        arguments: dict[str, Any],
        ctx: ToolContext,
    ) -> ToolResult:
        shown = json.dumps(arguments, ensure_ascii=False, default=str)
        shown = shown if len(shown) <= 300 else shown[:300] + "…"
        await ctx.authorize(
            ApprovalRequest(
                tool=name,
                kind=tool.annotations.kind,
                action="mcp",
                title=redact(f"{name} {shown}"),
                aliases=mapping.spellings(self.name, remote),
                risk=None
                if tool.annotations.read_only
                else f"calls {remote!r} on the MCP server {self.name!r} ({self.spec.source})",
            )
        )
        client = self._client
        if client is None or self.state != "ready":
            raise ToolError(
                f"the MCP server {self.name!r} is not running ({self.state}); "
                f"{remote} was not called"
            )

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            await ctx.report(message or (f"{progress:g}/{total:g}" if total else f"{progress:g}"))

        with anyio.move_on_after(self.spec.timeout_s) as waited:
            try:
                result = await client.call_tool(remote, arguments, progress_callback=progress)
            except MCPError as exc:
                if exc.code == types.CONNECTION_CLOSED:
                    self._on_eof()
                    raise ToolError(
                        f"the MCP server {self.name!r} went away during {remote}"
                    ) from None
                if exc.code == types.REQUEST_TIMEOUT:
                    raise ToolError(self._timeout(remote)) from None
                raise ToolError(f"{self.name} answered {remote} with an error: {exc}") from None
            except (ValidationError, RuntimeError, ValueError) as exc:
                raise ToolError(
                    f"{self.name} answered {remote} with a result that breaks the protocol "
                    f"or its own output schema: {str(exc)[:300]}"
                ) from None
            return mapping.to_result(result)
        assert waited.cancelled_caught
        raise ToolError(self._timeout(remote))

    def _timeout(self, remote: str) -> str:
        return (
            f"the MCP server {self.name!r} did not answer {remote} within "
            f"{self.spec.timeout_s:g} s (mcp_servers.{self.name}.timeout_s)"
        )

    # -- what the server says besides answers ---------------------------------------------

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._changed.set()
        elif isinstance(message, Exception):  # a line on its stdout that is not JSON-RPC
            self._garbage += 1
            if self._garbage == 1:
                log.warning("mcp_server_garbage", server=self.name, error=message)

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        """A server's log message (``notifications/message``), into our log."""
        data = params.data if isinstance(params.data, str) else json.dumps(params.data, default=str)
        log.info(
            "mcp_server_log",
            server=self.name,
            level=params.level,
            logger=params.logger,
            data=data[:2000],
        )

    def _on_eof(self) -> None:
        if self.state == "ready":  # calls from now on answer at once
            self.state = "lost"
        self._lost.set()

    # -- problems ------------------------------------------------------------------------

    def _why(self, exc: BaseException) -> str:
        if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            return self._why(exc.exceptions[0])
        if isinstance(exc, FileNotFoundError | PermissionError):
            return f"cannot start {self.spec.command!r}: {exc.strerror}"
        if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
            return "exited or closed the connection at start" + self._stderr_note()
        text = str(exc) or type(exc).__name__
        notes = self._garbage_note() + self._stderr_note()
        return f"failed: {type(exc).__name__}: {text[:300]}{notes}"

    async def _stderr_settled(self) -> None:
        """Give a dying child's last stderr lines a moment to arrive (for the message)."""
        if self._stderr is not None:
            with anyio.move_on_after(0.5):
                await self._stderr.eof.wait()

    def _stderr_note(self) -> str:
        return "" if self._stderr is None else self._stderr.describe()

    def _garbage_note(self) -> str:
        if not self._garbage:
            return ""
        return f"; it wrote {self._garbage} line(s) that are not JSON-RPC to stdout"

    def _fail(self, why: str) -> None:
        self.state = "failed"
        self._problem(why)
        self.settled.set()

    def _problem(self, why: str) -> None:
        text = redact(f"MCP server {self.name!r} ({self.spec.where}): {why}")
        self.problem = text
        self._report(text)
