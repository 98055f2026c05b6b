"""Which stored sessions an MCP client reaches: those of the server's workspaces.

A session belongs to the workspace it was started in (its ``cwd``). The server's
workspaces are its roots (``--workspace``, else the client's roots, else its cwd); a
session started in or below one of them is in scope. Anything else holds what another
workspace's policy let through, and continuing it runs a turn in that workspace, so:

- ``sessions_list`` lists the sessions in scope; ``workspace_only=false`` (every
  workspace) asks the person first;
- ``session_read`` and ``agent_run``/``agent_start`` with a ``session_id`` out of scope
  ask first (an "allow for this session" answer is remembered per tool and workspace);
- ``hermes://sessions/{id}`` lists and reads only sessions in scope: resources are read
  without a person in the loop, so one out of scope is not found (its message says to
  use ``session_read``, which asks).

A root that is the filesystem's root (a host that starts servers in ``/``) scopes
nothing: every session then needs approval. The approval goes through the direct
calls' approver (elicitation, an ``input_required`` round where the call is
interactive, or the policy where the client cannot be asked), as ``session_search``'s
does inside a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tools import ApprovalRequest
from tools.paths import is_within
from tools.registry import ToolError

if TYPE_CHECKING:
    from hermes_mcp.agent.store import SessionInfo
    from hermes_mcp.mcp_server.edge import Ctx, Edge

OTHER_WORKSPACE = (
    "a session of another workspace: it holds what that workspace's policy let through"
)


def scope(roots: Sequence[Path]) -> list[Path]:
    """The roots that scope sessions (the filesystem's root scopes nothing)."""
    return [r for r in roots if r != Path(r.anchor)]


def places(roots: Sequence[Path]) -> list[str]:
    """The scope as directory strings, for the store's ``within=`` filter."""
    return [str(r) for r in scope(roots)]


def in_scope(cwd: str, roots: Sequence[Path]) -> bool:
    return any(is_within(Path(cwd), root) for root in scope(roots))


async def refusal(
    edge: Edge, roots: tuple[Path, ...], info: SessionInfo, tool: str, *, continues: bool
) -> str | None:
    """``None`` when ``info``'s session is in scope or the person allows reaching it;
    otherwise what the call answers (the denial, saying why and what was not done)."""
    if in_scope(info.cwd, roots):
        return None
    what = "continue" if continues else "read"
    title = f"{what} session {info.id} ({info.title!r}) of another workspace, {info.cwd}"
    risk = OTHER_WORKSPACE + ("; its turn works in that workspace" if continues else "")
    request = ApprovalRequest(
        tool=tool,
        kind="other" if continues else "read",
        action="write" if continues else "read",
        title=title,
        paths=(Path(info.cwd),),
        risk=risk,
    )
    try:
        await edge.tool_context(roots).authorize(request)
    except ToolError as exc:
        return f"{tool}: {exc}"
    return None


async def refusal_for_all(edge: Edge, roots: tuple[Path, ...], tool: str) -> str | None:
    """Listing every workspace's sessions asks first (``None``: allowed)."""
    request = ApprovalRequest(
        tool=tool,
        kind="read",
        action="read",
        title="list the sessions of every workspace",
        risk=OTHER_WORKSPACE,
    )
    try:
        await edge.tool_context(roots).authorize(request)
    except ToolError as exc:
        return f"{tool}: {exc}"
    return None


async def session_in_scope(edge: Edge, ctx: Ctx, session_id: str) -> SessionInfo | None:
    """The stored session when it is in scope (for resources: no one is asked)."""
    info = await edge.rt().store.get(session_id)
    if info is None or not in_scope(info.cwd, await edge.roots(ctx)):
        return None
    return info
