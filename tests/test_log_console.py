"""Logs a person can read: short lines on a terminal (colours only where the terminal
shows them), JSON when piped or asked for (``serve``), the level from ``--verbose`` /
``--quiet`` / ``$HERMES_MCP_LOG_LEVEL``; redaction and the stdlib bridge in both."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes_mcp.log import configure_logging, get_logger, log_level, register_secret
from hermes_mcp.testing import FakeProvider, reply
from tests.keys import KEY_A
from tests.routing import HERMES, Home, seen


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("NO_COLOR", "FORCE_COLOR", "HERMES_MCP_LOG_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    yield
    configure_logging(sticky=True)  # the defaults again, nothing pinned


def test_a_terminal_gets_short_human_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = Terminal()
    configure_logging(stream=out)
    get_logger("t").info("route.fallback", provider="primary", to="backup:gpt-4o-mini")
    line = out.getvalue()
    assert line.endswith("[info] route.fallback provider=primary to=backup:gpt-4o-mini\n")
    assert len(line.split(" ", 1)[0]) == len("12:34:56") and "\x1b[" not in line


def test_colours_only_where_the_terminal_shows_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    out = Terminal()
    configure_logging(stream=out)
    get_logger("t").warning("route.skip")
    assert "\x1b[" in out.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    configure_logging(stream=out)
    get_logger("t").warning("route.skip")
    assert "\x1b[" not in out.getvalue() and "[warning] route.skip" in out.getvalue()


def test_piped_and_serve_get_json_and_both_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    secret = "zz-console-secret-0123456789"
    register_secret(secret)
    for stream, renderer in ((io.StringIO(), "auto"), (Terminal(), "json")):
        configure_logging(stream=stream, renderer=renderer)  # type: ignore[arg-type]
        get_logger("t").info("e", key=secret)
        logging.getLogger("somelib").warning("said %s", secret)
        first, second = (json.loads(line) for line in stream.getvalue().splitlines())
        assert (
            first["event"] == "e"
            and first["key"] == "[REDACTED]"
            and first["timestamp"].endswith("Z")
        )
        assert second == {**second, "event": "said [REDACTED]", "logger": "somelib"}
    monkeypatch.setenv("NO_COLOR", "1")
    console = Terminal()
    configure_logging(stream=console)
    logging.getLogger("somelib").warning("said %s", secret)
    get_logger("t").info("e", key=secret)
    assert secret not in console.getvalue(), console.getvalue()
    assert "[warning] said [REDACTED] [somelib]" in console.getvalue()
    assert "[info] e key=[REDACTED]\n" in console.getvalue()


def test_levels_from_flag_then_variable_then_info(monkeypatch: pytest.MonkeyPatch) -> None:
    assert log_level() == "info"
    monkeypatch.setenv("HERMES_MCP_LOG_LEVEL", "WARN")
    assert log_level() == "warning"
    assert log_level("debug") == "debug"  # a flag wins over the variable
    monkeypatch.setenv("HERMES_MCP_LOG_LEVEL", "chatty")
    assert log_level() == "info"
    out = io.StringIO()
    configure_logging("warning", stream=out)
    get_logger("t").info("hidden")
    get_logger("t").warning("shown")
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == ["shown"]


def run_on_a_terminal(home: Home, *args: str) -> tuple[int, str]:
    """Run hermes-mcp with stderr on a real pseudo-terminal; returns (code, stderr)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [HERMES, *args], env={**home.process_env, "TERM": "dumb"},
            stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, timeout=30, check=False,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return proc.returncode, seen(b"".join(chunks).decode().replace("\r\n", "\n"))


def test_the_command_line_on_a_terminal_and_its_flags(tmp_path: Path) -> None:
    with FakeProvider() as fake:
        fake.script("*", reply("hi"))
        home = Home(tmp_path)
        home.env["OPENAI_API_KEY"] = KEY_A
        home.env["HERMES_MCP_OPENAI_BASE_URL"] = fake.openai_base_url
        # (The fake's loopback endpoint has no known price: a cost.unknown warning too.)
        code, err = run_on_a_terminal(home, "ask", "hello")
        assert code == 0
        (line,) = [line for line in err.splitlines() if "config.zero" in line]
        assert "[info] config.zero message='no config file" in line and not line.startswith("{")
        assert all(not line.startswith("{") for line in err.splitlines())
        for quiet in (("--quiet", "ask", "hello"), ("-q", "ask", "hello")):
            code, err = run_on_a_terminal(home, *quiet)
            assert code == 0 and "[info]" not in err
        home.env["HERMES_MCP_LOG_LEVEL"] = "warning"
        code, err = run_on_a_terminal(home, "ask", "hello")
        assert code == 0 and "[info]" not in err
        code, err = run_on_a_terminal(home, "-v", "ask", "hello")
        assert code == 0 and "config.zero" in err


def test_the_entry_points_choice_sticks_for_later_calls() -> None:
    """An edge that configures logging again under `serve -v` keeps debug and JSON."""
    configure_logging("debug", Terminal(), renderer="json", sticky=True)
    out = Terminal()
    configure_logging(stream=out)  # what an edge does
    get_logger("t").debug("still here")
    assert json.loads(out.getvalue())["event"] == "still here"
