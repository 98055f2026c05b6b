"""The agent tools' handlers: each translates its arguments into one runtime call and
its outcome into a result (``mapping``). The runtime and the jobs decide everything.

``agent_run`` and ``delegate_task`` run as jobs too (so both follow one path) but are
waited for inside the call: progress goes out at least every ``[mcp]
progress_interval_s`` while they run (when the request carries a progress token), a
fallback as it happens; ``notifications/cancelled`` cancels the job and the call waits
(briefly) for the turn to wind down, so the session is free for the next call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types

from hermes_mcp.agent.jobs import Job, Jobs
from hermes_mcp.mcp_server import interactive, mapping, scope
from hermes_mcp.mcp_server.catalog import (
    AgentResultArgs,
    AgentRunArgs,
    JobArgs,
    SessionReadArgs,
    SessionsListArgs,
)
from hermes_mcp.mcp_server.edge import Ctx, Edge
from hermes_mcp.mcp_server.job_progress import WIND_DOWN_S, follow
from hermes_mcp.mcp_server.sessions import McpSession
from tools.delegation import DelegateArgs

Handler = Callable[
    [Edge, Ctx, Any, tuple[Any, ...]],
    Awaitable[types.CallToolResult | types.InputRequiredResult],
]


def _jobs(edge: Edge) -> Jobs:
    edge.rt()
    assert edge.jobs is not None
    return edge.jobs


class OutOfScope(Exception):
    """A session of another workspace the person did not let this call reach."""


async def _start_turn(
    edge: Edge, ctx: Ctx, args: AgentRunArgs, roots: tuple[Any, ...]
) -> tuple[McpSession, Job]:
    if args.session_id is not None:
        info = await edge.rt().store.get(args.session_id)
        refused = info and await scope.refusal(edge, roots, info, "agent_run", continues=True)
        if refused:
            raise OutOfScope(refused)
    owner = await edge.session(
        ctx,
        roots,
        session_id=args.session_id,
        model=args.model,
        toolsets=args.toolsets,
        title=args.prompt,
    )
    assert owner.session is not None
    return owner, _jobs(edge).start_turn(owner.session, args.prompt)


def _turn_result(job: Job) -> types.CallToolResult:
    end = job.turn_end
    if end is None:
        return mapping.error_result(f"the turn did not finish: {job.error or job.state}")
    return mapping.turn_result(end, job.route)


async def _wait(
    edge: Edge,
    ctx: Ctx,
    tool: str,
    owner: McpSession,
    job: Job,
    result: Callable[[], types.CallToolResult],
) -> interactive.Result:
    """Wait for ``job`` in this call; in 2026-07-28, where a person can only be asked
    through ``input_required``, as an interaction (``interactive``)."""
    if not interactive.wanted(ctx):
        await follow(edge, ctx, job)
        return result()

    async def work(_: object) -> types.CallToolResult:
        await job.wait()
        return result()

    return await interactive.start(edge, ctx, tool, owner, work, cancel=job.cancel, job=job)


async def agent_run(
    edge: Edge, ctx: Ctx, args: AgentRunArgs, roots: tuple[Any, ...]
) -> interactive.Result:
    try:
        owner, job = await _start_turn(edge, ctx, args, roots)
    except OutOfScope as exc:
        return mapping.error_result(str(exc))
    return await _wait(edge, ctx, "agent_run", owner, job, lambda: _turn_result(job))


async def agent_start(
    edge: Edge, ctx: Ctx, args: AgentRunArgs, roots: tuple[Any, ...]
) -> types.CallToolResult:
    try:
        owner, job = await _start_turn(edge, ctx, args, roots)
    except OutOfScope as exc:
        return mapping.error_result(str(exc).replace("agent_run", "agent_start", 1))
    if interactive.wanted(ctx):  # its approvals wait for agent_result to carry them
        interactive.hold_for_polls(edge, owner, job)
    data = {"job_id": job.id, "session_id": job.session_id}
    return mapping.structured_result(f"started job {job.id}", data)


async def agent_status(
    edge: Edge, ctx: Ctx, args: JobArgs, roots: tuple[Any, ...]
) -> types.CallToolResult:
    job = _jobs(edge).get(args.job_id)
    status = job.status()
    asks = interactive.polled(edge, job)
    if asks is not None and asks.asks:
        titles = "; ".join(a.request.title for a in asks.asks.values())
        status["activity"] = f"waiting for approval (call agent_result): {titles}"
    return mapping.structured_result(f"{job.id}: {job.state}, {status['activity']}", status)


async def agent_result(
    edge: Edge, ctx: Ctx, args: AgentResultArgs, roots: tuple[Any, ...]
) -> interactive.Result:
    job = _jobs(edge).get(args.job_id)
    asks = interactive.polled(edge, job) if interactive.wanted(ctx) else None
    if args.wait_s:
        await interactive.wait_job(job, asks, args.wait_s)
    if asks is not None and asks.asks and not job.done:
        return asks.input_required()  # the client asks the person, then calls again
    data: dict[str, Any] = {
        "job_id": job.id,
        "state": job.state,
        "done": job.done,
        "status": job.status(),
        "result": None,
        "delegation": None,
        "error": job.error,
    }
    if not job.done:
        return mapping.structured_result(f"{job.id} is still running: {job.activity.text}", data)
    if job.turn_end is not None:
        data["result"] = mapping.turn_structured(job.turn_end, job.route)
        turn = _turn_result(job)
        first = turn.content[0]
        summary = first.text if isinstance(first, types.TextContent) else ""
        return types.CallToolResult(
            content=mapping.text(summary), structured_content=data, is_error=turn.is_error
        )
    if job.delegation is not None:
        data["delegation"] = job.delegation.model_dump(mode="json")
        return mapping.structured_result(f"{job.id}: {len(job.delegation.results)} task(s)", data)
    return types.CallToolResult(
        content=mapping.text(f"{job.id} ended {job.state}: {job.error}"),
        structured_content=data,
        is_error=True,
    )


async def agent_cancel(
    edge: Edge, ctx: Ctx, args: JobArgs, roots: tuple[Any, ...]
) -> types.CallToolResult:
    job = _jobs(edge).get(args.job_id)
    cancelled = job.cancel()
    if cancelled:
        await job.wait(WIND_DOWN_S)
    data = {"job_id": job.id, "cancelled": cancelled, "state": job.state}
    what = "cancelled" if cancelled else f"was not running ({job.state})"
    return mapping.structured_result(f"{job.id} {what}", data)


async def delegate_task(
    edge: Edge, ctx: Ctx, args: DelegateArgs, roots: tuple[Any, ...]
) -> interactive.Result:
    goals = "; ".join(t.goal for t in args.tasks)
    owner = await edge.session(
        ctx, roots, session_id=None, model=None, toolsets=None, title=f"delegate_task: {goals}"
    )
    assert owner.session is not None
    job = _jobs(edge).start_delegation(owner.session, args.tasks)

    def result() -> types.CallToolResult:
        if job.delegation is None:
            return mapping.error_result(f"delegate_task did not finish: {job.error or job.state}")
        out = job.delegation
        done = sum(1 for r in out.results if r.status == "completed")
        summary = f"{done} of {len(out.results)} task(s) completed"
        return mapping.structured_result(summary, out.model_dump(mode="json"))

    return await _wait(edge, ctx, "delegate_task", owner, job, result)


async def sessions_list(
    edge: Edge, ctx: Ctx, args: SessionsListArgs, roots: tuple[Any, ...]
) -> types.CallToolResult:
    rt = edge.rt()
    within: list[str] | None = scope.places(roots)
    if not args.workspace_only:
        refused = await scope.refusal_for_all(edge, roots, "sessions_list")
        if refused:
            return mapping.error_result(refused)
        within = None
    page = await rt.store.list_sessions(within=within, limit=args.limit, cursor=args.cursor)
    data = {
        "sessions": [s.to_json() for s in page.sessions],
        "next_cursor": page.next_cursor,
    }
    return mapping.structured_result(f"{len(page.sessions)} session(s)", data)


async def session_read(
    edge: Edge, ctx: Ctx, args: SessionReadArgs, roots: tuple[Any, ...]
) -> types.CallToolResult:
    from hermes_mcp.agent.store import SessionNotFound

    rt = edge.rt()
    info = await rt.store.get(args.session_id)
    if info is None:
        raise SessionNotFound.named(args.session_id)
    refused = await scope.refusal(edge, roots, info, "session_read", continues=False)
    if refused:
        return mapping.error_result(refused)
    record = await rt.store.load(args.session_id)
    if record is None:
        raise SessionNotFound.named(args.session_id)
    data = record.to_json()
    title = data.get("session", {}).get("title", "")
    return mapping.structured_result(f"session {args.session_id}: {title}", data)


async def providers_status(
    edge: Edge, ctx: Ctx, args: Any, roots: tuple[Any, ...]
) -> types.CallToolResult:
    rt = edge.rt()
    status = rt.router.status()
    report = status["credentials"]
    chain: list[str] = []
    if rt.problem is None:
        chain = [str(ref) for ref in rt.settings.chain]
    data = {"credentials": report, "skips": status["skips"], "chain": chain, "problem": rt.problem}
    usable = sum(1 for r in report if r.get("state") == "available")
    return mapping.structured_result(f"{usable} of {len(report)} credential(s) available", data)


HANDLERS: dict[str, Handler] = {
    "agent_run": agent_run,
    "agent_start": agent_start,
    "agent_status": agent_status,
    "agent_result": agent_result,
    "agent_cancel": agent_cancel,
    "delegate_task": delegate_task,
    "sessions_list": sessions_list,
    "session_read": session_read,
    "providers_status": providers_status,
}

__all__ = ["HANDLERS"]
