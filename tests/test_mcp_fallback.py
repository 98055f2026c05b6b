"""A single-key primary answering a daily-quota 429, a fallback configured: ``agent_run``
over MCP is answered by the fallback, its ``structuredContent`` shows both attempts, a
progress message reports the fallback as it happens, and the next ``agent_run`` sends
nothing to the primary (the cooldown holds). Both protocol eras, each its own process
and state directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from hermes_mcp.testing import FakeProvider, daily_quota, reply
from tests.agent_helpers import new_workspace
from tests.keys import FALLBACK_KEY, KEY_A
from tests.mcp_helpers import Served, configure, first_text, serve, structured
from tests.routing import Home

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture(params=["legacy", "auto"])
async def served(
    request: pytest.FixtureRequest, fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    fake.reset()
    base = tmp_path_factory.mktemp(f"fallback-{request.param}")
    (base / "home").mkdir()
    home, ws = Home(base / "home"), new_workspace(base)
    configure(home, fake, fallback=True)
    stderr = base / "stderr.log"
    with stderr.open("w") as log:
        async with serve(home, ws, request.param, log, stderr) as s:
            yield s
    s.stderr_text()
    assert s.stray == []


async def test_quota_on_the_single_key_primary_falls_back_and_stays_away(
    served: Served, fake: FakeProvider
) -> None:
    fake.script(KEY_A, daily_quota())
    fake.set_default(FALLBACK_KEY, reply("from the fallback"))
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    with anyio.fail_after(30):
        first = await served.client.call_tool(
            "agent_run", {"prompt": "hello"}, progress_callback=on_progress
        )
    assert not first.is_error, first
    data = structured(first)
    assert (first_text(first), data["provider"], data["model"]) == (
        "[fallback: primary:gpt-4o → backup:gpt-4o-mini (quota_exhausted)]\n\nfrom the fallback",
        "backup",
        "gpt-4o-mini",
    )
    attempts = [(a["provider"], a["action"], a["error_class"]) for a in data["attempts"]]
    assert attempts == [("primary", "fallback", "quota_exhausted"), ("backup", "served", None)]
    assert any(m and "fallback" in m and "primary:gpt-4o" in m for m in progress), progress
    assert fake.count(key=KEY_A) == 1
    switches = [d for d in served.logs if isinstance(d, dict) and d.get("event") == "model_switch"]
    assert [(d["from"], d["action"], d["reason"]) for d in switches] == [
        ("primary:gpt-4o", "fallback", "quota_exhausted")
    ]

    with anyio.fail_after(30):
        second = await served.client.call_tool("agent_run", {"prompt": "again"})
    assert structured(second)["provider"] == "backup"
    assert first_text(second).startswith("[fallback: primary:gpt-4o → backup:gpt-4o-mini")
    assert fake.count(key=KEY_A) == 1  # nothing more was sent to the exhausted primary
    status = structured(await served.client.call_tool("providers_status", {}))
    states = {row["provider"]: row["state"] for row in status["credentials"]}
    assert states == {"primary": "cooling", "backup": "available"}
    (skip,) = status["skips"]
    assert (skip["route"], skip["reason"]) == ("primary:gpt-4o", "quota_exhausted")
    assert skip["until"] is not None  # when the primary is tried again
