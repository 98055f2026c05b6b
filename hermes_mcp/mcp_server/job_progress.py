"""A job's progress, told to the request that waits for it (``agent_run``,
``delegate_task``, a 2026-07-28 round): what each notable event says as it happens, the
current activity at least every ``[mcp] progress_interval_s`` otherwise."""

from __future__ import annotations

import time

import anyio

from hermes_mcp.agent.events import Event, ModelSwitch
from hermes_mcp.agent.jobs import Job
from hermes_mcp.mcp_server import mapping
from hermes_mcp.mcp_server.approvals import Ctx
from hermes_mcp.mcp_server.edge import Edge

WIND_DOWN_S = 15.0  # how long a cancelled call waits for its turn to end


async def progress(edge: Edge, ctx: Ctx, job: Job) -> None:
    """Send progress for ``job`` until it ends: what each notable event says as it
    happens (a fallback, a tool, a child), the current activity at least every
    ``[mcp] progress_interval_s`` otherwise; route switches also as log messages."""
    assert edge.settings is not None
    interval = edge.settings.config.mcp.progress_interval_s
    notes: list[str] = []
    switches: list[ModelSwitch] = []

    def note(event: Event) -> None:
        text = mapping.progress_text(event)
        if text is not None:
            notes.append(text)
        if isinstance(event, ModelSwitch):
            switches.append(event)

    job.watchers.append(note)
    step, last = 0, 0.0
    try:
        while True:
            ended = job.done
            now = time.monotonic()
            messages = list(notes)
            notes.clear()
            if not messages and (now - last >= interval or ended):
                messages = [f"{job.activity.text} ({job.elapsed_s:.0f} s)"]
            for text in messages:
                step += 1
                await ctx.session.report_progress(step, None, text)
                last = now
            for switch in switches:
                await edge.log(ctx, "warning", {"event": "model_switch", **switch.to_json()})
            switches.clear()
            if ended:
                return
            await job.changed(max(0.05, interval - (time.monotonic() - last)))
    finally:
        job.watchers.remove(note)


async def follow(edge: Edge, ctx: Ctx, job: Job) -> None:
    """Wait for ``job`` with progress; cancelling the call cancels the job (and waits,
    briefly, for its turn to wind down, so the session is free for the next call)."""
    try:
        await progress(edge, ctx, job)
    except anyio.get_cancelled_exc_class():
        job.cancel()
        with anyio.move_on_after(WIND_DOWN_S, shield=True):
            await job.wait()
        raise
