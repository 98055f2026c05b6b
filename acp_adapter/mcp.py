"""MCP servers an editor passes in ``session/new`` / ``load`` / ``resume`` / ``fork``.

Connecting to them and offering their tools to the model is the MCP client's job
(``hermes_mcp/mcp_client/``): the servers of one request are connected for that session
only (stdio, http and sse, as ``initialize`` advertises) and end when it closes. The
``[mcp_servers]`` of the config are connected for every session by the client's runtime
hook (``install``, done once per runtime in ``Live``: at once when the config has
servers, else when an editor first passes some, so the mcp SDK loads only when used).
A server that fails is named to the editor in one agent message, now or whenever it
happens later; the session goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from acp.helpers import update_agent_message_text
from acp.interfaces import Client

from hermes_mcp.agent.session import Session

if TYPE_CHECKING:
    from hermes_mcp.mcp_client import McpClient


async def attach_mcp_servers(
    client: McpClient, conn: Client, session: Session, servers: Sequence[Any]
) -> None:
    """Connect ``servers`` (ACP ``McpServer`` entries) for ``session`` and tell the editor
    about every server problem of the session, those so far and those to come."""

    async def say(problem: str) -> None:
        await conn.session_update(session.id, update_agent_message_text(problem))

    from hermes_mcp.mcp_client import specs_from_acp

    if servers:
        await client.connect(session, specs_from_acp(list(servers)))
    for problem in client.problems(session):
        await say(problem)
    client.watch(session, say, past=False)
