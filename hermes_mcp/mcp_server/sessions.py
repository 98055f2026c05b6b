"""What the MCP edge holds per session: who its risky actions ask, and how.

An :class:`McpSession` is one session's MCP-side state, with the session's lifetime
(the edge keeps the recent ones open and closes the oldest idle one past a limit):

- the runtime's :class:`~hermes_mcp.agent.session.Session` it stands for (``None`` for
  the one that holds direct tool calls, which run outside any agent turn);
- its approver (:class:`McpApprover`), bound to this object as ACP binds one per
  session: the session's tool context holds it, and so do its delegated children's,
  so a request needs no routing data to find its way back;
- the 2026-07-28 work waiting on a client's retry (``interactions``, by token) and the
  one its approvals go to now (``waiting``: the ``agent_run`` round, or the job that
  ``agent_result`` polls);
- the connection it may elicit on in the handshake era (``peer``: the one of the last
  request that used the session, when that request could send requests);
- for direct calls: their plan and "always" answers (an agent session keeps its own).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_mcp.log import get_logger
from hermes_mcp.mcp_server.approvals import SCHEMA, Ctx, Interaction, decision_from
from hermes_mcp.mcp_server.prompt_text import Changes, message
from tools import ApprovalRequest, Decision, NonInteractiveApprover

if TYPE_CHECKING:
    from mcp.server.session import ServerSession

    from hermes_mcp.agent.jobs import Job
    from hermes_mcp.agent.session import Session
    from tools import ToolContext

_log = get_logger("hermes_mcp.mcp_server")

KEEP_UNCLAIMED_S = 600.0  # a finished result waits this long for the client's retry


class McpSession:
    """See the module docstring."""

    def __init__(self, session: Session | None = None, changes: Changes | None = None) -> None:
        self.session = session
        # long changes' whole text, offered as resources (the edge's, shared by its sessions)
        self.changes = changes if changes is not None else Changes()
        self.approver = McpApprover(self)
        self.peer: ServerSession | None = None
        self.waiting: Interaction | None = None
        self.interactions: dict[str, Interaction] = {}
        self.plans: dict[str, list[dict[str, Any]]] = {}  # direct calls only
        self.remembered: dict[tuple[str, str], bool] = {}  # direct calls only
        self.contexts: dict[tuple[Path, ...], ToolContext] = {}  # direct calls, by roots

    def used_by(self, ctx: Ctx) -> None:
        """A request uses this session: its connection is the one to elicit on (when the
        request can send requests at all: a handshake-era client)."""
        if ctx.session.can_send_request:
            self.peer = ctx.session

    def can_elicit(self) -> bool:
        caps = None if self.peer is None else self.peer.client_capabilities
        return bool(caps and caps.elicitation is not None)

    def hold(self, interaction: Interaction) -> None:
        """``interaction`` answers for this session's work until :meth:`release`."""
        self.prune()
        self.interactions[interaction.token] = interaction
        self.waiting = interaction

    def release(self, interaction: Interaction) -> None:
        if self.waiting is interaction:
            self.waiting = None

    def polled(self, job: Job) -> Interaction | None:
        """The interaction ``agent_result`` polls for ``job`` (2026-07-28), if any."""
        waiting = self.waiting
        return waiting if waiting is not None and waiting.job is job else None

    def prune(self) -> None:
        """Forget finished work whose result no retry came back for."""
        now = time.monotonic()
        for token, old in list(self.interactions.items()):
            if old.finished_at is not None and now - old.finished_at > KEEP_UNCLAIMED_S:
                del self.interactions[token]


class McpApprover:
    """One session's approver (``tools.Approver``). In order: the 2026-07-28 interaction
    it was made for (one direct call's) or the one its session's work is waiting in
    (approvals become ``input_required`` results); else a form elicitation on the
    session's connection (handshake era, the client declared ``elicitation``); else a
    denial that says how to allow it."""

    def __init__(self, owner: McpSession, interaction: Interaction | None = None) -> None:
        self.owner = owner
        self.interaction = interaction
        self.fallback = NonInteractiveApprover()

    async def approve(self, request: ApprovalRequest) -> Decision:
        interaction = self.interaction or self.owner.waiting
        text = message(request, self.owner.changes)
        if interaction is not None:
            return await interaction.ask(request, text)
        peer = self.owner.peer
        if peer is None or not self.owner.can_elicit():
            decision = await self.fallback.approve(request)
            return Decision.deny(
                decision.reason + " (this MCP client cannot be asked: it offers no elicitation)"
            )
        result = await peer.elicit_form(text, SCHEMA)
        decision = decision_from(result)
        _log.info("mcp_approval", tool=request.tool, allowed=decision.allowed)
        return decision
