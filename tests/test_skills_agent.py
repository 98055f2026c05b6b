"""Skills in the agent: the system prompt names them (name and description, never the
body), and the learning nudge after many tool calls (cheap to decline, never stored)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.events import Event
from hermes_mcp.agent.prompts import skills_section
from hermes_mcp.config import Settings
from hermes_mcp.runtime import open_runtime
from hermes_mcp.testing.scripted import Call, Say, ScriptedModel
from tests.agent_helpers import new_home, new_workspace
from tests.routing import Home
from tests.skills_helpers import write_skill


def settings(home: Home, extra: str = "") -> Settings:
    home.write({"scripted": {"url": "http://127.0.0.1:9", "keys": ["none"]}}, "scripted:model")
    config = home.path / "config.toml"
    config.write_text(config.read_text() + extra)
    return home.settings()


async def ignore(event: Event) -> None:
    return None


@pytest.mark.anyio
async def test_the_system_prompt_names_skills_but_holds_no_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    write_skill(home.path / "skills", "release", "Cut a release.", "SECRET-STEP-ONE")
    write_skill(ws / ".agents" / "skills", "lint", "Lint\n  the project.", "SECRET-STEP-TWO")
    write_skill(ws / ".agents" / "skills", "broken", front="name: broken\n")
    model = ScriptedModel([Say("ok"), Say("ok")])
    async with open_runtime(settings(home), model=model) as rt:
        session = await rt.create_session(ws)
        with anyio.fail_after(10):
            await session.run("hello", ignore)
        await session.set_toolsets(["files"])
        with anyio.fail_after(10):
            await session.run("again", ignore)
        await session.close()
    system = model.requests[0].messages[0]
    assert system.role == "system"
    assert "- lint: Lint the project. (from this project)\n- release: Cut a release." in (
        system.content
    )
    assert "SECRET-STEP" not in system.content and "broken" not in system.content
    assert "Skills" not in model.requests[1].messages[0].content  # no skill_view: no list


def test_a_long_list_is_cut_and_says_how_many_more() -> None:
    many = [(f"s{i}", "d" * 500, "user") for i in range(60)]
    section = skills_section(many)
    assert section.count("\n- s") < 60 and section.endswith("more: call skills_list")


@pytest.mark.anyio
async def test_many_tool_calls_bring_the_learning_nudge_which_is_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    read = Call("read_file", {"path": "hello.py"})
    model = ScriptedModel(
        [
            Say("one", calls=(read,)),
            Say("two", calls=(Call("read_file", {"path": "hello.py"}),)),
            Say("it prints hello"),  # declining: just the answer
            Say("next turn"),
        ]
    )
    extra = "[skills]\nlearn_after_tool_calls = 2\n"
    async with open_runtime(settings(home, extra), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(10):
            end = await session.run("what does it print?", ignore)
            await session.run("thanks", ignore)
        await session.close()
    assert end.text == "it prints hello" and end.stop_reason == "end_turn"
    last = [r.messages[-1] for r in model.requests]
    assert [m.role for m in last] == ["user", "tool", "user", "user"]
    assert "this task has taken 2 tool calls" in last[2].content
    assert "skill_manage" in last[2].content
    assert last[3].content == "thanks"  # the nudge was not stored with the session
    assert not any("tool calls so far" in m.content for m in model.requests[3].messages)


@pytest.mark.anyio
async def test_no_nudge_when_the_turn_saved_a_skill_or_it_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    save = Call(
        "skill_manage",
        {"action": "create", "name": "greet", "description": "Say hi.", "body": "Say hi."},
    )
    model = ScriptedModel(
        [Say("a", calls=(save,)), Say("b", calls=(Call("read_file", {"path": "hello.py"}),))]
    )
    extra = "[skills]\nlearn_after_tool_calls = 1\n"
    async with open_runtime(settings(home, extra), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(10):
            await session.run("go", ignore)
        await session.close()
    assert (home.path / "skills" / "greet" / "SKILL.md").exists()
    assert not any("tool calls so far" in r.messages[-1].content for r in model.requests)
