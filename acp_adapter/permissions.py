"""Approvals as ``session/request_permission``: the command or the diff, four answers.

The request is shown against the tool call the editor knows: the call itself, or for a
delegated task's request, the parent's ``delegate_task`` call (the title names the
task's action). The options are allow once, allow always, reject once and reject
always; the "always" ones say what they stick to (this exact command, path or URL, in
this session only) and come back as ``Decision(remember=True)``, which the session keeps.
A cancelled prompt answers ``cancelled``: a rejection. The runtime's
``policy.approval_timeout_s`` bounds the wait; no answer in time is a rejection too.
"""

from __future__ import annotations

from acp.interfaces import Client
from acp.schema import (
    AllowedOutcome,
    ContentToolCallContent,
    FileEditToolCallContent,
    PermissionOption,
    TextContentBlock,
    ToolCallLocation,
    ToolCallUpdate,
)

from acp_adapter.mapping import diff_content
from tools import ApprovalRequest, Decision

ALLOW_ONCE, ALLOW_ALWAYS = "allow_once", "allow_always"
REJECT_ONCE, REJECT_ALWAYS = "reject_once", "reject_always"


def _target(request: ApprovalRequest) -> str:
    if request.command:
        return "this exact command"
    if request.url:
        return "this exact URL"
    return "this exact path" if len(request.paths) <= 1 else "these exact paths"


def options(request: ApprovalRequest) -> list[PermissionOption]:
    target = _target(request)
    return [
        PermissionOption(option_id=ALLOW_ONCE, name="Allow once", kind="allow_once"),
        PermissionOption(
            option_id=ALLOW_ALWAYS,
            name=f"Always allow {target} in this session",
            kind="allow_always",
        ),
        PermissionOption(option_id=REJECT_ONCE, name="Reject", kind="reject_once"),
        PermissionOption(
            option_id=REJECT_ALWAYS,
            name=f"Always reject {target} in this session",
            kind="reject_always",
        ),
    ]


def tool_call(request: ApprovalRequest) -> ToolCallUpdate:
    content: list[ContentToolCallContent | FileEditToolCallContent] = []
    if request.diff is not None:
        content.append(diff_content(request.diff))
    detail = request.command or request.url
    lines = [f"$ {detail}" if request.command else detail or ""]
    if request.risk:
        lines.append(f"needs approval: {request.risk}")
    text = "\n".join(line for line in lines if line)
    if text:
        block = TextContentBlock(type="text", text=text)
        content.append(ContentToolCallContent(type="content", content=block))
    raw = {"tool": request.tool, "action": request.action}
    if request.command:
        raw["command"] = request.command
    if request.url:
        raw["url"] = request.url
    title = request.title
    call_id = request.call_id or "approval"
    if request.parent_call_id is not None:  # a delegated task asks: show it on its parent
        call_id = request.parent_call_id
        title = f"Delegated task: {request.title}"
    return ToolCallUpdate(
        tool_call_id=call_id,
        title=title,
        kind=request.kind,
        status="pending",
        content=content,
        locations=[ToolCallLocation(path=str(p)) for p in request.paths] or None,
        raw_input=raw,
    )


class EditorApprover:
    """The person at the editor answers (``tools.Approver``)."""

    def __init__(self, conn: Client, session_id: str) -> None:
        self._conn = conn
        self._session_id = session_id

    async def approve(self, request: ApprovalRequest) -> Decision:
        response = await self._conn.request_permission(
            self._session_id, tool_call(request), options(request)
        )
        chosen = response.outcome
        if not isinstance(chosen, AllowedOutcome):
            return Decision.deny("the prompt was cancelled before an answer")
        if chosen.option_id == ALLOW_ONCE:
            return Decision.allow()
        if chosen.option_id == ALLOW_ALWAYS:
            return Decision.allow(remember=True)
        if chosen.option_id == REJECT_ALWAYS:
            return Decision.deny("rejected in the editor (always, this session)", remember=True)
        return Decision.deny("rejected in the editor")
