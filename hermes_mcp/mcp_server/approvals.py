"""Approvals over MCP: a risky action asks the person through the client when it can.

- Handshake era, client declared ``elicitation``: a form elicitation (allow once, allow
  for this session, deny), sent on the connection, so a background job can ask too.
- Otherwise (no elicitation, or a 2026-07-28 client: that era has no server-to-client
  requests, and this server does not yet turn an approval into an ``input_required``
  result): the configured policy has already decided everything it can, and what is
  left is denied with the hint that says how to allow it (``NonInteractiveApprover``).

The runtime wraps every approver in ``policy.approval_timeout_s``: no answer in time is
a denial that says so, so nothing hangs on a client that never answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_mcp.log import get_logger
from tools import ApprovalRequest, Decision, NonInteractiveApprover

if TYPE_CHECKING:
    from hermes_mcp.mcp_server.edge import Edge

_log = get_logger("hermes_mcp.mcp_server")

CHOICES = ("allow", "allow_always", "deny")
SCHEMA = {
    "type": "object",
    "properties": {
        "decision": {
            "type": "string",
            "title": "Decision",
            "enum": list(CHOICES),
            "enumNames": ["Allow once", "Allow for this session", "Deny"],
        }
    },
    "required": ["decision"],
}


def message(request: ApprovalRequest) -> str:
    lines = [f"Hermes asks to {request.title}."]
    if request.risk:
        lines.append(f"Why it asks: {request.risk}.")
    if request.command:
        lines.append(f"Command: {request.command}")
    if request.url:
        lines.append(f"URL: {request.url}")
    if request.paths:
        lines.append("Paths: " + ", ".join(str(p) for p in request.paths))
    if request.diff is not None:
        lines.append("Change:\n" + request.diff.unified[:2000])
    return "\n".join(lines)


class McpApprover:
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.fallback = NonInteractiveApprover()

    async def approve(self, request: ApprovalRequest) -> Decision:
        ctx = self.edge.channel
        if ctx is None or not self.edge.can_elicit():
            decision = await self.fallback.approve(request)
            return Decision.deny(
                decision.reason + " (this MCP client cannot be asked: it offers no elicitation)"
            )
        result = await ctx.session.elicit_form(message(request), SCHEMA)
        if result.action != "accept" or not result.content:
            return Decision.deny(f"the person chose {result.action}")
        choice = result.content.get("decision")
        _log.info("mcp_approval", tool=request.tool, choice=choice)
        if choice == "allow":
            return Decision.allow()
        if choice == "allow_always":
            return Decision.allow(remember=True)
        return Decision.deny("the person denied it")
