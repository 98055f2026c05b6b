"""Serve ACP over stdin and stdout until stdin ends.

stdout is the protocol wire: :func:`~hermes_mcp.stdio_guard.guard_stdout` keeps the real
fd 1 for it and points fd 1 and ``sys.stdout`` at stderr for as long as the agent runs,
so a stray print, a library or a child process cannot corrupt it. Logs are JSON on
stderr (standard-library logging, the SDK's included, goes through the same chain).
"""

from __future__ import annotations

import asyncio
from typing import BinaryIO

import anyio
from acp.agent.connection import AgentSideConnection

from acp_adapter.agent import HermesAgent
from acp_adapter.host import RuntimeHost
from acp_adapter.wire import StdioTransport
from hermes_mcp.log import configure_logging, get_logger
from hermes_mcp.stdio_guard import guard_stdout

log = get_logger("acp_adapter")


async def serve(wire: BinaryIO, *, prefix: bytes = b"", stdin_fd: int = 0) -> None:
    """Serve one ACP connection on ``stdin_fd`` (after ``prefix``) and ``wire``."""
    async with (
        StdioTransport.open(wire, prefix=prefix, stdin_fd=stdin_fd) as transport,
        anyio.create_task_group() as tg,
    ):
        host = RuntimeHost(tg)
        agent = HermesAgent(host, tg)
        conn = AgentSideConnection(agent, transport, listening=False, use_unstable_protocol=True)
        try:
            await conn.listen()
        finally:
            with anyio.CancelScope(shield=True):
                await agent.aclose()
                await conn.close()
            host.stop()
            tg.cancel_scope.cancel()


def run_acp_stdio(*, prefix: bytes = b"") -> int:
    """Serve ACP over stdin/stdout until EOF; ``prefix``: a first line already read from
    stdin (``hermes-mcp serve --protocol auto``). Returns the exit code."""
    configure_logging()
    with guard_stdout() as wire:
        try:
            asyncio.run(serve(wire, prefix=prefix))
        except KeyboardInterrupt:
            return 130
    log.info("acp_stdin_closed")
    return 0
