"""``hermes-mcp doctor``: connect to each ``[mcp_servers]`` entry, list its tools or say
what is wrong, and disconnect (every child process is stopped before this returns).

Servers are checked at once, each within its ``startup_timeout_s``; a disabled server
is listed as such. No tool is called. An ``mcp:`` policy rule that matches no tool of
the servers that connected (under either spelling of a name) gets a warning: a deny
rule with a typo protects nothing.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from hermes_mcp.config import Settings
from hermes_mcp.errors import ConfigError
from hermes_mcp.mcp_client import mapping
from hermes_mcp.mcp_client.connection import ServerConnection
from hermes_mcp.mcp_client.spec import from_section
from tools.policy import Policy

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
    connected = {s.name: s for s in servers if s is not None and s.state != "failed" and s.listed}
    return out + rule_warnings(settings, connected)


def rule_warnings(settings: Settings, connected: dict[str, ServerConnection]) -> list[Result]:
    """A warning per ``mcp:`` rule that matches no tool of a connected server."""
    if not connected:
        return []
    try:
        policy = Policy.from_section(settings.config.policy)
    except ConfigError:  # reported by the config check
        return []
    names = [
        (mapping.tool_name(server, t.name), *mapping.spellings(server, t.name))
        for server, conn in connected.items()
        for t in conn.listed
    ]
    out: list[Result] = []
    for key, rules in (("deny", policy.deny), ("allow", policy.allow)):
        for rule in rules:
            if rule.category != "mcp" or any(rule.matches_name(*n) for n in names):
                continue
            servers = ", ".join(f"{s} ({len(c.listed)} tools)" for s, c in connected.items())
            detail = (
                f"warning: policy.{key} rule {rule.text!r} matches no tool of the connected "
                f"MCP servers: {servers}; names are '<server>__<tool>'"
            )
            out.append((f"policy {key} {rule.text}", True, detail))
    return out
