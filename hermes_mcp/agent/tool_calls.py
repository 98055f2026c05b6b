"""A turn's tool calls: each through the registry, announced by ``tool_call_start`` and
ended by exactly one ``tool_call_end`` (``cancelled`` too), its result appended to the
history and stored; consecutive read-only calls run together. An ``execute_code``
script's calls go the same way (:func:`code_tool_for`), as children of its call, outside
the conversation. The engine (``engine.py``) calls :func:`run_tools` after each model
call that asked for tools.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import anyio

from hermes_mcp.agent.events import (
    PlanUpdate,
    ToolCallEnd,
    ToolCallProgress,
    ToolCallStart,
    ToolCallStatus,
)
from hermes_mcp.agent.session import Session
from hermes_mcp.agent.store import INTERRUPTED
from hermes_mcp.agent.turn_state import TurnState
from hermes_mcp.llm import types as llm
from hermes_mcp.log import redact, redact_value
from tools import Tool, ToolContext, ToolRegistry, ToolResult
from tools.code_mode import PausingApprover, code_tool
from tools.sandbox import Clock

CANCELLED_EMIT_S = 5.0


async def run_tools(
    session: Session, st: TurnState, registry: ToolRegistry, calls: Sequence[llm.ToolCall]
) -> None:
    for batch in _batches(registry, calls):
        if len(batch) == 1:
            await _call(session, st, registry, batch[0])
            continue
        async with anyio.create_task_group() as tg:
            for call in batch:
                tg.start_soon(_call, session, st, registry, call)


async def _call(
    session: Session, st: TurnState, registry: ToolRegistry, call: llm.ToolCall
) -> None:
    result = await _dispatch(st, registry, call)
    message = llm.Message.tool(call.id, call.name, result.text)
    st.unanswered.pop(call.id, None)
    entry = st.history.append(message, id=None, turn=st.turn)
    entry.id = await session.store.append_tool(
        st.session_id, st.turn, message, result, events=st.log.take()
    )


async def _dispatch(
    st: TurnState,
    registry: ToolRegistry,
    call: llm.ToolCall,
    *,
    parent: str | None = None,
    context: ToolContext | None = None,
) -> ToolResult:
    """One call through the registry, announced by ``tool_call_start`` and ended by
    ``tool_call_end`` (``parent``: the ``execute_code`` call whose script made it)."""
    tool = registry.get(call.name)
    kind = tool.annotations.kind if tool is not None else "other"
    # Events leave the process (the edges, `run --json`): arguments are scrubbed of
    # key-shaped strings there; the tool itself gets them as the model wrote them.
    arguments = redact_value(call.arguments)
    title = redact(_title(call))
    await st.emit(ToolCallStart(call.id, call.name, title, kind, arguments, parent))

    async def progress(text: str) -> None:
        await st.emit(ToolCallProgress(call.id, text))

    ctx = dataclasses.replace(context or st.context, call_id=call.id, progress=progress)
    try:
        result = await registry.call(call.name, call.arguments, ctx)
    except anyio.get_cancelled_exc_class():
        end = ToolCallEnd(call.id, call.name, "cancelled", INTERRUPTED, parent_call_id=parent)
        st.log.add(end)
        # Shielded (the call was cancelled), but bounded: a consumer that stopped reading
        # without closing its end must not hold the cancelled turn.
        with anyio.move_on_after(CANCELLED_EMIT_S, shield=True):
            await st.out(end)
        raise
    status: ToolCallStatus = (
        "denied" if result.denied else "failed" if result.is_error else "completed"
    )
    await st.emit(
        ToolCallEnd(
            call.id,
            call.name,
            status,
            result.text,
            result.diff,
            result.locations,
            result.structured,
            parent,
        )
    )
    plan = _plan(call.name, result)
    if plan is not None:
        await st.emit(plan)
    return result


def _batches(registry: ToolRegistry, calls: Sequence[llm.ToolCall]) -> list[list[llm.ToolCall]]:
    """Runs of consecutive read-only calls (run together), every other call alone."""
    batches: list[list[llm.ToolCall]] = []
    previous_read_only = False
    for call in calls:
        tool = registry.get(call.name)
        read_only = tool is not None and tool.annotations.read_only
        if read_only and previous_read_only:
            batches[-1].append(call)
        else:
            batches.append([call])
        previous_read_only = read_only
    return batches


def _title(call: llm.ToolCall) -> str:
    for key in ("command", "path", "url", "pattern", "glob"):
        value = call.arguments.get(key)
        if isinstance(value, str) and value:
            return f"{call.name}: {value[:80]}"
    code = call.arguments.get("code")
    if call.name == "execute_code" and isinstance(code, str):
        first = next((line.strip() for line in code.splitlines() if line.strip()), "")
        return f"execute_code: {first[:80]}"
    tasks = call.arguments.get("tasks")
    if call.name == "delegate_task" and isinstance(tasks, list):
        return f"delegate_task: {len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    return call.name


def _plan(name: str, result: ToolResult) -> PlanUpdate | None:
    if name != "todo" or result.is_error or result.structured is None:
        return None
    entries = result.structured.get("entries")
    return PlanUpdate(tuple(entries)) if isinstance(entries, list) else None


def code_tool_for(session: Session, st: TurnState, registry: ToolRegistry) -> Tool[Any]:
    """``execute_code`` of this turn: each call of its script is dispatched like one of the
    model's (``_dispatch``), as a child of the ``execute_code`` call, outside the
    conversation (the model reads only what the script prints)."""
    inner = itertools.count(1)

    async def dispatch(
        name: str, arguments: dict[str, Any], ctx: ToolContext, clock: Clock
    ) -> ToolResult:
        parent = ctx.call_id or "execute_code"
        call = llm.ToolCall(f"{parent}.{next(inner)}", name, arguments)
        context = dataclasses.replace(ctx, approver=PausingApprover(ctx.approver, clock))
        return await _dispatch(st, registry, call, parent=parent, context=context)

    section = session.config.agent
    return code_tool(
        registry, dispatch, timeout_s=section.code_timeout_s, max_calls=section.code_max_calls
    )
