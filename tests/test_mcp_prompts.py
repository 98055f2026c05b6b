"""Skills as MCP prompts, in process with ``mcp.Client`` in both eras: the capability,
``prompts/list``, ``prompts/get`` with and without ``args``, an unknown prompt, and the
list-changed announcement when a skill appears on disk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import PromptsListChanged

from hermes_mcp.mcp_server.edge import Edge
from hermes_mcp.mcp_server.prompts import SkillPrompts
from hermes_mcp.mcp_server.server import build_server
from tests.routing import Home
from tests.skills_helpers import write_skill


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Home, Path]:
    home = Home(tmp_path / "home")
    home.path.mkdir()
    home.write({"scripted": {"url": "http://127.0.0.1:9", "keys": ["none"]}}, "scripted:model")
    monkeypatch.setenv("HERMES_MCP_HOME", str(home.path))
    monkeypatch.delenv("HERMES_MCP_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    ws = tmp_path / "ws"
    write_skill(home.path / "skills", "release", "Cut a release.", "1. Tag.\n2. Push.")
    (home.path / "skills" / "release" / "notes.md").write_text("notes\n")
    write_skill(
        ws / ".claude" / "skills",
        "review",
        front="name: review\ndescription: Review a change.\nargument-hint: PR number\n",
        body="Read the diff.",
    )
    write_skill(ws / ".agents" / "skills", "bad", front="name: other\ndescription: x\n")
    return home, ws


@asynccontextmanager
async def served(ws: Path) -> AsyncIterator[tuple[Any, SkillPrompts]]:
    edge = Edge([ws])
    prompts = SkillPrompts()
    server = build_server(edge, prompts)
    async with anyio.create_task_group() as tg:
        tg.start_soon(edge.run, anyio.Event())
        try:
            yield server, prompts
        finally:
            edge.stop()
            prompts.stop()


def text_of(message: types.PromptMessage) -> str:
    assert isinstance(message.content, types.TextContent)
    return message.content.text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_skills_are_prompts(setup: tuple[Home, Path], mode: str) -> None:
    _, ws = setup
    async with served(ws) as (server, _prompts), Client(server, mode=mode) as client:  # type: ignore[arg-type]
        assert client.server_capabilities.prompts is not None
        with anyio.fail_after(30):
            listed = await client.list_prompts()
        assert [p.name for p in listed.prompts] == ["release", "review"]
        release, review = listed.prompts
        assert release.description == "Cut a release."
        assert [(a.name, a.required) for a in release.arguments or []] == [("args", False)]
        assert "PR number" in ((review.arguments or [])[0].description or "")
        got = await client.get_prompt("release", {"args": "version 1.2"})
        assert [m.role for m in got.messages] == ["user", "user"]
        first = text_of(got.messages[0])
        assert first.startswith('Use the skill "release" (Cut a release.)\n\n1. Tag.\n2. Push.')
        assert "notes.md" in first
        assert text_of(got.messages[1]) == "version 1.2"
        bare = await client.get_prompt("review")
        assert len(bare.messages) == 1 and "Read the diff." in text_of(bare.messages[0])
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("bad")
        assert unknown.value.error.code == types.INVALID_PARAMS
        with pytest.raises(MCPError) as extra:
            await client.get_prompt("review", {"nope": "x"})
        assert "takes one argument" in extra.value.error.message


@pytest.mark.anyio
async def test_a_new_skill_is_announced_in_the_handshake_era(setup: tuple[Home, Path]) -> None:
    home, ws = setup
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.PromptListChangedNotification):
            changed.set()

    async with (
        served(ws) as (server, prompts),
        Client(server, mode="legacy", message_handler=on_message) as client,
    ):
        caps = client.server_capabilities
        assert caps.prompts is not None and caps.prompts.list_changed is True
        with anyio.fail_after(30):
            await client.list_prompts()
        assert await prompts.check() is False  # nothing changed yet
        write_skill(home.path / "skills", "deploy", "Deploy.")
        assert await prompts.check() is True
        with anyio.fail_after(10):
            await changed.wait()
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert names == ["deploy", "release", "review"]


@pytest.mark.anyio
async def test_a_removed_skill_is_announced_to_a_2026_listener(setup: tuple[Home, Path]) -> None:
    home, ws = setup
    async with served(ws) as (server, prompts), Client(server, mode="auto") as client:
        with anyio.fail_after(30):
            await client.list_prompts()
        async with client.listen(prompts_list_changed=True) as subscription:
            (home.path / "skills" / "release" / "SKILL.md").unlink()
            assert await prompts.check() is True
            with anyio.fail_after(10):
                event = await subscription.__anext__()
        assert isinstance(event, PromptsListChanged)
        assert [p.name for p in (await client.list_prompts()).prompts] == ["review"]


@pytest.mark.anyio
async def test_the_watch_announces_a_change_by_itself(setup: tuple[Home, Path]) -> None:
    """The loop ``run_mcp_stdio`` starts beside the server: it looks at the skills every
    ``[skills] watch_interval_s`` once the prompts were listed."""
    home, ws = setup
    config = home.path / "config.toml"
    config.write_text(config.read_text() + "[skills]\nwatch_interval_s = 0.05\n")
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.PromptListChangedNotification):
            changed.set()

    async with (
        served(ws) as (server, prompts),
        Client(server, mode="legacy", message_handler=on_message) as client,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(prompts.watch)
        with anyio.fail_after(30):
            await client.list_prompts()
        assert prompts.interval_s == 0.05
        (home.path / "skills" / "release" / "SKILL.md").write_text(
            "---\nname: release\ndescription: Cut a release, signed.\n---\n\nSign it.\n"
        )
        with anyio.fail_after(10):
            await changed.wait()
        prompts.stop()
