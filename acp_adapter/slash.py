"""Slash commands, answered by the edge without a model call.

``/model`` (show the model and its fallbacks, or switch: ``/model provider:model``),
``/fallback`` (the chain, each route's credentials with cooldowns and recovery times),
``/cost`` (the session's tokens and cost), ``/providers`` (every credential),
``/reset`` (a fresh context: the model forgets the conversation so far; the transcript
the editor shows, and ``session/load``, keep it). Their
answer is one agent message; they are not part of the conversation the model sees.
The handler (``live.py``) passes what a command changes beyond the session: how to
switch the model and tell the editor (``switch_model``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hermes_mcp.errors import HermesError
from hermes_mcp.llm.status import format_report

if TYPE_CHECKING:
    from hermes_mcp.agent.session import Session
    from hermes_mcp.runtime import Runtime

SwitchModel = Callable[[str], Awaitable[None]]

NAMES = ("model", "fallback", "cost", "providers", "reset")


def split(command: str) -> tuple[str, str]:
    name, _, rest = command[1:].partition(" ")
    return name.strip(), rest.strip()


def known(command: str) -> bool:
    return split(command)[0] in NAMES


async def run(rt: Runtime, session: Session, command: str, *, switch_model: SwitchModel) -> str:
    name, arg = split(command)
    try:
        if name == "model":
            return await _model(rt, session, arg, switch_model)
        if name == "fallback":
            return _fallback(rt, session)
        if name == "cost":
            return await _cost(rt, session)
        if name == "reset":
            await session.reset_context()
            return "Started a fresh context: the model no longer sees this session's earlier turns."
        return "```\n" + format_report(rt.router.status()["credentials"]) + "\n```"
    except HermesError as exc:
        return f"/{name}: {exc}"


def _chain(rt: Runtime, session: Session) -> list[str]:
    return [str(ref) for ref in rt.router.chain(session.model)]


async def _model(rt: Runtime, session: Session, arg: str, switch_model: SwitchModel) -> str:
    if arg:
        await switch_model(arg)
    chain = _chain(rt, session)
    whose = "this session's choice" if session.model else "the default"
    lines = [f"Model: {chain[0]} ({whose})"]
    lines += [f"Fallback {i}: {ref}" for i, ref in enumerate(chain[1:], 1)]
    return "\n".join(lines)


def _fallback(rt: Runtime, session: Session) -> str:
    status = rt.router.status()
    skips = {skip["route"]: skip for skip in status["skips"]}
    lines = []
    for i, ref in enumerate(_chain(rt, session)):
        provider = ref.partition(":")[0]
        role = "primary" if i == 0 else f"fallback {i}"
        skip = skips.get(ref)
        now = ""
        if skip is not None:
            until = f" until {skip['until']}" if skip.get("until") else ""
            now = f": skipped now ({skip['reason']}{until})"
        lines.append(f"{i + 1}. {ref} ({role}){now}")
        for row in status["credentials"]:
            if row["provider"] != provider:
                continue
            state = row.get("state") or "available"
            until = row.get("cooldown_until")
            extra = f", recovers at {until}" if until else ""
            last = f", last failure {row['last_class']}" if row.get("last_class") else ""
            lines.append(f"   - {row['label']} [{row['credential']}]: {state}{extra}{last}")
    return "\n".join(lines) or "no model is configured"


async def _cost(rt: Runtime, session: Session) -> str:
    info = await rt.store.get(session.id)
    if info is None:
        return "no usage recorded yet"
    cost = "unknown (no priced call)" if info.cost_usd is None else f"${info.cost_usd:.4f}"
    return (
        f"Session {session.id}: {info.input_tokens:,} input tokens, "
        f"{info.output_tokens:,} output tokens, cost {cost}, {info.turn_count} turn(s)"
    )
