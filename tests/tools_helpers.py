"""Shared helpers for the tools tests: a recording approver, a context factory, a real
HTTP server on 127.0.0.1, and a way to wait for a process to end without sleeping."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio

from tools import (
    ApprovalRequest,
    Decision,
    Limits,
    Policy,
    ToolContext,
    ToolResult,
    default_registry,
)

REGISTRY = default_registry()


class RecordingApprover:
    """Answers every request with ``allowed`` and records what it was asked."""

    def __init__(self, allowed: bool = True, remember: bool = False) -> None:
        self.allowed = allowed
        self.remember = remember
        self.requests: list[ApprovalRequest] = []

    async def approve(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        return Decision(self.allowed, "" if self.allowed else "the user said no", self.remember)


def make_ctx(
    root: Path,
    *,
    mode: str = "auto",
    allow: tuple[str, ...] = (),
    deny: tuple[str, ...] = (),
    approver: Any = None,
    **kwargs: Any,
) -> ToolContext:
    kwargs.setdefault("state_dir", root.parent / "hermes-state")
    return ToolContext(
        (root,),
        policy=Policy(mode, allow, deny),  # type: ignore[arg-type]
        approver=approver if approver is not None else RecordingApprover(),
        **kwargs,
    )


async def call(ctx: ToolContext, name: str, **arguments: Any) -> ToolResult:
    with anyio.fail_after(30):
        return await REGISTRY.call(name, arguments, ctx)


def small_limits(**changes: Any) -> Limits:
    return Limits(**changes)


async def wait_gone(pid: int, limit_s: float = 30.0) -> None:
    """Wait (event-driven, with a pidfd) until ``pid`` has terminated."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        with anyio.fail_after(limit_s):
            await anyio.wait_readable(fd)
    finally:
        os.close(fd)


def alive(pid: int) -> bool:
    """Running (not gone and not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LocalServer:
    base: str
    hits: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def http_server(routes: dict[str, Route]) -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1 in a thread; ``routes`` maps paths to handlers."""
    state: LocalServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404)
                return
            route(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # clients that stop reading early (size caps) are expected

    server = Server(("127.0.0.1", 0), Handler)
    state = LocalServer(base=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def respond(status: int, body: bytes, content_type: str = "text/plain", **headers: str) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            handler.send_header(key.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return route


async def call_near_fifo(
    ctx: ToolContext, name: str, fifo: Path, limit_s: float = 30.0, **arguments: Any
) -> ToolResult | None:
    """Call a tool that must not block on the FIFO ``fifo``: the result, or ``None`` when
    it did not return within ``limit_s`` (the FIFO is then opened read-write once, which
    releases a thread stuck opening it, so a failing test fails instead of hanging)."""
    results: list[ToolResult] = []
    done = anyio.Event()

    async def run() -> None:
        results.append(await REGISTRY.call(name, arguments, ctx))
        done.set()

    with anyio.fail_after(limit_s + 10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            with anyio.move_on_after(limit_s) as waited:
                await done.wait()
            if waited.cancelled_caught:
                os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
                tg.cancel_scope.cancel()
    return None if waited.cancelled_caught else results[0]
