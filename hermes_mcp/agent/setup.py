"""Building an agent from the loaded settings: what ``run`` and the edges call."""

from __future__ import annotations

from pathlib import Path

from hermes_mcp.agent.loop import Agent
from hermes_mcp.agent.model import ChatModel
from hermes_mcp.agent.store import SessionStore
from hermes_mcp.config import Settings
from hermes_mcp.errors import ConfigError
from hermes_mcp.state import Database
from tools import Approver, NonInteractiveApprover, ToolContext


def build_agent(
    settings: Settings,
    model: ChatModel,
    db: Database,
    *,
    cwd: Path,
    approver: Approver | None = None,
) -> Agent:
    """An agent over ``model`` (the router) working in ``cwd``, with ``[agent]``'s
    toolsets and budgets and ``[policy]``; ``approver`` answers what the policy asks
    (default: nobody can be asked, so the answer is no). ConfigError names the key."""
    file = str(settings.source) if settings.source else None
    context = ToolContext.from_config(
        settings.config,
        [cwd],
        file=file,
        db=db,
        state_dir=settings.home,
        approver=approver or NonInteractiveApprover(),
    )
    try:
        return Agent(model, SessionStore(db), context, config=settings.config)
    except ValueError as exc:
        raise ConfigError(str(exc), file=file, key="agent.toolsets") from None
