"""Shared helpers for the agent tests: a session opened through the runtime (a real router
to the fake provider, a real SQLite store), and ways to run a turn and look at its events."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from hermes_mcp.agent import Event, SessionStore, Turn, TurnEnd
from hermes_mcp.agent.model import ChatModel
from hermes_mcp.agent.session import Session
from hermes_mcp.config import AgentSection, DelegationSection, PolicySection
from hermes_mcp.llm.router import Router
from hermes_mcp.runtime import Backends, Runtime, open_runtime
from hermes_mcp.state import Database
from hermes_mcp.testing import reply
from hermes_mcp.testing.fake_steps import Reply
from tests.routing import Home
from tests.tools_helpers import RecordingApprover
from tools import Approver, Tool


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
    """A runtime over the fake provider, and one session opened in it (as an edge does)."""

    runtime: Runtime
    session: Session
    approver: Any

    @property
    def router(self) -> Router:
        return self.runtime.router

    @property
    def store(self) -> SessionStore:
        return self.runtime.store

    @property
    def db(self) -> Database:
        return self.runtime.db

    async def load(self, session_id: str) -> Session:
        """Another stored session, opened with the rig's approver."""
        backends = Backends(approver=self.approver)
        return await self.runtime.load_session(session_id, backends=backends)


@asynccontextmanager
async def session_rig(
    home: Home,
    workspace: Path,
    *,
    mode: str = "auto",
    approver: Approver | None = None,
    agent: dict[str, Any] | None = None,
    delegation: dict[str, Any] | None = None,
    toolsets: Iterable[str] | None = None,
    tools: Iterable[Tool[Any]] = (),
    model: ChatModel | None = None,
) -> AsyncIterator[Rig]:
    """A runtime (``open_runtime``, as every edge opens it) over the config ``home``
    wrote, with ``[agent]``, ``[delegation]`` and ``[policy]`` replaced, and a new session
    in ``workspace`` whose risky actions go to ``approver``; ``tools`` are added to it."""
    settings = home.settings()
    config = settings.config.model_copy(
        update={
            "agent": AgentSection(**(agent or {})),
            "delegation": DelegationSection(**(delegation or {})),
            "policy": PolicySection(mode=mode),
        }
    )
    approver = approver if approver is not None else RecordingApprover()
    async with open_runtime(dataclasses.replace(settings, config=config), model=model) as rt:
        session = await rt.create_session(
            workspace, backends=Backends(approver=approver), toolsets=toolsets
        )
        session.add_tools(tools)
        yield Rig(rt, session, approver)


async def run_turn(
    session: Session, prompt: str, *, limit_s: float = 10.0
) -> tuple[list[Event], TurnEnd]:
    """Run one turn to its end; every event, and the turn_end."""
    events: list[Event] = []
    with anyio.fail_after(limit_s):
        async with session.turn(prompt) as turn:
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
