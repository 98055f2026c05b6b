"""``execute_code`` through the runtime with a scripted model: a script calls the
session's tools as functions, each call goes through the registry (policy, approvals,
redaction) as a child of the ``execute_code`` call, and the script itself can touch
nothing (issue 27)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.agent.events import Event, PlanUpdate, ToolCallEnd, ToolCallStart, TurnEnd
from hermes_mcp.config import Settings
from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.runtime import Backends, open_runtime
from hermes_mcp.testing.scripted import Call, Say, ScriptedModel
from tests.agent_helpers import new_home, new_workspace
from tests.routing import Home
from tools import ApprovalRequest, Decision, Tool, ToolAnnotations, ToolResult, sandbox
from tools.registry import RawArguments

SECRET = "sk-ant-api03-" + "Q" * 40  # key-shaped: redacted wherever it goes


def settings(home: Home, extra: str = "") -> Settings:
    home.write({"scripted": {"url": "http://127.0.0.1:9", "keys": ["none"]}}, "scripted:model")
    if extra:
        path = home.path / "config.toml"
        path.write_text(path.read_text() + "\n" + extra)
    return home.settings()


@pytest.fixture
def secret_env() -> Iterator[str]:
    os.environ["HERMES_TEST_CODE_KEY"] = SECRET
    try:
        yield SECRET
    finally:
        del os.environ["HERMES_TEST_CODE_KEY"]


def code(script: str, call_id: str = "c1") -> Say:
    return Say("", calls=(Call("execute_code", {"code": script}, call_id),))


async def run(
    tmp_path: Path,
    steps: list[Say],
    *,
    mode: str = "auto",
    extra: str = "",
    files: dict[str, str] | None = None,
) -> tuple[TurnEnd, list[Event], ScriptedModel]:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    for name, text in (files or {}).items():
        (ws / name).write_text(text)
    model = ScriptedModel(steps)
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    async with open_runtime(settings(home, extra), model=model) as rt:
        session = await rt.create_session(ws, mode=mode)
        with anyio.fail_after(30):
            end = await session.run("go", keep)
        replayed = [e async for e in session.replay()]
        await session.close()
    assert [e.to_json() for e in replayed if isinstance(e, ToolCallStart | ToolCallEnd)] == [
        e.to_json() for e in events if isinstance(e, ToolCallStart | ToolCallEnd)
    ]  # replay keeps the child calls, parents included
    return end, events, model


def result_of(events: list[Event], call_id: str = "c1") -> ToolCallEnd:
    return next(e for e in events if isinstance(e, ToolCallEnd) and e.call_id == call_id)


def tool_messages(request: ChatRequest) -> list[str]:
    return [m.content for m in request.messages if m.role == "tool"]


READ_THREE = """
summary = []
for name in ["a.txt", "b.txt", "c.txt"]:
    text = read_file(path=name)
    summary.append(f"{name}: {len(text.splitlines())} lines")
print("; ".join(summary))
"""


@pytest.mark.anyio
async def test_a_script_reads_three_files_and_only_its_output_reaches_the_model(
    tmp_path: Path,
) -> None:
    files = {"a.txt": "one\n", "b.txt": "one\ntwo\n", "c.txt": "one\ntwo\nthree\n"}
    end, events, model = await run(tmp_path, [code(READ_THREE), Say("done")], files=files)
    assert end.stop_reason == "end_turn"
    result = result_of(events)
    assert result.status == "completed"
    assert result.output == "a.txt: 1 lines; b.txt: 2 lines; c.txt: 3 lines\n"
    assert result.structured == {"calls": 3, "error": None}
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert (starts[0].call_id, starts[0].title) == ("c1", "execute_code: summary = []")
    children = [e for e in starts if e.parent_call_id == "c1"]
    assert [(c.name, c.arguments, c.call_id) for c in children] == [
        ("read_file", {"path": "a.txt"}, "c1.1"),
        ("read_file", {"path": "b.txt"}, "c1.2"),
        ("read_file", {"path": "c.txt"}, "c1.3"),
    ]
    ends = [e for e in events if isinstance(e, ToolCallEnd) and e.parent_call_id == "c1"]
    assert [e.status for e in ends] == ["completed"] * 3
    # the model's next request holds the script's output, not each file
    assert tool_messages(model.requests[1]) == [result.output]
    assert "write one execute_code script" in model.requests[0].messages[0].content


@pytest.mark.anyio
@pytest.mark.parametrize(
    "script",
    [
        'print(open("/etc/passwd").read())',
        'import os\nprint(os.environ["HERMES_TEST_CODE_KEY"])',
        'import os\nprint(os.getenv("HERMES_TEST_CODE_KEY"))',
        "import socket\nprint(socket.gethostname())",
        '__import__("subprocess").run(["env"])',
        'from pathlib import Path\nprint(Path("/proc/self/environ").read_text())',
    ],
)
async def test_the_script_itself_touches_nothing(
    tmp_path: Path, secret_env: str, script: str
) -> None:
    end, events, _ = await run(tmp_path, [code(script), Say("done")])
    assert end.stop_reason == "end_turn"  # the turn goes on
    result = result_of(events)
    assert result.status == "failed" and "the script failed" in result.output
    assert any(
        word in result.output
        for word in ("PermissionError", "not supported", "ModuleNotFoundError", "NameError")
    )
    text = "\n".join(str(e.to_json()) for e in events)
    assert secret_env not in text and "root:" not in text
    assert not [e for e in events if isinstance(e, ToolCallStart) and e.parent_call_id]


WRITE_AND_RUN = """
for name, call in [
    ("write", lambda: write_file(path="out.txt", content="hi")),
    ("terminal", lambda: terminal(command="echo ran > ran.txt")),
]:
    try:
        call()
        print(name, "ok")
    except PermissionError as exc:
        print(name, "refused:", str(exc)[:60])
"""


@pytest.mark.anyio
async def test_inner_writes_and_commands_are_refused_in_ask_mode_with_nobody_to_ask(
    tmp_path: Path,
) -> None:
    _end, events, _ = await run(tmp_path, [code(WRITE_AND_RUN), Say("done")], mode="ask")
    result = result_of(events)
    assert result.status == "completed"
    assert "write refused" in result.output and "terminal refused" in result.output
    ends = [e for e in events if isinstance(e, ToolCallEnd) and e.parent_call_id == "c1"]
    assert [(e.name, e.status) for e in ends] == [("write_file", "denied"), ("terminal", "denied")]
    ws = tmp_path / "ws"
    assert not (ws / "out.txt").exists() and not (ws / "ran.txt").exists()


@pytest.mark.anyio
async def test_inner_writes_and_commands_run_in_auto_mode(tmp_path: Path) -> None:
    _end, events, _ = await run(tmp_path, [code(WRITE_AND_RUN), Say("done")], mode="auto")
    result = result_of(events)
    assert result.output == "write ok\nterminal ok\n"
    ws = tmp_path / "ws"
    assert (ws / "out.txt").read_text() == "hi" and (ws / "ran.txt").read_text() == "ran\n"


@pytest.mark.anyio
async def test_a_failing_tool_raises_in_the_script_and_positional_arguments_are_refused(
    tmp_path: Path,
) -> None:
    script = """
try:
    read_file(path="missing.txt")
except RuntimeError as exc:
    print("caught:", "missing.txt" in str(exc))
try:
    read_file("a.txt")
except TypeError as exc:
    print("type:", exc)
read_file(path="missing.txt")
"""
    _end, events, _ = await run(tmp_path, [code(script), Say("done")])
    result = result_of(events)
    assert result.status == "failed"
    assert result.output.startswith("caught: True\ntype: read_file() takes keyword arguments only")
    assert "RuntimeError" in result.output and "line 10" in result.output  # the traceback
    assert result.structured == {"calls": 2, "error": result.structured["error"]}


@pytest.mark.anyio
async def test_an_infinite_loop_ends_by_the_timeout_and_the_turn_goes_on(tmp_path: Path) -> None:
    steps = [code("while True:\n    pass"), Say("done")]
    end, events, _ = await run(tmp_path, steps, extra="[agent]\ncode_timeout_s = 0.5\n")
    assert end.stop_reason == "end_turn" and end.text == "done"
    result = result_of(events)
    assert result.status == "failed" and "agent.code_timeout_s (0.5 s)" in result.output
    assert result.output.startswith("the script failed")


@pytest.mark.anyio
async def test_a_memory_bomb_ends_with_an_error(tmp_path: Path) -> None:
    script = "x = []\nwhile True:\n    x.append('a' * 10_000_000)"
    end, events, _ = await run(tmp_path, [code(script), Say("done")])
    assert end.stop_reason == "end_turn"
    assert "MemoryError" in result_of(events).output


@pytest.mark.anyio
async def test_a_script_stops_at_code_max_calls(tmp_path: Path) -> None:
    script = "for i in range(10):\n    read_file(path='hello.py')\n    print(i)"
    steps = [code(script), Say("done")]
    _end, events, _ = await run(tmp_path, steps, extra="[agent]\ncode_max_calls = 3\n")
    result = result_of(events)
    assert result.status == "failed" and "more than 3 calls (agent.code_max_calls)" in result.output
    assert result.output.startswith("0\n1\n2\n")
    assert len([e for e in events if isinstance(e, ToolCallEnd) and e.parent_call_id]) == 3


@pytest.mark.anyio
async def test_cancel_reaches_a_running_script_at_once(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    script = "read_file(path='hello.py')\nwhile True:\n    pass"
    model = ScriptedModel([code(script), Say("never")])
    events: list[Event] = []
    async with open_runtime(settings(home), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(20):
            async with session.turn("go") as turn:
                async for event in turn:
                    events.append(event)
                    if isinstance(event, ToolCallEnd) and event.parent_call_id == "c1":
                        turn.cancel()  # the script is in its loop, or about to be
        await session.close()
    assert turn.outcome is not None and turn.outcome.stop_reason == "cancelled"
    assert result_of(events).status == "cancelled"
    assert len(model.requests) == 1
    assert workers() == []  # the script's worker was killed, not left spinning


def mounted_tool(name: str, description: str) -> Tool[RawArguments]:
    async def echo(args: RawArguments, ctx: Any) -> ToolResult:
        return ToolResult(text=f"{name}: {args.values()}")

    return Tool(
        name=name,
        description=description,
        args=RawArguments,
        fn=echo,
        toolset="mcp",
        annotations=ToolAnnotations(read_only=True, kind="read"),
        input_schema={
            "type": "object",
            "properties": {"q": {"type": "string"}, "limit": {"type": "integer", "default": 5}},
            "required": ["q"],
        },
    )


@pytest.mark.anyio
async def test_the_description_lists_every_function_stably_mounted_tools_too(
    tmp_path: Path,
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    script = 'print(zeta__find(q="x"))\nprint(_9s__x(q="y"))'
    model = ScriptedModel([code(script), Say("done"), Say("again")])
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    async with open_runtime(settings(home), model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        session.add_tools([mounted_tool("zeta__find", "Find things. More text.")])
        session.add_tools([mounted_tool("alpha__look", "Look.")])
        session.add_tools([mounted_tool("my-server__get", "Get.")])
        session.add_tools([mounted_tool("my_server__get", "Get too.")])  # same function name
        session.add_tools([mounted_tool("9s__x", "Digits.")])
        await session.run("go", keep)
        await session.run("again", keep)
        await session.close()
    first, _, third = (
        next(t.description for t in r.tools if t.name == "execute_code") for r in model.requests
    )
    assert first == third  # byte-stable across turns
    functions = first.split("Functions:\n", 1)[1].splitlines()
    names = [line.split("(", 1)[0].removeprefix("- ") for line in functions]
    # mounted, by name, after built-ins; a name two tools would share goes to neither
    assert names[-3:] == ["_9s__x", "alpha__look", "zeta__find"]
    assert names[0] == "read_file" and "execute_code" not in names
    assert "delegate_task" not in names
    assert "- zeta__find(*, q: str, limit: int = 5) -> str: Find things." in functions
    assert any(line.startswith("- read_file(*, path: str,") for line in functions)
    assert result_of(events).output == "zeta__find: {'q': 'x'}\n9s__x: {'q': 'y'}\n"


@pytest.mark.anyio
async def test_a_secret_in_a_file_never_reaches_the_script_or_its_output(tmp_path: Path) -> None:
    script = "text = read_file(path='config.txt')\nprint(text)\nprint('sk-ant' in text)"
    files = {"config.txt": f"api_key = {SECRET}\n"}
    _, events, model = await run(tmp_path, [code(script), Say("done")], files=files)
    result = result_of(events)
    assert result.status == "completed" and result.output.endswith("False\n")
    assert SECRET not in "\n".join(str(e.to_json()) for e in events)
    assert SECRET not in str(model.requests[1].messages)


@pytest.mark.anyio
async def test_the_clock_stops_while_a_person_is_asked() -> None:
    times = iter([5.0, 12.0])
    scope = anyio.CancelScope(deadline=100.0)
    clock = sandbox.Clock(scope, now=lambda: next(times))

    async def person() -> str:
        assert scope.deadline == math.inf  # no deadline while a person is asked
        return "yes"

    assert await clock.paused(person()) == "yes"
    assert (scope.deadline, clock.waited) == (107.0, 7.0)


def workers() -> list[int]:
    """This process's Monty workers still running (zombies are already dead)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"monty" in cmdline and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.anyio
async def test_no_worker_outlives_its_script(tmp_path: Path) -> None:
    steps = [code("while True:\n    pass"), Say("done")]
    await run(tmp_path, steps, extra="[agent]\ncode_timeout_s = 0.3\n")
    assert workers() == []


@pytest.mark.anyio
async def test_arguments_must_be_json_data_and_tuples_become_lists(tmp_path: Path) -> None:
    script = """
try:
    read_file(path={1, 2})
except TypeError as exc:
    print("refused:", exc)
todo(todos=({"content": "from a tuple"},))
print("planned")
"""
    _, events, _ = await run(tmp_path, [code(script), Say("done")])
    result = result_of(events)
    assert result.output.startswith("refused: argument path is not JSON data")
    assert result.output.endswith("planned\n") and result.structured == {"calls": 1, "error": None}
    (plan,) = [e for e in events if isinstance(e, PlanUpdate)]  # a script's todo plans too
    assert plan.entries[0]["content"] == "from a tuple"


@pytest.mark.anyio
async def test_a_syntax_error_is_named_and_a_deny_rule_refuses_the_tool(tmp_path: Path) -> None:
    _, events, _ = await run(tmp_path, [code("for x in\n    print(x)"), Say("done")])
    broken = result_of(events)
    assert broken.status == "failed" and "SyntaxError" in broken.output
    assert "line 1" in broken.output

    deny = '[policy]\ndeny = ["tool:execute_code"]\n'
    (tmp_path / "deny").mkdir()
    _, events, _ = await run(tmp_path / "deny", [code("print(1)"), Say("done")], extra=deny)
    refused = result_of(events)
    assert refused.status == "denied" and "deny rule 'tool:execute_code'" in refused.output


@dataclass
class PatientPerson:
    """Says yes; notes how long it could have taken without the script being stopped."""

    room: list[float] = field(default_factory=list)

    async def approve(self, request: ApprovalRequest) -> Decision:
        self.room.append(anyio.current_effective_deadline() - anyio.current_time())
        return Decision.allow()


@pytest.mark.anyio
async def test_a_person_may_take_longer_than_the_script_may(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    person = PatientPerson()
    model = ScriptedModel([code("write_file(path='w.txt', content='x')\nprint('ok')"), Say("d")])
    settings_ = settings(home, "[agent]\ncode_timeout_s = 5\n")
    async with open_runtime(settings_, model=model) as rt:
        session = await rt.create_session(ws, mode="ask", backends=Backends(approver=person))
        with anyio.fail_after(30):
            await session.run("go")
        await session.close()
    (room,) = person.room
    assert room > 20  # the test's own 30 s bounds the wait, not the script's 5 s
    assert (ws / "w.txt").read_text() == "x"
