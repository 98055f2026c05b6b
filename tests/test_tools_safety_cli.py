"""Issue 13, driven as the attacks were: a scripted model chooses every tool argument and
``hermes-mcp run`` carries them out in a real workspace with a real config.

Cases: 1 (``#`` inside a word past an allow rule), 3 (``.git/config`` edited into code
execution), 7 (keys in the command environment, in any encoding), 11 (the config file
edited by the model), 13 (terminal control sequences printed raw), 6 (every hang ends;
Ctrl-C exits 130)."""

from __future__ import annotations

import base64
import json
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A, seen
from tests.routing import HERMES, Home, Ran

UNCONFIGURED_KEY = "sk-proj-unconfiguredZZ0123456789abcdefXY"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider, policy: str) -> Path:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    config = home.path / "config.toml"
    config.write_text(config.read_text() + "[policy]\n" + policy + "\n")
    return config


async def run(
    home: Home, cwd: Path, *args: str, env: dict[str, str] | None = None, limit: float = 30
) -> Ran:
    with anyio.fail_after(limit):
        proc = await anyio.run_process(
            [HERMES, "run", *args], env={**home.process_env, **(env or {})}, cwd=cwd, check=False
        )
    return Ran(proc.returncode, seen(proc.stdout.decode()), seen(proc.stderr.decode()))


def tool_ends(ran: Ran) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    return [e for e in events if e["type"] == "tool_call_end"]


def git(ws: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=ws, check=True, capture_output=True)


@pytest.mark.anyio
async def test_a_hash_inside_a_word_does_not_hide_commands_from_an_allow_rule(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Case 1: ``git status a#; id; echo x > pwned.txt`` with ``terminal:git status*``."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, 'mode = "ask"\nallow = ["terminal:git status*"]')
    git(ws, "init", "-q")
    attack = "git status a#; id; echo x > pwned.txt"
    fake.script(
        KEY_A,
        calls(call("terminal", "t1", command=attack), call("terminal", "t2", command="git status")),
        reply("done"),
    )
    ran = await run(home, ws, "--json", "go")
    ends = tool_ends(ran)
    assert ends[0]["status"] == "denied" and "not approved" in ends[0]["output"]
    assert not (ws / "pwned.txt").exists()
    assert ends[1]["status"] == "completed"  # the rule still lets the plain command through


@pytest.mark.anyio
async def test_edits_to_git_config_and_hooks_are_refused(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Case 3: in accept_edits, a patch adding core.fsmonitor to .git/config, and a
    write over an executable hook, then the allowed ``git status``."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, 'mode = "accept_edits"\nallow = ["terminal:git status*"]')
    git(ws, "init", "-q")
    hook = ws / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    marker = tmp_path / "marker"
    fake.script(
        KEY_A,
        calls(
            call(
                "patch",
                "p1",
                path=".git/config",
                edits=[
                    {
                        "old_text": "[core]",
                        "new_text": f'[core]\n\tfsmonitor = "id > {marker}; false"',
                    }
                ],
            ),
            call("write_file", "w1", path=".git/hooks/post-checkout", content=f"id > {marker}\n"),
            call("write_file", "w2", path=".GIT/config", content="[core]\n"),
            call("terminal", "t1", command="git status"),
        ),
        reply("done"),
    )
    ran = await run(home, ws, "--json", "go")
    patched, hooked, upper, status = tool_ends(ran)
    assert patched["status"] == "denied" and "inside a .git directory" in patched["output"]
    assert hooked["status"] == "denied" and "inside a .git directory" in hooked["output"]
    assert upper["status"] == "denied"
    assert status["status"] == "completed"
    assert "fsmonitor" not in (ws / ".git" / "config").read_text()
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert not marker.exists()


@pytest.mark.anyio
async def test_commands_see_no_configured_or_credential_named_key_in_any_encoding(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Case 7: printenv, env, /proc/self/environ and ``printenv KEY | base64``. The
    configured key sits in HERMES_TEST_PRIMARY_0 (a name that says nothing) and an
    unconfigured one in OPENAI_API_KEY."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, 'mode = "auto"')
    var = next(iter(home.env))
    commands = [
        "printenv",
        "env",
        "cat /proc/self/environ | tr '\\0' '\\n'",
        f"printenv {var} | base64",
        "printenv OPENAI_API_KEY | base64",
        f"printenv {var} | rev",
        f"printenv {var} | cut -c1-10",
        "echo visible-$HERMES_SAFE_MARKER",
    ]
    fake.script(
        KEY_A,
        calls(*(call("terminal", f"t{i}", command=c) for i, c in enumerate(commands))),
        reply("done"),
    )
    ran = await run(
        home,
        ws,
        "--json",
        "go",
        env={"OPENAI_API_KEY": UNCONFIGURED_KEY, "HERMES_SAFE_MARKER": "ok"},
    )
    ends = tool_ends(ran)
    assert [e["status"] for e in ends] == ["completed"] * len(commands)
    outputs = "\n".join(e["output"] for e in ends)
    assert "visible-ok" in outputs  # the environment is there, less the keys
    for key in (KEY_A, UNCONFIGURED_KEY):
        encoded = [key, key[::-1], key[:10], base64.b64encode(key.encode()).decode()[:16]]
        assert not [form for form in encoded if form in outputs], key
        assert not [form for form in encoded if form in ran.stdout], key
    assert var not in outputs and "OPENAI_API_KEY" not in outputs


@pytest.mark.anyio
async def test_the_config_file_inside_the_workspace_cannot_be_edited(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Case 11: HERMES_MCP_CONFIG inside the workspace, accept_edits patches
    ``mode = "auto"`` into it."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    config = configure(home, fake, 'mode = "accept_edits"')
    inside = ws / "hermes.toml"
    shutil.copy(config, inside)
    fake.script(
        KEY_A,
        calls(
            call(
                "patch",
                "p1",
                path="hermes.toml",
                edits=[{"old_text": 'mode = "accept_edits"', "new_text": 'mode = "auto"'}],
            ),
            call("write_file", "w1", path="./HERMES.toml", content='[policy]\nmode = "auto"\n'),
        ),
        reply("done"),
    )
    ran = await run(home, ws, "--json", "go", env={"HERMES_MCP_CONFIG": str(inside)})
    patched, written = tool_ends(ran)
    assert patched["status"] == "denied" and "hermes config file" in patched["output"]
    assert 'mode = "accept_edits"' in inside.read_text()
    # names compare case-insensitively, as macOS's file system would open the same file
    assert written["status"] == "denied" and "hermes config file" in written["output"]


@pytest.mark.anyio
async def test_run_prints_no_terminal_control_sequences(tmp_path: Path, fake: FakeProvider) -> None:
    """Case 13: the model's answer carries clear-screen, a title and an OSC 52
    clipboard write; ``sessions show`` prints the stored tool result."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, 'mode = "auto"')
    hostile = "a\x1b[2J\x1b]0;pwned\x07b\x1b]52;c;aGVsbG8=\x07c\x9b31md"
    (ws / "hostile.txt").write_text(hostile + "\n")
    fake.script(KEY_A, calls(call("read_file", "r1", path="hostile.txt")), reply(hostile))
    ran = await run(home, ws, "go")
    assert ran.code == 0 and ran.stdout == "abcd\n"
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES, "sessions", "list", "--json"], env=home.process_env, check=False
        )
    session = json.loads(seen(proc.stdout.decode()))["sessions"][0]["id"]
    with anyio.fail_after(30):
        shown = await anyio.run_process(
            [HERMES, "sessions", "show", session], env=home.process_env, check=False
        )
    text = seen(shown.stdout.decode())
    assert shown.returncode == 0 and "abcd" in text
    assert not any(c in text for c in "\x1b\x07\x9b")


@pytest.mark.anyio
async def test_hostile_patterns_end_quickly_and_ctrl_c_still_exits_130(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Case 6 through the CLI: a catastrophic regex, a hostile .gitignore line and a
    disk-wide glob end well within the turn; a command that does not end is stopped by
    Ctrl-C with exit 130."""
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, 'mode = "auto"\ndeny = ["read:secret.txt"]')
    (ws / "x.txt").write_text("x" * 5000 + "\n")
    (ws / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*a*a*b\n")
    (ws / ("a" * 200)).write_text("")
    fake.script(
        KEY_A,
        calls(
            call("search_files", "s1", pattern="(x+x+)+y"),
            call("list_dir", "l1", path=".", depth=2),
            call("terminal", "t1", command="ls /*/*/*/*/*/* > /dev/null; echo globbed"),
        ),
        reply("done"),
    )
    ran = await run(home, ws, "--json", "go", limit=60)
    assert ran.code == 0
    searched, listed, globbed = tool_ends(ran)
    assert searched["status"] == listed["status"] == "completed"
    # the glob is not walked: over its budget, the command goes to the approver (none here)
    assert globbed["status"] == "denied" and "globs too large to check" in globbed["output"]
    fake.script(KEY_A, calls(call("terminal", "t2", command="sleep 600")), reply("never"))
    with anyio.fail_after(30):
        async with await anyio.open_process(
            [HERMES, "run", "--json", "wait"], env=home.process_env, cwd=ws
        ) as proc:
            assert proc.stdout is not None
            stream = TextReceiveStream(proc.stdout)
            out = ""
            async for chunk in stream:
                out += chunk
                if '"tool_call_start"' in out:
                    break
            proc.send_signal(signal.SIGINT)
            out += "".join([chunk async for chunk in stream])
            code = await proc.wait()
    seen(out)
    assert code == 130 and json.loads(out.splitlines()[-1])["stop_reason"] == "cancelled"
