"""The hook for MCP servers an editor passes in ``session/new`` / ``load`` / ``resume``.

Connecting to them and offering their tools to the model is the MCP client's job
(``hermes_mcp/mcp_client/``, a later issue): it will implement this one call, adding the
servers' tools with ``session.add_tools``. Until then the servers are accepted and left
unused, and ``initialize`` does not advertise ``mcpCapabilities``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hermes_mcp.agent.session import Session
from hermes_mcp.log import get_logger

log = get_logger("acp_adapter.mcp")


async def attach_mcp_servers(session: Session, servers: Sequence[Any]) -> None:
    """Offer the tools of ``servers`` (ACP ``McpServer`` entries) in ``session``."""
    if servers:
        log.info("acp_mcp_servers_ignored", session_id=session.id, count=len(servers))
