"""``agent_run`` past ``[mcp] max_jobs`` (issue 24, item 12): calls wait in a FIFO line
(progress says so) instead of being refused, nothing is built for a call before its
slot, and a burst of 50 on fresh sessions (more than the 32 the edge keeps open) all
answer: a session just handed to a call is never closed to make room before its job
has begun its turn (the ``SessionClosed`` race). In process: ``mcp.Client`` on the
server object, both eras, against the loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.abc
import mcp_types as types
import pytest

from hermes_mcp.agent.admission import Admission
from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import new_home, new_workspace
from tests.keys import KEY_A
from tests.mcp_helpers import configure
from tests.test_first_run import body, mcp_in_process

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def with_max_jobs(home_config: Path, n: int) -> None:
    text = home_config.read_text().replace("[mcp]\n", f"[mcp]\nmax_jobs = {n}\n")
    home_config.write_text(text)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_calls_past_the_cap_wait_their_turn_in_order(
    tmp_path: Path, fake: FakeProvider, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    with_max_jobs(home.path / "config.toml", 1)
    fake.set_default(KEY_A, hold("g", reply("done")))
    queued: dict[str, list[str]] = {}
    all_queued = anyio.Event()
    results: dict[str, types.CallToolResult] = {}

    async def run(client: object, prompt: str) -> None:
        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            if message and message.startswith("queued"):
                queued.setdefault(prompt, []).append(message)
                if len(queued) == 4:
                    all_queued.set()

        results[prompt] = await client.call_tool(  # type: ignore[attr-defined]
            "agent_run", {"prompt": prompt}, progress_callback=on_progress
        )

    async with mcp_in_process(home, ws, mode, monkeypatch) as client:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, client, "job first")
                await fake.wait_in_flight(1)  # the one slot is taken and held
                for n in range(4):
                    tg.start_soon(run, client, f"job queued {n}")
                await all_queued.wait()
                assert fake.count() == 1  # nothing of a queued call reached the model
                fake.release("g")
    assert sorted(results) == ["job first", *(f"job queued {n}" for n in range(4))]
    assert all(not r.is_error and "done" in body(r) for r in results.values())
    assert fake.max_in_flight == 1
    # FIFO: each queued call was told how many were ahead, and ran in that order.
    ahead = {prompt: int(msgs[0].split("; ")[-1].split()[0]) for prompt, msgs in queued.items()}
    assert sorted(ahead.values()) == [0, 1, 2, 3]
    sent = [str(r.body["messages"][-1]["content"]) for r in fake.requests if r.body is not None]
    assert [next(p for p in results if p in m) for m in sent] == [
        "job first",
        *sorted(ahead, key=lambda p: ahead[p]),
    ]
    assert "max_jobs" in next(iter(queued.values()))[0]


async def test_a_burst_of_fifty_is_all_answered(
    tmp_path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, reply("ok"))
    results: list[types.CallToolResult] = []

    async with mcp_in_process(home, ws, "legacy", monkeypatch) as client:

        async def run(n: int) -> None:
            results.append(await client.call_tool("agent_run", {"prompt": f"task {n}"}))

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for n in range(50):
                    tg.start_soon(run, n)
    refused = [body(r) for r in results if r.is_error]
    assert (len(results), refused) == (50, [])
    assert fake.count(key=KEY_A) == 50
    assert fake.max_in_flight <= 16  # [mcp] max_jobs


async def test_admission_is_fifo_and_a_cancelled_waiter_leaves_the_line() -> None:
    admission = Admission(1)
    first = admission.try_acquire()
    assert first is not None and admission.try_acquire() is None
    order: list[str] = []
    told: dict[str, int] = {}

    async def take(name: str, task_status: anyio.abc.TaskStatus[None]) -> None:
        async def on_wait(ahead: int) -> None:
            told.setdefault(name, ahead)
            task_status.started()

        ticket = await admission.acquire(on_wait)
        order.append(name)
        ticket.release()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(take, "a")
            async with anyio.create_task_group() as doomed:
                await doomed.start(take, "cancelled")
                await tg.start(take, "b")
                assert admission.queued == 3
                doomed.cancel_scope.cancel()
            assert admission.queued == 2
            assert admission.try_acquire() is None  # a newcomer never jumps the line
            first.release()
    assert told == {"a": 0, "cancelled": 1, "b": 2}
    assert order == ["a", "b"]
    assert (admission.running, admission.queued) == (0, 0)
