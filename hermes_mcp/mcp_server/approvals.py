"""Approvals over MCP: a risky action asks the person through the client when it can.

- Handshake era, client declared ``elicitation``: a form elicitation (allow once, allow
  for this session, deny), sent on the connection, so a background job can ask too.
- 2026-07-28 client that declares elicitation, in a call it waits for (direct tools,
  ``agent_run``, ``delegate_task``): an ``input_required`` result carrying the form
  (:class:`Interaction`); the client's retry brings the answer.
- Otherwise (no elicitation; or a background job of a 2026-07-28 client, which has no
  request to answer through): the configured policy has already decided everything it
  can, and what is left is denied with the hint that says how to allow it.

Each session's approver is ``sessions.McpApprover``; this module holds what it asks
with: the message and form, and the 2026-07-28 :class:`Interaction`.

The runtime wraps every approver in ``policy.approval_timeout_s``: no answer in time is
a denial that says so, so nothing hangs on a client that never answers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext

from tools import ApprovalRequest, Decision

if TYPE_CHECKING:
    from hermes_mcp.agent.jobs import Job

#: A request's context, as the SDK hands it to a handler.
Ctx = ServerRequestContext[Any, Any]

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


# -- 2026-07-28: approvals as input_required results -------------------------------------------


@dataclass
class Ask:
    id: str
    request: ApprovalRequest
    message: str  # what the person is shown
    answered: anyio.Event = field(default_factory=anyio.Event)
    decision: Decision | None = None


def decision_from(response: Any) -> Decision:
    """An elicitation response (``ElicitResult``-shaped) as a decision."""
    action = getattr(response, "action", None)
    content = getattr(response, "content", None) or {}
    if action != "accept":
        return Decision.deny(f"the person chose {action or 'nothing'}")
    choice = content.get("decision")
    if choice == "allow":
        return Decision.allow()
    if choice == "allow_always":
        return Decision.allow(remember=True)
    return Decision.deny("the person denied it")


class Interaction:
    """Work started by a 2026-07-28 ``tools/call`` that may need a person. That era has
    no server-to-client requests, so an approval the work asks for waits here; the call
    answers ``input_required`` (an elicitation per waiting approval, and ``requestState``
    = this interaction's token), and the client's retry carries the answers. The work
    runs in the runtime's task group, so it outlives each round's request.

    The token is 128 random bits looked up in its session's table (an unknown one is
    refused), bound to the tool it was issued for; it is never decoded, so a client
    cannot forge state into it."""

    def __init__(self, tool: str, cancel: Callable[[], object]) -> None:
        self.token = secrets.token_urlsafe(16)
        self.tool = tool
        self.cancel = cancel
        self.asks: dict[str, Ask] = {}
        self.result: types.CallToolResult | None = None
        self.job: Job | None = None  # the job doing the work, when it is one (progress)
        self.ctx: Ctx | None = None  # the request of the round waiting now
        self.finished = anyio.Event()
        self.finished_at: float | None = None
        self._changed = anyio.Event()

    def poke(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def finish(self, result: types.CallToolResult) -> None:
        self.result = result
        self.finished_at = time.monotonic()
        self.finished.set()
        self.poke()

    async def ask(self, request: ApprovalRequest, text: str) -> Decision:
        ask = Ask(f"approval-{secrets.token_hex(6)}", request, text)
        self.asks[ask.id] = ask
        self.poke()
        try:
            await ask.answered.wait()
        finally:
            self.asks.pop(ask.id, None)
        assert ask.decision is not None
        return ask.decision

    def answer(self, responses: dict[str, Any]) -> None:
        for key, response in responses.items():
            ask = self.asks.get(key)
            if ask is not None and not ask.answered.is_set():
                ask.decision = decision_from(response)
                ask.answered.set()

    def input_required(self) -> types.InputRequiredResult:
        requests: dict[str, types.InputRequest] = {
            ask.id: types.ElicitRequest(
                params=types.ElicitRequestFormParams(message=ask.message, requested_schema=SCHEMA)
            )
            for ask in self.asks.values()
        }
        return types.InputRequiredResult(input_requests=requests, request_state=self.token)
