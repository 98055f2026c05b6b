"""``hermes-mcp doctor``: connect to each ``[mcp_servers]`` entry, list its tools or say
what is wrong, and disconnect (every child process is stopped before this returns).

Servers are checked at once, each within its ``startup_timeout_s``; a disabled server
is listed as such. No tool is called.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from hermes_mcp.config import Settings
from hermes_mcp.mcp_client import mapping
from hermes_mcp.mcp_client.connection import ServerConnection
from hermes_mcp.mcp_client.spec import from_section

Result = tuple[str, bool, str]  # (check name, ok, detail)


async def check_servers(settings: Settings, cwd: Path | None = None) -> list[Result]:
    """One ``(name, ok, detail)`` per configured server, in the config's order."""
    file = str(settings.source) if settings.source else None
    servers: list[ServerConnection | None] = []
    problems: dict[str, list[str]] = {}
    for name, section in settings.config.mcp_servers.items():
        if not section.enabled:
            servers.append(None)
            continue
        spec = from_section(name, section, file, cwd=cwd or Path.cwd())
        problems[name] = []
        servers.append(ServerConnection(spec, None, problems[name].append))

    async def check(server: ServerConnection) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.run)
            await server.settled.wait()
            tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        for server in servers:
            if server is not None:
                tg.start_soon(check, server)

    out: list[Result] = []
    for name, server in zip(settings.config.mcp_servers, servers, strict=True):
        if server is None:
            out.append((f"mcp {name}", True, "disabled (enabled = false)"))
            continue
        if server.state == "failed" or (not server.listed and problems[name]):
            out.append((f"mcp {name}", False, "; ".join(problems[name]) or server.state))
            continue
        names = ", ".join(mapping.tool_name(name, t.name) for t in server.listed) or "no tools"
        detail = f"{server.spec.where}: {len(server.listed)} tool(s) ({names})"
        if server.protocol:
            detail += f", protocol {server.protocol}"
        if problems[name]:
            detail += "; " + "; ".join(problems[name])
        out.append((f"mcp {name}", True, detail))
    return out
