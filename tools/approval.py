"""Approval: what a tool asks before a risky action, and who answers.

An :class:`ApprovalRequest` describes one action: the tool, its ACP kind, the rule
category it falls under (``read``, ``write``, ``terminal``, ``fetch``, ``mcp``), a title, the
paths, command or URL involved, the diff of an edit, and ``risk`` — why it needs a
human (``None`` for routine actions, which only deny rules can stop).

The :class:`Approver` protocol is what an edge implements: the ACP edge turns a request
into ``session/request_permission``, the MCP edge into an elicitation. When nobody can
be asked (``hermes-mcp run`` without a terminal, an MCP client without elicitation),
:class:`NonInteractiveApprover` answers: it denies, explains which allow rule or policy
mode would have let the action through, and never reads stdin. Whether a request reaches
the approver at all is the policy's call (``tools/policy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from tools.effects import FileDiff, ToolKind

Action = Literal["read", "write", "terminal", "fetch", "mcp"]


@dataclass(frozen=True)
class ApprovalRequest:
    tool: str
    kind: ToolKind
    action: Action
    title: str
    paths: tuple[Path, ...] = ()
    command: str | None = None
    url: str | None = None
    risk: str | None = None
    diff: FileDiff | None = None
    # The call that asks, and for a delegated child, its parent's ``delegate_task`` call,
    # so an edge can show the request against the call the person sees. Whom to ask is
    # not here: each session's approver is its own (the edge binds one per session).
    call_id: str | None = None
    parent_call_id: str | None = None
    addresses: tuple[str, ...] = ()  # for a fetch: what the host resolved to
    # The tool's other spellings, which ``tool:``/``mcp:`` rules match too: for a
    # mounted MCP server's tool, ``<server>__<its own name>`` beside the registered one.
    aliases: tuple[str, ...] = ()

    @property
    def memo_key(self) -> tuple[str, str]:
        """What an "always" answer is remembered under: the tool and its exact target."""
        target = self.command or self.url or "\0".join(str(p) for p in self.paths)
        return (self.tool, target)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    remember: bool = False  # apply to the same tool and target for the rest of the session

    @classmethod
    def allow(cls, *, remember: bool = False) -> Decision:
        return cls(True, remember=remember)

    @classmethod
    def deny(cls, reason: str = "", *, remember: bool = False) -> Decision:
        return cls(False, reason, remember)


class Approver(Protocol):
    async def approve(self, request: ApprovalRequest) -> Decision:
        """Answer one request. Raising is treated as a denial."""
        ...


_HINTS: dict[str, str] = {
    "terminal": "add an allow rule such as 'terminal:git status*' or set policy.mode = 'auto'",
    "write": "set policy.mode = 'accept_edits' or add an allow rule such as 'write:src/**'",
    "read": "add an allow rule such as 'read:.env.development'",
    "fetch": "add an allow rule such as 'fetch:http://127.0.0.1:*'",
    "mcp": "add an allow rule such as 'mcp:{tool}' or set policy.mode = 'auto'",
}


class NonInteractiveApprover:
    """The approver used when nobody can be asked: denies with a hint, never blocks."""

    async def approve(self, request: ApprovalRequest) -> Decision:
        return Decision.deny(
            f"needs approval ({request.risk}) and nobody can be asked; "
            + _HINTS[request.action].format(tool=request.tool)
        )


class StaticApprover:
    """Answers every request the same way (tests, scripted runs)."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    async def approve(self, request: ApprovalRequest) -> Decision:
        return Decision(self.allowed, "" if self.allowed else "denied")
