"""MCP servers for the MCP client's tests, written with the SDK's own server API and run
as child processes: ``python -m tests.mcp_servers KIND``.

Every kind writes its PID to ``$HERMES_TEST_PID_FILE`` (one line per process) first, so a
test can check afterwards that no process was left behind.

- ``demo``: a few tools (``add`` read-only with structured output, ``shout`` which
  records each call in ``$HERMES_TEST_CALLS``, ``picture``, ``big``, ``broken``, ``grow``
  which adds a tool and announces the change, ``getenv``, ``header``, ``die`` which exits
  mid-call, ``slow``);
- ``legacy``: a hand-written handshake-era server (``initialize``, no ``server/discover``);
- ``exit``: says why on stderr and exits at start;
- ``hang``: answers the handshake, then never answers ``tools/list``;
- ``garbage``: writes lines that are not JSON-RPC to stdout and never answers;
- ``http``, ``sse``: ``demo`` over Streamable HTTP or SSE on 127.0.0.1 (prints its URL).
"""

import base64
import os
import sys
import time
from typing import Any

import anyio

# No ``from __future__ import annotations`` here: MCPServer reads the tools' annotations.
# The SDK is imported inside the kinds that use it: ``exit`` and ``garbage`` start fast.


def _record_pid() -> None:
    path = os.environ.get("HERMES_TEST_PID_FILE")
    if path:
        with open(path, "a") as out:
            out.write(f"{os.getpid()}\n")


def demo_server() -> Any:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp_types import ImageContent, TextContent, ToolAnnotations

    server = MCPServer("demo")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True, title="Add"))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """Upper-case the text (and record the call)."""
        calls = os.environ.get("HERMES_TEST_CALLS")
        if calls:
            with open(calls, "a") as out:
                out.write(text + "\n")
        return text.upper()

    @server.tool(name="files.delete")
    def files_delete(path: str) -> str:
        """Delete a file (a name with a dot: registered as demo__files_delete)."""
        calls = os.environ.get("HERMES_TEST_CALLS")
        if calls:
            with open(calls, "a") as out:
                out.write(f"delete {path}\n")
        return f"deleted {path}"

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def picture() -> list[TextContent | ImageContent]:
        """A caption and a tiny image."""
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 24).decode()
        return [
            TextContent(type="text", text="a square"),
            ImageContent(type="image", data=png, mime_type="image/png"),
        ]

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def big() -> str:
        """A very long answer."""
        return "x" * 300_000

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def flood(mb: int) -> str:
        """An answer of ``mb`` megabytes: one line on the wire."""
        return "x" * (mb * 1024 * 1024)

    @server.tool()
    def broken() -> str:
        """Always fails."""
        raise ValueError("the database is on fire")

    @server.tool()
    async def grow(ctx: Context) -> str:
        """Add the tool 'fresh' and announce it."""
        server.add_tool(lambda: "fresh!", name="fresh", description="A new tool.")
        await ctx.notify_tools_changed()
        return "grown"

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def getenv(name: str) -> str:
        """An environment variable of the server ('' when unset)."""
        return os.environ.get(name, "")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def header(name: str, ctx: Context) -> str:
        """A header of the HTTP request that carried this call ('' over stdio)."""
        return (ctx.headers or {}).get(name.lower(), "")

    @server.tool()
    def die() -> str:
        """Exit in the middle of the call."""
        os._exit(1)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer."""
        await anyio.sleep(seconds)
        return "done"

    return server


async def hang_server() -> None:
    from mcp.server import Server
    from mcp.server.stdio import stdio_server

    async def never(ctx: Any, params: Any) -> Any:
        await anyio.sleep_forever()

    server: Server[Any] = Server("hang", on_list_tools=never)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def legacy_server() -> None:
    """A handshake-era server written by hand (as older servers in the wild are): no
    ``server/discover``, ``initialize`` at 2025-11-25, a log message for each call, and an unsolicited
    ``notifications/tools/list_changed`` after ``grow``."""
    import json

    tools = [
        {"name": "ping", "description": "Answer pong.", "inputSchema": {"type": "object"}},
        {"name": "grow", "description": "Add the tool 'fresh'.", "inputSchema": {"type": "object"}},
    ]
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        if ident is None:
            continue  # notifications/initialized and the like
        if method == "initialize":
            result: Any = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": "legacy", "version": "1.0"},
            }
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "tools/call" and message["params"]["name"] == "grow":
            tools.append({"name": "fresh", "inputSchema": {"type": "object"}})
            result = {"content": [{"type": "text", "text": "grown"}]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "pong"}]}
        else:
            error = {"code": -32601, "message": f"method not found: {method}"}
            _say(json.dumps({"jsonrpc": "2.0", "id": ident, "error": error}))
            continue
        if method == "tools/call":
            note = {
                "level": "info",
                "logger": "legacy",
                "data": f"called {message['params']['name']}",
            }
            _say(json.dumps({"jsonrpc": "2.0", "method": "notifications/message", "params": note}))
        _say(json.dumps({"jsonrpc": "2.0", "id": ident, "result": result}))
        if method == "tools/call" and message["params"]["name"] == "grow":
            _say(json.dumps({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}))


def _say(text: str, stream: Any = None) -> None:
    out = stream or sys.stdout  # a child server's own stdout (the protocol pipe)
    out.write(text + "\n")
    out.flush()


def main(kind: str) -> None:
    _record_pid()
    if kind == "demo":
        _say("demo server starting", sys.stderr)
        demo_server().run()
    elif kind == "exit":
        _say("cannot start: the token is missing", sys.stderr)
        sys.exit(3)
    elif kind == "legacy":
        legacy_server()
    elif kind == "hang":
        anyio.run(hang_server)
    elif kind == "garbage":
        for i in range(3):
            _say(f"Welcome to the server! line {i}")
        while sys.stdin.readline():
            _say("this is not JSON-RPC either")
        time.sleep(0.1)
    elif kind in ("http", "sse"):
        import socket

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # connections wait in the backlog until uvicorn accepts them
        port = sock.getsockname()[1]
        demo = demo_server()
        app = demo.streamable_http_app() if kind == "http" else demo.sse_app()
        _say(f"http://127.0.0.1:{port}/{'mcp' if kind == 'http' else 'sse'}")
        config = uvicorn.Config(app, log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
    else:
        raise SystemExit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1])
