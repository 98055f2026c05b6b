"""`run` in `ask` mode: on a terminal the person is asked (y / n / always); without one
every edit and command is refused and the run ends with a one-line summary naming the
exact allow rule for each (and those rules do let the same actions through)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A, seen
from tests.routing import HERMES, Home


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider, allow: list[str] | None = None) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    if allow is not None:
        path = home.path / "config.toml"
        path.write_text(path.read_text() + f"\n[policy]\nallow = {json.dumps(allow)}\n")


def script(fake: FakeProvider) -> None:
    fake.script(
        KEY_A,
        calls(
            call("write_file", "w1", path="hello.py", content='print("hi")\n'),
            call("terminal", "t1", command="python3 hello.py"),
        ),
        reply("done"),
    )


async def run(
    home: Home, ws: Path, stdin: int | None = None
) -> tuple[int, list[dict[str, object]], str]:
    with anyio.fail_after(60):
        proc = await anyio.run_process(
            [HERMES, "run", "--json", "write and run hello.py"],
            env=home.process_env,
            cwd=ws,
            check=False,
            stdin=stdin if stdin is not None else -3,  # -3: subprocess.DEVNULL
        )
    events = [json.loads(x) for x in seen(proc.stdout.decode()).splitlines()]
    return proc.returncode, events, seen(proc.stderr.decode())


def statuses(events: list[dict[str, object]]) -> dict[str, object]:
    return {str(e["name"]): e["status"] for e in events if e.get("type") == "tool_call_end"}


@pytest.mark.anyio
async def test_without_a_terminal_the_refusals_are_summed_up_with_exact_rules(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    script(fake)
    _code, events, err = await run(home, ws)
    assert statuses(events) == {"write_file": "denied", "terminal": "denied"}
    summary = [line for line in err.splitlines() if line.startswith("hermes-mcp: refused")]
    assert len(summary) == 1
    assert "refused 2 action(s)" in summary[0]
    assert "'write:hello.py'" in summary[0]
    assert "'terminal:python3 hello.py'" in summary[0]
    # The rules it names do allow exactly those actions.
    configure(home, fake, ["write:hello.py", "terminal:python3 hello.py"])
    script(fake)
    _code, events, err = await run(home, ws)
    assert statuses(events) == {"write_file": "completed", "terminal": "completed"}
    assert "hermes-mcp: refused" not in err


@pytest.mark.anyio
async def test_on_a_terminal_the_person_is_asked(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    script(fake)
    leader, follower = os.openpty()
    try:
        os.write(leader, b"y\nn\n")  # allow the write, refuse the command
        _code, events, err = await run(home, ws, stdin=follower)
    finally:
        os.close(leader)
        os.close(follower)
    assert statuses(events) == {"write_file": "completed", "terminal": "denied"}
    assert err.count("allow? [y]es / [n]o / [a]lways") == 2
    assert "hermes-mcp: refused" not in err
    assert (ws / "hello.py").read_text() == 'print("hi")\n'
