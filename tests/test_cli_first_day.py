"""The command line on the first day (issue 24, item 9): the approval prompt shows the
diff it asks about; ``run -`` reads the prompt from stdin; ``providers`` works with a
key variable missing; a refused connection and an HTML error page read as sentences;
``cost.unknown`` only for a remote model that served, without the agent's budget on
``ask``; ``route.skip`` logs no empty fields; Ctrl-C while the command line loads ends
quietly with 130; Python warnings reach ``serve``'s stderr as JSON lines."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from structlog.testing import capture_logs

from hermes_mcp.config import ModelRef
from hermes_mcp.errors import NoRouteError
from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.testing import FakeProvider, fail, rate_limited, reply
from hermes_mcp.tty_approver import DIFF_LINES, TtyApprover
from tests.keys import FALLBACK_KEY, KEY_A, KEY_B, seen
from tests.routing import HERMES, Home, Ran, hermes, router_for
from tools.approval import ApprovalRequest
from tools.diffs import unified_diff
from tools.registry import FileDiff

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


async def hermes_with_stdin(home: Home, stdin: str, *args: str) -> Ran:
    with anyio.fail_after(30):
        done = await anyio.run_process(
            [HERMES, *args], input=stdin.encode(), env=home.process_env, check=False
        )
    return Ran(done.returncode, seen(done.stdout.decode()), seen(done.stderr.decode()))


def last_user_message(fake: FakeProvider) -> object:
    body = fake.requests[-1].body
    assert body is not None
    return body["messages"][-1]["content"]


async def test_the_approval_prompt_shows_the_diff_it_asks_about(tmp_path: Path) -> None:
    old, new = 'print("hello")\n', 'print("hello, \x1b]52;c;cGF3bmVk\x07world")\n'
    diff = FileDiff(tmp_path / "hello.py", old, new, unified_diff("hello.py", old, new))
    request = ApprovalRequest("patch", "edit", "write", "Edit hello.py", diff=diff)
    shown = io.StringIO()
    decision = await TtyApprover(io.StringIO("y\n"), shown).approve(request)
    assert decision.allowed
    text = shown.getvalue()
    assert "wants to Edit hello.py" in text
    assert '    -print("hello")' in text and '    +print("hello, world")' in text
    assert "\x1b" not in text and "\x07" not in text  # the model's text, made inert
    assert text.index("+print") < text.index("allow?")  # seen before "y"

    many = "".join(f"line {n}\n" for n in range(DIFF_LINES * 2))
    big = FileDiff(tmp_path / "big.txt", None, many, unified_diff("big.txt", None, many))
    shown = io.StringIO()
    await TtyApprover(io.StringIO("n\n"), shown).approve(
        ApprovalRequest("write_file", "edit", "write", "Write big.txt", diff=big)
    )
    assert "more diff line(s) not shown" in shown.getvalue()
    assert shown.getvalue().count("\n    +line") == DIFF_LINES - 3  # the headers count too


async def test_run_dash_reads_the_prompt_from_stdin(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    home.write({"p": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "p:gpt-4o")
    fake.script(KEY_A, reply("read it"), reply("asked"))
    prompt = "a prompt\nover several lines, from a pipe\n"
    ran = await hermes_with_stdin(home, prompt, "run", "-")
    assert (ran.code, ran.stdout) == (0, "read it\n"), ran.stderr
    assert prompt.strip() in str(last_user_message(fake))
    asked = await hermes_with_stdin(home, "capital of France?", "ask", "-")
    assert (asked.code, asked.stdout) == (0, "asked\n"), asked.stderr
    assert "capital of France?" in str(last_user_message(fake))
    empty = await hermes_with_stdin(home, "  \n", "run", "-")
    assert empty.code == 2 and "the prompt is empty" in empty.stderr


async def test_providers_and_reset_work_with_a_key_variable_unset(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.write(
        {
            "first": {"url": "http://127.0.0.1:9/v1", "keys": [KEY_A]},
            "second": {"url": "http://127.0.0.1:9/v1", "keys": [KEY_B]},
        },
        "first:gpt-4o",
        ("second:gpt-4o",),
    )
    del home.env["HERMES_TEST_FIRST_0"]  # this shell lacks one of the keys
    ran = await hermes(home, "providers", "--json")
    assert ran.code == 0, ran.stderr
    rows = ran.json()
    assert [r["provider"] for r in rows] == ["second"]
    assert "environment variable HERMES_TEST_FIRST_0 is not set" in ran.stderr
    reset = await hermes(home, "providers", "--reset", rows[0]["credential"])
    assert reset.code == 0 and "reset" in reset.stderr


async def test_a_refused_connection_says_cannot_connect_to_the_base_url(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.write({"local": {"url": "http://127.0.0.1:9/v1", "keys": ["none"]}}, "local:qwen3:8b")
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as failed:
            await router.complete(ChatRequest.of("hi"))
    message = failed.value.message
    assert "cannot connect to http://127.0.0.1:9/v1: Connection refused" in message
    assert "ClientConnectorError" not in message and "Cannot connect to host" not in message


async def test_an_html_error_page_is_its_title_not_the_page(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    home.write({"p": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "p:gpt-4o")
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway | example CDN</title></head>"
        + "<body>" + "<div>lots of markup</div>" * 200 + "</body></html>"
    )  # fmt: skip
    fake.set_default(KEY_A, fail(502, page, content_type="text/html"))  # retried: every time
    async with router_for(home) as router:
        with pytest.raises(NoRouteError) as failed:
            await router.complete(ChatRequest.of("hi"))
    message = failed.value.message
    assert "HTTP 502 with an HTML page, not an API error: 502 Bad Gateway | example CDN" in message
    assert "lots of markup" not in message and "<div>" not in message


async def test_cost_unknown_is_said_once_for_a_remote_model_that_served_and_never_for_loopback(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home = Home(tmp_path)
    home.write(
        {
            "p": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "q": {"url": fake.openai_base_url, "keys": [KEY_B]},
        },
        "p:unpriced-a",
        ("q:unpriced-b",),
    )
    fake.script(KEY_A, reply("hi"))
    remote = ModelRef("p", "unpriced-a")
    async with router_for(home) as router:
        with capture_logs() as loopback:
            await router.complete(ChatRequest.of("hi"))  # loopback: costs nothing
        profile = router.profile(remote)
        router.providers["p"].section = router.providers["p"].section.model_copy(
            update={"base_url": "https://api.example.com/v1"}
        )
        with capture_logs() as logs:
            for _ in range(3):
                router._served_unpriced(remote, profile)
    assert [e for e in loopback if e["event"] == "cost.unknown"] == []
    said = [e for e in logs if e["event"] == "cost.unknown"]
    assert len(said) == 1 and "agent.max_cost_usd" not in said[0]["reason"]
    assert "cost_usd is null" in said[0]["reason"]


async def test_route_skip_logs_no_empty_fields(tmp_path: Path, fake: FakeProvider) -> None:
    home = Home(tmp_path)
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:gpt-4o",
        ("backup:gpt-4o-mini",),
    )
    fake.script(KEY_A, rate_limited(retry_after=30))
    fake.set_default(FALLBACK_KEY, reply("from the fallback"))
    async with router_for(home) as router:
        await router.complete(ChatRequest.of("hi"))
        with capture_logs() as logs:
            await router.complete(ChatRequest.of("hi"))  # the primary is cooling: skipped
    (skip,) = [e for e in logs if e["event"] == "route.skip"]
    assert skip["provider"] == "primary" and skip["reason"]
    assert all(value is not None for value in skip.values()), skip
    assert "credential" not in skip and "status" not in skip


async def test_ctrl_c_while_the_command_line_loads_ends_quietly(tmp_path: Path) -> None:
    """The console script's door: a KeyboardInterrupt raised while importing the command
    line (as Ctrl-C in the first few hundred milliseconds does) is exit 130, no trace."""
    script = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *a, **k):\n"
        "    if name == 'hermes_mcp.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = interrupted\n"
        "from hermes_mcp.__main__ import main\n"
        "sys.exit(main())\n"
    )
    done = await anyio.run_process([sys.executable, "-c", script], check=False)
    assert (done.returncode, done.stderr.decode()) == (130, "")


async def test_python_warnings_reach_stderr_as_json_lines() -> None:
    script = (
        "import warnings\n"
        "from mcp.shared.exceptions import MCPDeprecationWarning\n"
        "from hermes_mcp.log import configure_logging\n"
        "configure_logging(renderer='json', sticky=True)\n"
        "warnings.warn('an old way', MCPDeprecationWarning)\n"
    )
    done = await anyio.run_process([sys.executable, "-c", script], check=False)
    assert done.returncode == 0
    lines = done.stderr.decode().splitlines()
    assert lines and all(line.startswith("{") for line in lines), lines
    (record,) = [json.loads(line) for line in lines]
    assert "an old way" in record["event"] and record["level"] == "warning"
