"""The MCP edge: ``hermes-mcp serve --protocol mcp``, a stdio MCP server on ``mcp`` 2.3.0.

It translates; the session runtime decides. ``server`` holds the handlers, ``mapping``
the one pure translation of our tools, results and events into MCP messages,
``agent_tools`` the agent tools' handlers, ``resources`` the ``hermes://`` resources,
``approvals`` what an approval asks with (the form, the 2026-07-28 interactions),
``sessions`` the per-session state (``McpSession``: its approver, its interactions, the
connection it may elicit on), ``interactive`` calls that may need a person in the
2026-07-28 era, ``job_progress`` a job's progress, ``edge`` the per-client state (the
runtime, loaded after the handshake), ``transport`` the stdio streams.

Nothing heavy is imported here: ``initialize`` is answered before the router, its HTTP
stack and the tools are loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def run_mcp_stdio(workspaces: list[Path], *, prefix: bytes = b"") -> int:
    """Serve MCP over stdin/stdout until EOF; ``prefix`` (bytes already read from stdin,
    e.g. the first line ``serve --protocol auto`` peeked at) is processed first. Only
    protocol messages reach stdout (``guard_stdout``). Returns the exit code."""
    import anyio

    from hermes_mcp.stdio_guard import guard_stdout

    with guard_stdout() as wire, _claim_stdin() as source:
        anyio.run(_serve, workspaces, wire, source, prefix)
    return 0


@contextmanager
def _claim_stdin() -> Iterator[BinaryIO]:
    """The protocol's stdin on a private descriptor; fd 0 reads /dev/null meanwhile, so
    nothing else in the process (or a child it starts) can take protocol bytes."""
    private = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    source = os.fdopen(private, "rb")
    try:
        yield source
    finally:
        os.dup2(private, 0)
        source.close()


async def _serve(workspaces: list[Path], wire: BinaryIO, source: BinaryIO, prefix: bytes) -> None:
    import anyio

    from hermes_mcp.mcp_server.edge import Edge
    from hermes_mcp.mcp_server.prompts import SkillPrompts
    from hermes_mcp.mcp_server.server import build_server, preload
    from hermes_mcp.mcp_server.transport import StdioWire

    edge = Edge(workspaces, preload=preload)
    prompts = SkillPrompts()
    server = build_server(edge, prompts)
    stdio = StdioWire(wire, source=source, prefix=prefix)
    async with anyio.create_task_group() as tg:
        tg.start_soon(edge.run, stdio.first_write)
        tg.start_soon(prompts.watch)  # skills changed on disk: prompts/list_changed
        try:
            async with stdio.streams() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
        finally:
            edge.stop()
            prompts.stop()


__all__ = ["run_mcp_stdio"]
