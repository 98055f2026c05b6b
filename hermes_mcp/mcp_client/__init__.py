"""Other MCP servers as the agent's tools: from ``[mcp_servers]`` and from an editor's
``session/new`` (``mcpServers``).

This package sits beside the edges and is the only part of hermes that is an MCP
*client*; the agent core never imports it or ``mcp``. It hands tools to a session
through the registry's open toolset ``mcp`` (``<server>__<tool>``), and ends its
connections when the session closes.

- ``spec``: :class:`ServerSpec` (from the config, or from ACP's ``McpServerStdio`` /
  ``HttpMcpServer`` / ``SseMcpServer``), ``env:`` references resolved and redacted;
- ``transport``: the SDK's stdio / Streamable HTTP / SSE transports, a child's stderr
  into the log, the end of a server noticed at once;
- ``mapping``: MCP tools and results ↔ ours, pure;
- ``connection``: one server of one session (connect, list, call, list changes);
- ``connections``: the servers of one session (:func:`connect_session_servers`) and
  the runtime's :class:`McpClient` (:func:`install`);
- ``doctor``: ``hermes-mcp doctor``'s check of each configured server.

Entry points call ``install(runtime)`` once; then every session the runtime opens gets
the configured servers. An ACP edge also calls ``client.connect(session,
specs_from_acp(request.mcp_servers))`` and ``client.watch(session, notify)``.
"""

from hermes_mcp.mcp_client.connections import (
    McpClient,
    McpConnections,
    Notify,
    connect_session_servers,
    install,
)
from hermes_mcp.mcp_client.spec import (
    ServerSpec,
    from_acp,
    from_section,
    server_name,
    specs_from_acp,
    specs_from_config,
)

#: What an ACP agent can say in ``initialize`` (``agentCapabilities.mcpCapabilities``):
#: stdio is always supported; these are the others this client speaks.
ACP_MCP_CAPABILITIES = {"http": True, "sse": True}

__all__ = [
    "ACP_MCP_CAPABILITIES",
    "McpClient",
    "McpConnections",
    "Notify",
    "ServerSpec",
    "connect_session_servers",
    "from_acp",
    "from_section",
    "install",
    "server_name",
    "specs_from_acp",
    "specs_from_config",
]
