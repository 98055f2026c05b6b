"""One attempt-record shape on every surface (``llm.records.AttemptRecord``): ``ask --json``,
``agent_run``'s ``structuredContent.attempts`` and ACP's error data show the same records
for the same failed walk, each attempt once, with its HTTP status, its class, and when a
cooled credential recovers. The route.* log lines carry the same fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import acp
import anyio
import pytest

from hermes_mcp.llm.records import AttemptRecord
from hermes_mcp.testing import FakeProvider, rate_limited, server_error
from tests.acp_client import Editor, connect, text
from tests.agent_helpers import new_home, new_workspace
from tests.keys import FALLBACK_KEY, KEY_A
from tests.mcp_helpers import configure, serve, structured
from tests.routing import Home, hermes

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def fail_everywhere(fake: FakeProvider) -> None:
    """The primary's only key is rate limited for two minutes; the fallback fails twice."""
    fake.script(KEY_A, rate_limited(retry_after=120))
    fake.script(FALLBACK_KEY, server_error(500), server_error(500))


def check(records: list[dict[str, Any]]) -> None:
    """The one schema, and the walk it must describe: each attempt once, in order."""
    parsed = [AttemptRecord.model_validate(r) for r in records]
    assert [set(r) for r in records] == [set(AttemptRecord.model_fields)] * len(records)
    assert [(a.provider, a.action, a.status, a.error_class) for a in parsed] == [
        ("primary", "fallback", 429, "rate_limit"),
        ("backup", "retry", 500, "server_error"),
        ("backup", "surface", 500, "server_error"),
    ]
    assert parsed[0].retry_at is not None and parsed[0].retry_at.endswith("Z")
    assert parsed[0].credential and parsed[0].reason is None


def setup(tmp_path: Path, fake: FakeProvider) -> tuple[Home, Path]:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, fallback=True)
    fail_everywhere(fake)
    return home, ws


async def test_cli_json_and_logs(tmp_path: Path, fake: FakeProvider) -> None:
    home, _ = setup(tmp_path, fake)
    ran = await hermes(home, "ask", "--json", "hi")
    assert ran.code != 0
    check(ran.json()["attempts"])
    logged = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    moves = [d for d in logged if str(d.get("event", "")).startswith("route.")]
    assert moves and all(set(AttemptRecord.model_fields) <= set(d) for d in moves)
    assert moves[0]["status"] == 429 and moves[0]["retry_at"]


async def test_mcp_structured_content(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = setup(tmp_path, fake)
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as log:
        async with serve(home, ws, "legacy", log, stderr) as served:
            with anyio.fail_after(30):
                result = await served.client.call_tool("agent_run", {"prompt": "hello"})
    assert result.is_error
    check(structured(result)["attempts"])


async def test_acp_error_data(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = setup(tmp_path, fake)
    async with connect(Editor(), home.process_env, ws) as conn:
        sid = (await conn.new_session(cwd=str(ws))).session_id
        with pytest.raises(acp.RequestError) as failed:
            await conn.prompt(session_id=sid, prompt=text("hello"))
    assert failed.value.data is not None
    check(failed.value.data["attempts"])
