"""``session_search``: full-text search over past sessions (the ``memory`` toolset).

Searches the stored sessions' messages and tool results (FTS5, ranked by bm25; see
``hermes_mcp.state.search``) except the session asking, whose own tool call would
otherwise match itself. By default only sessions started in this workspace (in or below
one of its roots) are searched: another workspace's sessions hold what that workspace's
policy let through, which this one's may deny. ``workspace_only=false`` searches every
session and is a risky read that goes to the approver (``ask`` and ``accept_edits``).
Each hit names its session (id, title, when) and carries a snippet with the matches
between ``**``. Database calls run in a worker thread.
"""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from hermes_mcp.errors import HermesError, iso_utc
from hermes_mcp.state.search import search_sessions
from tools.approval import ApprovalRequest
from tools.context import ToolContext
from tools.registry import Tool, ToolAnnotations, ToolError, ToolResult


class SessionSearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1,
        max_length=500,
        description='Words that must all occur; "quoted words" for a phrase; word* for a prefix',
    )
    limit: int = Field(default=5, ge=1, le=20, description="At most this many hits")
    workspace_only: bool = Field(
        default=True,
        description="Only sessions started in this workspace (false needs the user's approval)",
    )


class SessionHit(BaseModel):
    session_id: str
    title: str
    cwd: str
    turn: int
    role: str
    tool: str | None
    snippet: str
    created_at: str | None


class SessionSearchOutput(BaseModel):
    hits: list[SessionHit]


async def session_search(args: SessionSearchArgs, ctx: ToolContext) -> ToolResult:
    db = ctx.db
    if db is None:
        raise ToolError("session_search is unavailable: no state database in this session")
    if not args.workspace_only:
        await ctx.authorize(
            ApprovalRequest(
                tool="session_search",
                kind="search",
                action="read",
                title=f"Search every workspace's sessions for {args.query!r}",
                risk="reads sessions of other workspaces, whose policies may differ",
            )
        )
    within = [str(root) for root in ctx.roots] if args.workspace_only else None
    try:
        hits = await anyio.to_thread.run_sync(
            lambda: search_sessions(
                db,
                args.query,
                within=within,
                exclude_session=ctx.session_id,
                limit=args.limit,
            )
        )
    except HermesError as exc:
        raise ToolError(f"session_search failed: {exc}") from None
    found = [
        SessionHit(
            session_id=h.session_id,
            title=h.title,
            cwd=h.cwd,
            turn=h.turn,
            role=h.role,
            tool=h.name,
            snippet=h.snippet,
            created_at=iso_utc(h.created_at),
        )
        for h in hits
    ]
    if not found:
        return ToolResult(text=f"no past session matches {args.query!r}", structured={"hits": []})
    lines = [f"{len(found)} match(es) in past sessions, best first:"]
    for hit in found:
        source = f"{hit.tool} result" if hit.role == "tool" and hit.tool else hit.role
        lines.append(
            f"- session {hit.session_id} {hit.title!r} ({hit.created_at}, {hit.cwd}),"
            f" turn {hit.turn}, {source}: {hit.snippet}"
        )
    return ToolResult(
        text="\n".join(lines), structured=SessionSearchOutput(hits=found).model_dump()
    )


SESSION_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="session_search",
        description=(
            "Search past sessions (their messages and tool results) by words or a "
            '"quoted phrase"; returns ranked snippets naming each session.'
        ),
        args=SessionSearchArgs,
        fn=session_search,
        toolset="memory",
        output=SessionSearchOutput,
        annotations=ToolAnnotations(
            read_only=True, destructive=False, idempotent=True, kind="search"
        ),
    ),
)
