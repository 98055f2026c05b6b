"""Logs and the protocol wire: the standard library's logging goes through our redacting
JSON chain, and with the fd-1 guard on nothing but the protocol writer reaches stdout."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.keys import KEY_A, seen

_SCRIPT = textwrap.dedent(
    f"""
    import logging, os, subprocess, sys
    from hermes_mcp.log import configure_logging, register_secret
    from hermes_mcp.stdio_guard import guard_stdout

    configure_logging()
    register_secret({KEY_A!r})
    with guard_stdout() as wire:
        print("stray print from a library")
        os.write(1, b"raw write to fd 1\\n")
        subprocess.run([sys.executable, "-c", "print('child process output')"], check=True)
        logging.getLogger("aiohttp.client").warning("request failed with key %s", {KEY_A!r})
        wire.write(b'{{"jsonrpc": "2.0", "id": 1, "result": {{}}}}\\n')
    print("after the guard")
    """
)


def _run() -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    seen(done.stdout)
    seen(done.stderr)
    return done


def test_stray_output_lands_on_stderr_and_only_the_wire_on_stdout() -> None:
    done = _run()
    lines = done.stdout.splitlines()
    assert lines == ['{"jsonrpc": "2.0", "id": 1, "result": {}}', "after the guard"]
    for stray in ("stray print from a library", "raw write to fd 1", "child process output"):
        assert stray in done.stderr


def test_stdlib_logging_is_json_and_redacted() -> None:
    done = _run()
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (record,) = [r for r in records if r.get("logger") == "aiohttp.client"]
    assert record["level"] == "warning"
    assert record["event"] == "request failed with key [REDACTED]"
    assert KEY_A not in done.stderr
