"""``execute_code`` as users meet it: ``hermes-mcp run`` and an editor over ACP, real
processes against the loopback fake provider (issue 27)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.testing import FakeProvider, reply
from tests.acp_client import Editor, connect, text
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A, leaked, seen
from tests.routing import HERMES, Home

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider, mode: str) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    config = home.path / "config.toml"
    config.write_text(config.read_text() + f'[policy]\nmode = "{mode}"\n')


SCRIPT = """
sizes = {}
for name in ["a.txt", "b.txt", "c.txt"]:
    sizes[name] = len(read_file(path=name).splitlines())
try:
    import os
    print(os.environ)
except Exception as exc:
    print("no env:", type(exc).__name__)
try:
    write_file(path="summary.txt", content=str(sizes))
    print("written")
except PermissionError:
    print("write refused")
print("summary:", sizes)
"""


def workspace(tmp_path: Path) -> Path:
    ws = new_workspace(tmp_path)
    for name, lines in (("a.txt", 1), ("b.txt", 2), ("c.txt", 3)):
        (ws / name).write_text("line\n" * lines)
    return ws


async def test_run_json_shows_a_script_and_its_calls(tmp_path: Path, fake: FakeProvider) -> None:
    """In ``ask`` mode with nobody to ask (``auto``: tests/test_code_mode.py)."""
    mode = "ask"
    home, ws = new_home(tmp_path), workspace(tmp_path)
    configure(home, fake, mode)
    fake.script(KEY_A, calls(call("execute_code", "x1", code=SCRIPT)), reply("Summarised."))
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES, "run", "--json", "summarise"], env=home.process_env, cwd=ws, check=False
        )
    stdout, stderr = seen(proc.stdout.decode()), seen(proc.stderr.decode())
    assert proc.returncode == 0, stderr
    assert leaked(stdout + stderr) == []
    events = [json.loads(line) for line in stdout.splitlines()]
    inner = [e for e in events if e["type"] == "tool_call_end" and e["parent_call_id"] == "x1"]
    assert [(e["name"], e["status"]) for e in inner] == [
        ("read_file", "completed"),
        ("read_file", "completed"),
        ("read_file", "completed"),
        ("write_file", "denied"),
    ]
    (outer,) = [e for e in events if e["type"] == "tool_call_end" and e["call_id"] == "x1"]
    sizes = "{'a.txt': 1, 'b.txt': 2, 'c.txt': 3}"
    assert outer["output"] == f"no env: RuntimeError\nwrite refused\nsummary: {sizes}\n"
    assert not (ws / "summary.txt").exists()
    assert events[-1]["stop_reason"] == "end_turn"
    body = fake.requests[1].body
    assert body is not None and body["messages"][-1]["content"] == outer["output"]


def tool_updates(editor: Editor, call_id: str) -> list[Any]:
    return [
        u
        for _, u in editor.updates
        if u.session_update in ("tool_call", "tool_call_update") and u.tool_call_id == call_id
    ]


async def test_an_editor_sees_a_scripts_calls_as_child_tool_calls_and_is_asked(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), workspace(tmp_path)
    configure(home, fake, "ask")
    script = "n = read_file(path='a.txt')\nwrite_file(path='out.txt', content='x')\nprint('ok')"
    fake.script(
        KEY_A,
        calls(call("execute_code", "x1", code=script)),
        reply("Done."),
        calls(call("execute_code", "x2", code="read_file(path='b.txt')\nwhile True:\n    pass")),
        reply("never"),
    )
    editor = Editor()
    async with connect(editor, home.process_env, ws) as conn:
        sid = (await conn.new_session(cwd=str(ws))).session_id
        with anyio.fail_after(30):
            done = await conn.prompt(session_id=sid, prompt=text("script it"))
        assert done.stop_reason == "end_turn"
        parent = {"hermes": {"parentToolCallId": "x1"}}
        for child, title in (("x1.1", "read_file: a.txt"), ("x1.2", "write_file: out.txt")):
            first, *_, last = tool_updates(editor, child)
            assert (first.session_update, first.title, first.field_meta) == (
                "tool_call",
                title,
                parent,
            )
            assert (last.status, last.field_meta) == ("completed", parent)
        (asked,) = editor.asked  # the write, asked on its own call
        assert asked.tool_call.tool_call_id == "x1.2"
        assert (ws / "out.txt").read_text() == "x"
        assert tool_updates(editor, "x1")[-1].status == "completed"
        order = [u.tool_call_id for _, u in editor.updates if u.session_update == "tool_call"]
        assert order == ["x1", "x1.1", "x1.2"]

        # cancel reaches a script in its loop at once
        async def cancel_when_the_read_ends() -> None:
            await editor.wait_for(
                lambda: any(u.status == "completed" for u in tool_updates(editor, "x2.1"))
            )
            await conn.cancel(session_id=sid)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_when_the_read_ends)
                cancelled = await conn.prompt(session_id=sid, prompt=text("loop"))
        assert cancelled.stop_reason == "cancelled"
        assert tool_updates(editor, "x2")[-1].status == "failed"

        # session/load replays the children with their parent
        loaded = Editor()
        async with connect(loaded, home.process_env, ws) as again:
            with anyio.fail_after(30):
                await again.load_session(session_id=sid, cwd=str(ws), mcp_servers=[])
            replayed = [
                (u.tool_call_id, u.field_meta)
                for _, u in loaded.updates
                if u.session_update == "tool_call"
            ]
            assert replayed[:3] == [("x1", None), ("x1.1", parent), ("x1.2", parent)]
            assert ("x2.1", {"hermes": {"parentToolCallId": "x2"}}) in replayed
