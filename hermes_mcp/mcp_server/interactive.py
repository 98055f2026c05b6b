"""Calls that may need a person, in the 2026-07-28 era: the work runs in the runtime's
task group under an :class:`~hermes_mcp.mcp_server.approvals.Interaction`; each round's
request waits for the work to end or to ask, and answers with the result or with
``input_required``. The client's retry (``requestState`` + ``inputResponses``) resumes
the same work. Cancelling a round's request cancels the work.

The interaction belongs to the session whose work it runs (``sessions.McpSession``):
that session's approver asks through it while it waits. A direct tool call's work gets
an approver of its own, made for its interaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.exceptions import MCPError

from hermes_mcp.agent.jobs import Job
from hermes_mcp.log import get_logger
from hermes_mcp.mcp_server.approvals import Ctx, Interaction
from hermes_mcp.mcp_server.edge import Edge
from hermes_mcp.mcp_server.job_progress import progress
from hermes_mcp.mcp_server.mapping import error_result
from hermes_mcp.mcp_server.sessions import McpSession

_log = get_logger("hermes_mcp.mcp_server")

Result = types.CallToolResult | types.InputRequiredResult
WIND_DOWN_S = 15.0


def wanted(ctx: Ctx) -> bool:
    """Whether this request's client can be asked through ``input_required``."""
    caps = ctx.session.client_capabilities
    return not ctx.session.can_send_request and bool(caps and caps.elicitation is not None)


async def start(
    edge: Edge,
    ctx: Ctx,
    tool: str,
    owner: McpSession,
    work: Callable[[Interaction], Awaitable[types.CallToolResult]],
    *,
    cancel: Callable[[], object] | None = None,
    job: Job | None = None,
) -> Result:
    """Run ``work`` in the background as an interaction of ``owner`` (a session's work:
    its approver asks through the interaction while it runs; a direct call's work is
    handed the interaction to make its own approver with); wait for its first answer."""
    scope = anyio.CancelScope()

    def stop() -> None:
        if cancel is not None:
            cancel()  # a job's own cancel: the work ends when its turn has wound down
        else:
            scope.cancel()

    interaction = Interaction(tool, stop)
    if owner.session is None:  # direct calls run side by side: each has its own
        owner.prune()
        owner.interactions[interaction.token] = interaction
    else:
        owner.hold(interaction)

    async def run() -> None:
        try:
            with scope:
                result = await work(interaction)
            interaction.finish(result or _stopped())
        except Exception as exc:
            _log.warning("mcp_work_failed", tool=tool, error=exc)
            interaction.finish(_failed(tool, exc))
        finally:
            if not interaction.finished.is_set():
                interaction.finish(_stopped())
            owner.release(interaction)

    edge.rt().task_group.start_soon(run)
    return await wait(edge, owner, ctx, interaction, job)


def answer(edge: Edge, params: types.CallToolRequestParams) -> tuple[McpSession, Interaction]:
    """Hand a retry's answers to the work its ``requestState`` names."""
    token = params.request_state or ""
    found = edge.interaction(token)
    if found is None or found[1].tool != params.name:
        raise MCPError(
            code=types.INVALID_PARAMS,
            message="requestState is unknown or expired (or not this tool's): call the tool again",
        )
    found[1].answer(dict(params.input_responses or {}))
    return found


async def resume(edge: Edge, ctx: Ctx, params: types.CallToolRequestParams) -> Result:
    owner, interaction = answer(edge, params)
    return await wait(edge, owner, ctx, interaction, None)


# -- background jobs: their approvals reach the person through agent_result ----------------


def hold_for_polls(edge: Edge, owner: McpSession, job: Job) -> Interaction:
    """A 2026-07-28 client's background job: what it asks waits for the next
    ``agent_result`` poll, which answers ``input_required``; forgotten when it ends."""
    interaction = Interaction("agent_result", job.cancel)
    interaction.job = job
    owner.hold(interaction)

    async def forget() -> None:
        await job.wait()
        owner.release(interaction)
        owner.interactions.pop(interaction.token, None)

    edge.rt().task_group.start_soon(forget)
    return interaction


def polled(edge: Edge, job: Job) -> Interaction | None:
    owner = edge.owner_of(job.session_id)
    return None if owner is None else owner.polled(job)


async def wait_job(job: Job, asks: Interaction | None, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for ``job`` to end, or (when polled) to ask."""
    with anyio.move_on_after(timeout_s):
        while not job.done and not (asks is not None and _waiting(asks)):
            if asks is None:
                await job.wait()
                return
            async with anyio.create_task_group() as tg:

                async def either(event: Awaitable[Any]) -> None:
                    await event
                    tg.cancel_scope.cancel()

                tg.start_soon(either, job.wait())
                tg.start_soon(either, asks.changed())


async def wait(
    edge: Edge, owner: McpSession, ctx: Ctx, interaction: Interaction, job: Job | None
) -> Result:
    job = interaction.job = job or interaction.job
    interaction.ctx = ctx
    try:
        async with anyio.create_task_group() as tg:
            if job is not None:
                tg.start_soon(progress, edge, ctx, job)
            while not interaction.finished.is_set() and not _waiting(interaction):
                await interaction.changed()
            tg.cancel_scope.cancel()
    except anyio.get_cancelled_exc_class():
        interaction.cancel()
        with anyio.move_on_after(WIND_DOWN_S, shield=True):
            await interaction.finished.wait()
        owner.interactions.pop(interaction.token, None)
        raise
    finally:
        interaction.ctx = None
    if interaction.finished.is_set():
        owner.interactions.pop(interaction.token, None)
        assert interaction.result is not None
        return interaction.result
    return interaction.input_required()


def _waiting(interaction: Interaction) -> bool:
    return any(not ask.answered.is_set() for ask in interaction.asks.values())


def _stopped() -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="the call was stopped")], is_error=True
    )


def _failed(tool: str, exc: Exception) -> types.CallToolResult:
    return error_result(f"{tool} failed: {type(exc).__name__}: {exc}")
