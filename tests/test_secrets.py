"""Secrets never leave: registered secrets and key-shaped strings are scrubbed from logs.
(The suite-wide check in conftest.py fails any test whose output carries a test secret.)"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hermes_mcp.config import load_settings
from hermes_mcp.log import configure_logging, get_logger, redact
from tests.keys import KEY_C, LITERAL_KEY


def test_log_lines_never_carry_a_resolved_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_TEST_SECRET_C", KEY_C)
    (tmp_path / "config.toml").write_text(
        '[providers.p]\nwire = "openai"\nbase_url = "http://127.0.0.1:1/v1"\n'
        f'credentials = ["env:HERMES_TEST_SECRET_C", "{LITERAL_KEY}"]\n'
    )
    settings = load_settings(tmp_path / "config.toml", env={})
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        log = get_logger("test")
        log.info("provider.error", message=f"bad key {KEY_C}", nested={"k": [LITERAL_KEY]})
        log.info("provider.exception", error=ValueError(f"Bearer {LITERAL_KEY}"))
    finally:
        configure_logging()
    text = stream.getvalue()
    assert KEY_C not in text and LITERAL_KEY not in text
    events = [json.loads(line) for line in text.splitlines()]
    assert events[0]["message"] == "bad key [REDACTED]"
    assert [c.label for c in settings.credentials["p"]][1].startswith("literal#")


@pytest.mark.parametrize(
    "shape",
    [
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "sk-ant-api03-abcdefghijklmnopqrstuv",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz012345",
        "ya29.a0AfB_byabcdefghijklmnopqrstu",
        "ghp_" + "a1B2" * 9,
        "github_pat_" + "11ABCDEFG0" * 5,
        "glpat-" + "x1y2z3" * 4,
        "xoxb-123456789012-abcdefABCDEF",
        "AKIAIOSFODNN7EXAMPLE",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\nbm9uZQ",
    ],
)
def test_key_shapes_are_redacted_even_unregistered(shape: str) -> None:
    assert shape not in redact(f"upstream said: {shape} is wrong")
    assert "b3BlbnNzaC1rZXkt" not in redact(f"x {shape}")  # a PEM body cut before its END
    assert redact("a plain sentence stays") == "a plain sentence stays"
    assert redact("the ghost of github, xoxo") == "the ghost of github, xoxo"
    assert redact("Authorization: bearer abcdefghijklmnopqrstuvwxyz") == (
        "Authorization: bearer [REDACTED]"
    )


def _state_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.glob("state.db*")))


@pytest.mark.anyio
async def test_no_config_secret_in_any_command_output_or_the_state_db(tmp_path: Path) -> None:
    """Every command, on success and on each kind of failure: stdout, stderr (the JSON
    logs) and the SQLite state are searched for every secret of the config."""
    from hermes_mcp.testing import (
        FakeProvider,
        daily_quota,
        rate_limited,
        reply,
        server_error,
        unauthorized,
    )
    from tests.keys import ALL, FALLBACK_KEY, KEY_A, KEY_B, leaked
    from tests.routing import Home, hermes

    with FakeProvider() as fake:
        home = Home(tmp_path)
        home.write(
            {
                "primary": {"url": fake.openai_base_url, "keys": [KEY_A, KEY_B]},
                "backup": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
            },
            "primary:gpt-4o",
            ("backup:gpt-4o-mini",),
        )
        fake.script(KEY_A, unauthorized(), rate_limited(retry_after=5))
        fake.script(KEY_B, daily_quota(), server_error(500), server_error(500))
        fake.script(FALLBACK_KEY, reply("one"), unauthorized())
        outputs = [
            await hermes(home, "ask", "--json", "hi"),
            await hermes(home, "ask", "hi"),
            await hermes(home, "providers", "--json"),
            await hermes(home, "providers"),
            await hermes(home, "doctor", "--probe", "--json"),
            await hermes(home, "doctor"),
            await hermes(home, "run", "--json", "hello"),
            await hermes(home, "sessions", "list", "--json"),
        ]
    assert any(ran.code != 0 for ran in outputs)  # failures were exercised
    for ran in outputs:
        assert leaked(ran.stdout + ran.stderr) == []
    assert sum('"event": "route.' in ran.stderr for ran in outputs) >= 2  # logs were searched
    state = _state_bytes(tmp_path)
    assert [s for s in ALL if s.encode() in state] == []
