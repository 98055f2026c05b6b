"""``delegate_task``: child agents run inside the parent's turn.

The tool is built per parent turn (:func:`delegate_tool`) and registered in the
``delegation`` toolset of that turn's registry, offered while the session's depth is
below ``delegation.max_depth``. Its arguments and results are ``tools.delegation``'s
models. :func:`delegate` runs tasks outside any turn (the MCP edge's ``delegate_task``).

For each task, a child session (``Session.child``):

- runs in a task group owned by the parent's tool call, at most
  ``delegation.max_concurrency`` at once; the rest wait their turn (FIFO), however many;
- starts a fresh session (``parent_id`` = the parent's) whose first user message is the
  task's goal and context, verbatim;
- shares the parent's model interface, so the router's fallback chain, cooldowns and
  credential leases: concurrent children hold distinct credentials of a pool, and a key
  the parent found dead is skipped without a request;
- has its own budget (``[agent]``) and its own deadline (a task's ``timeout_s`` can
  shorten it), inside the parent's;
- uses the parent call's tool context, so its risky actions go to the parent's approver;
- reports to the parent as ``child`` events (its text and thought deltas left out,
  unless the caller asks for them: ``deltas=True``, for an edge that streams them);
- counts in the parent's usage: its tokens and cost join the parent turn's and session's.

A child that fails, times out or cannot start fails its task, never the batch. A
cancelled parent cancels every child with it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from hermes_mcp.agent.events import (
    ChildStatus,
    ChildUpdate,
    Emit,
    Event,
    TextDelta,
    ThoughtDelta,
    TurnEnd,
)
from hermes_mcp.agent.prompts import task_message
from hermes_mcp.agent.session import Session
from hermes_mcp.llm.types import Usage
from hermes_mcp.log import get_logger
from tools import Tool, ToolContext, ToolResult
from tools.delegation import (
    ANNOTATIONS,
    DELEGATE_TASK,
    DESCRIPTION,
    DelegateArgs,
    DelegatedTask,
    DelegationOutput,
    TaskResult,
    TaskStatus,
    TaskUsage,
    render,
)

if TYPE_CHECKING:
    from hermes_mcp.agent.turn_state import TurnState

log = get_logger("hermes_mcp.agent")

SUMMARY_MAX_CHARS = 4000
GOAL_IN_EVENTS = 200


def delegate_tool(parent: Session, st: TurnState) -> Tool[DelegateArgs]:
    """The ``delegate_task`` tool of one parent turn."""

    async def delegate(args: DelegateArgs, ctx: ToolContext) -> ToolResult:
        results = await run_tasks(parent, args.tasks, ctx, st.emit)
        for result in results:
            usage = task_usage(result)
            st.budget.add(usage, result.cost_usd)
            st.totals.add(usage, result.cost_usd)
        output = DelegationOutput(results=results)
        return ToolResult(text=render(output), structured=output.model_dump())

    return Tool(
        name=DELEGATE_TASK,
        description=DESCRIPTION,
        args=DelegateArgs,
        fn=delegate,
        toolset="delegation",
        annotations=ANNOTATIONS,
        output=DelegationOutput,
    )


def task_usage(result: TaskResult) -> Usage:
    u = result.usage
    return Usage(
        u.input_tokens, u.output_tokens, u.cached_tokens, cache_write_tokens=u.cache_write_tokens
    )


async def delegate(
    session: Session,
    tasks: Sequence[DelegatedTask],
    *,
    emit: Emit | None = None,
    deltas: bool = False,
) -> DelegationOutput:
    """Run ``tasks`` as delegated children of ``session`` outside any turn (the MCP
    edge's ``delegate_task``): concurrently up to ``delegation.max_concurrency``, the
    rest queued, each in a child session, with this session's approver and router.
    Progress goes to ``emit`` as ``child`` events (the call id is a fresh
    ``delegate-<hex>``); a child's own call ids are its session's, so an edge that shows
    them next to the parent's must qualify them with ``ChildUpdate.session_id``.
    ``deltas=True`` forwards the children's text and thought deltas too (as ``child``
    progress events), for an edge that streams them. The children's tokens and cost
    join the session's totals. SessionClosed for a closed session.
    """
    session.check_open()

    async def discard(event: Event) -> None:
        return None

    ctx = session.context.for_call(f"delegate-{uuid.uuid4().hex[:12]}")
    results = await run_tasks(session, list(tasks), ctx, emit or discard, deltas=deltas)
    for result in results:
        session.totals.add(task_usage(result), result.cost_usd)
    return DelegationOutput(results=results)


async def run_tasks(
    parent: Session,
    tasks: list[DelegatedTask],
    ctx: ToolContext,
    emit: Emit,
    *,
    deltas: bool = False,
) -> list[TaskResult]:
    """Run every task (at most ``max_concurrency`` at once); results in task order.
    ``deltas``: forward the children's text and thought deltas too."""
    limiter = anyio.CapacityLimiter(parent.config.delegation.max_concurrency)
    results: list[TaskResult | None] = [None] * len(tasks)

    async def one(index: int, task: DelegatedTask) -> None:
        async with limiter:
            results[index] = await _run_child(parent, index, task, ctx, emit, deltas)

    async with anyio.create_task_group() as tg:
        for index, task in enumerate(tasks):
            tg.start_soon(one, index, task)
    return [r for r in results if r is not None]


async def _run_child(
    parent: Session,
    index: int,
    task: DelegatedTask,
    ctx: ToolContext,
    emit: Emit,
    deltas: bool,
) -> TaskResult:
    started = time.monotonic()
    goal = task.goal[:GOAL_IN_EVENTS]
    session_id: str | None = None
    try:
        child = await parent.child(
            title=task.goal,
            context=ctx,
            toolsets=task.toolsets,
            model=task.model,
            timeout_s=task.timeout_s,
        )
        session_id = child.id
        await emit(ChildUpdate(ctx.call_id, index, goal, child.id, "started"))

        async def forward(event: Event) -> None:
            if isinstance(event, TextDelta | ThoughtDelta) and not deltas:
                return
            done = isinstance(event, TurnEnd)
            status: ChildStatus = "done" if done else "progress"
            await emit(ChildUpdate(ctx.call_id, index, goal, child.id, status, event))

        end = await child.run_turn(task_message(task.goal, task.context), forward)
    except Exception as exc:
        log.warning("delegate.failed", task=index, error=str(exc))
        return TaskResult(
            task=index,
            goal=task.goal,
            status="failed",
            summary="",
            model=task.model,
            usage=TaskUsage(),
            cost_usd=None,
            duration_s=round(time.monotonic() - started, 3),
            exit_reason="error",
            session_id=session_id,
            error=str(exc),
        )
    status: TaskStatus = "completed"
    if end.stop_reason == "max_duration":
        status = "timeout"
    elif end.stop_reason != "end_turn":
        status = "failed"
    return TaskResult(
        task=index,
        goal=task.goal,
        status=status,
        summary=cap(end.text, session_id),
        model=end.model,
        usage=TaskUsage(**end.usage.to_json()),
        cost_usd=end.cost_usd,
        duration_s=round(end.duration_s, 3),
        exit_reason=end.stop_reason,
        session_id=session_id,
        error=None if status == "completed" else end.message,
    )


def cap(text: str, session_id: str | None, limit: int = SUMMARY_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return (
        text[:limit] + f"\n[... summary cut: {len(text) - limit:,} more characters; "
        f"the full answer is in session {session_id}]"
    )
