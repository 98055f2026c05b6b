"""Shared helpers for the agent tests: an agent wired to the fake provider through a real
router and a real SQLite store, and ways to run a turn and look at its events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from hermes_mcp.agent import Agent, Event, SessionStore, Turn, TurnEnd
from hermes_mcp.config import AgentSection, DelegationSection, PolicySection
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.router import Router
from hermes_mcp.state import Database, open_database
from hermes_mcp.testing import reply
from hermes_mcp.testing.fake_steps import Reply
from tests.routing import Home, Sleeps
from tests.tools_helpers import RecordingApprover
from tools import Approver, Policy, ToolContext, ToolRegistry


def new_home(tmp_path: Path) -> Home:
    """A ``$HERMES_MCP_HOME`` beside (not around) the workspace: the tools refuse to
    edit anything inside the state directory."""
    path = tmp_path / "home"
    path.mkdir()
    return Home(path)


def new_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.py").write_text('print("hello")\n')
    return ws


@dataclass
class Rig:
    agent: Agent
    router: Router
    store: SessionStore
    db: Database
    approver: Any


@asynccontextmanager
async def agent_rig(
    home: Home,
    workspace: Path,
    *,
    mode: str = "auto",
    approver: Approver | None = None,
    agent: dict[str, Any] | None = None,
    delegation: dict[str, Any] | None = None,
    toolsets: Iterable[str] | None = None,
    registry: ToolRegistry | None = None,
) -> AsyncIterator[Rig]:
    """An Agent over a real Router (config written by ``home``) and a real store."""
    settings = home.settings()
    config = settings.config.model_copy(
        update={
            "agent": AgentSection(**(agent or {})),
            "delegation": DelegationSection(**(delegation or {})),
            "policy": PolicySection(mode=mode),  # type: ignore[arg-type]
        }
    )
    db = open_database(settings.db_path)
    approver = approver if approver is not None else RecordingApprover()
    context = ToolContext(
        (workspace,),
        policy=Policy(mode),  # type: ignore[arg-type]
        approver=approver,
        db=db,
        state_dir=home.path,
    )
    store = SessionStore(db)
    try:
        async with Router(settings, CredentialStateStore(db), sleep=Sleeps()) as router:
            sets = None if toolsets is None else list(toolsets)
            yield Rig(
                Agent(router, store, context, config=config, toolsets=sets, registry=registry),
                router,
                store,
                db,
                approver,
            )
    finally:
        db.close()


async def run_turn(
    agent: Agent, prompt: str, *, session_id: str | None = None, limit_s: float = 30.0
) -> tuple[list[Event], TurnEnd]:
    """Run one turn to its end; every event, and the turn_end."""
    events: list[Event] = []
    with anyio.fail_after(limit_s):
        async with agent.turn(prompt, session_id=session_id) as turn:
            events = [event async for event in turn]
    assert turn.outcome is not None and events[-1] is turn.outcome
    return events, turn.outcome


async def wait_for(turn: Turn, predicate: Any, into: list[Event]) -> Event:
    """Read events (into ``into``) until one matches ``predicate``."""
    async for event in turn:
        into.append(event)
        if predicate(event):
            return event
    raise AssertionError(f"the turn ended without the awaited event: {types(into)}")


def types(events: Iterable[Event]) -> list[str]:
    return [event.type for event in events]


def squeeze(names: list[str]) -> list[str]:
    """Event types with runs of the same type collapsed (text deltas come in pieces)."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


def call(tool: str, call_id: str, /, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "name": tool, "arguments": arguments}


def calls(*tool_calls: dict[str, Any]) -> Reply:
    """A reply holding tool calls."""
    return reply(tool_calls=list(tool_calls))


def delegate(*tasks: dict[str, Any], call_id: str = "call_delegate") -> Reply:
    return calls(call("delegate_task", call_id, tasks=list(tasks)))


def first_user_message(body: dict[str, Any] | None) -> str:
    assert body is not None
    users = [m for m in body["messages"] if m["role"] == "user"]
    return str(users[0]["content"])


def as_json_lines(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Each event through to_json and back through the JSON text, as `run --json` prints."""
    return [json.loads(json.dumps(event.to_json())) for event in events]
