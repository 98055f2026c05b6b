"""Skills as ACP commands, in process on the edge's ``Live`` over a runtime with the
scripted model: the commands announced at session/new, ``/name args`` running a turn
with the skill's instructions and the args, a built-in name kept, and a new skill on
disk announced again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from acp.schema import AvailableCommandsUpdate, ClientCapabilities, TextContentBlock

from acp_adapter.edge import EdgeSession
from acp_adapter.live import Live
from hermes_mcp.runtime import open_runtime
from hermes_mcp.testing import FakeProvider, reply
from hermes_mcp.testing.scripted import Say, ScriptedModel
from tests.acp_client import Editor, connect, text
from tests.agent_helpers import new_home, new_workspace
from tests.keys import KEY_A
from tests.routing import Home
from tests.skills_helpers import write_skill


class Conn:
    """The editor's side of the connection: records every session update."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, Any]] = []
        self.changed = anyio.Event()

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append((session_id, update))
        self.changed.set()
        self.changed = anyio.Event()

    def commands(self) -> list[list[str]]:
        return [
            [c.name for c in u.available_commands]
            for _, u in self.updates
            if isinstance(u, AvailableCommandsUpdate)
        ]


@asynccontextmanager
async def live_for(home: Home, model: ScriptedModel, conn: Conn) -> AsyncIterator[Live]:
    home.write({"scripted": {"url": "http://127.0.0.1:9", "keys": ["none"]}}, "scripted:model")
    config = home.path / "config.toml"
    config.write_text(config.read_text() + "[skills]\nwatch_interval_s = 0.05\n")
    async with open_runtime(home.settings(), model=model) as rt:
        yield Live(rt, conn, ClientCapabilities())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_skills_are_commands_and_a_slash_command_runs_a_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    write_skill(home.path / "skills", "release", "Cut a release.", "1. Tag.\n2. Push.")
    write_skill(ws / ".agents" / "skills", "reset", "A project skill named like /reset.")
    model = ScriptedModel([Say("released")])
    conn = Conn()
    async with live_for(home, model, conn) as live:
        edge = EdgeSession("s1", ws)
        with anyio.fail_after(10):
            await live.create(edge, [], [])
        (first,) = conn.commands()
        assert first[:6] == ["model", "fallback", "cost", "providers", "reset", "compact"]
        assert first[6:] == ["release"]  # the project's "reset" is not offered
        update = next(u for _, u in conn.updates if isinstance(u, AvailableCommandsUpdate))
        release = update.available_commands[-1]
        assert release.description == "Skill: Cut a release."
        assert release.input is not None

        block = TextContentBlock(type="text", text="/release version 1.2")
        with anyio.fail_after(10):
            answer = await live.prompt(edge, [block])
        assert answer.stop_reason == "end_turn"
        user = model.requests[0].messages[-1]
        assert user.role == "user"
        assert 'Use the skill "release" (Cut a release.)\n\n1. Tag.\n2. Push.' in user.content
        assert user.content.rstrip().endswith("version 1.2")

        write_skill(ws / ".agents" / "skills", "lint", "Lint it.")
        with anyio.fail_after(10):
            while len(conn.commands()) < 2:
                await conn.changed.wait()
        assert conn.commands()[-1][6:] == ["lint", "release"]
        await edge.close()


@pytest.mark.anyio
async def test_an_unknown_slash_command_is_an_ordinary_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    model = ScriptedModel([Say("no such command, but here is an answer")])
    conn = Conn()
    async with live_for(home, model, conn) as live:
        edge = EdgeSession("s2", ws)
        with anyio.fail_after(10):
            await live.create(edge, [], [])
            await live.prompt(edge, [TextContentBlock(type="text", text="/nothing here")])
        assert model.requests[0].messages[-1].content == "/nothing here"
        await edge.close()


@pytest.mark.anyio
async def test_the_editor_sees_skill_commands_and_runs_one_over_acp(tmp_path: Path) -> None:
    """End to end through the ACP SDK's client and a real ``hermes-acp``: the session's
    commands hold the skill, and ``/release v2`` reaches the model with its instructions."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    write_skill(ws / ".agents" / "skills", "release", "Cut a release.", "1. Tag.\n2. Push.")
    with FakeProvider() as fake:
        home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
        fake.script(KEY_A, reply("Released v2."))
        editor = Editor()
        env = {**home.process_env, "HOME": str(tmp_path / "user")}
        async with connect(editor, env, ws) as conn:
            sid = (await conn.new_session(cwd=str(ws), mcp_servers=[])).session_id
            with anyio.fail_after(30):
                done = await conn.prompt(session_id=sid, prompt=text("/release v2"))
            assert done.stop_reason == "end_turn" and editor.text(sid) == "Released v2."
            (update, *_) = editor.of("available_commands_update", sid)
            assert "release" in [c.name for c in update.available_commands]
        sent = str(fake.requests[-1].body)
        assert 'Use the skill \\"release\\"' in sent or 'Use the skill "release"' in sent
        assert "1. Tag." in sent and "v2" in sent
