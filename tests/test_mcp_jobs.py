"""Background jobs (``hermes_mcp.agent.jobs``) on a real runtime against the fake
provider: a turn that outlives its starter, its status and capped log, cancel (the
turn still ends with ``turn_end``), a busy session refused, the running cap, and
finished jobs forgotten after the retention time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent.jobs import JobNotFound, Jobs
from hermes_mcp.agent.session import SessionBusy
from hermes_mcp.errors import UsageError
from hermes_mcp.runtime import open_runtime
from hermes_mcp.testing import FakeProvider, hold, reply
from tests.agent_helpers import call, calls, new_home, new_workspace
from tests.keys import KEY_A

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


async def test_a_job_runs_reports_and_is_forgotten_after_its_retention(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    fake.script(KEY_A, calls(call("read_file", "r1", path="hello.py")), hold("g", reply("done")))
    async with open_runtime(home.settings()) as rt:
        jobs = Jobs(rt.task_group, retention_s=60, max_running=1)
        session = await rt.create_session(ws)
        with anyio.fail_after(30):
            job = jobs.start_turn(session, "read it")
            await fake.wait_requests(2, timeout=15)  # the second model call is held
            await fake.wait_in_flight(1, timeout=15)
            status = job.status()
            assert (status["state"], status["kind"], status["session_id"]) == (
                "running",
                "turn",
                session.id,
            )
            assert status["model"] == "primary:gpt-4o" and status["iterations"] >= 1
            with pytest.raises(SessionBusy):
                jobs.start_turn(session, "again")
            other = await rt.create_session(ws)
            with pytest.raises(UsageError, match="already running"):
                jobs.start_turn(other, "a second job")  # max_running = 1
            fake.release("g")
            assert await job.wait(15)
        assert job.state == "completed" and job.turn_end is not None
        assert job.turn_end.text == "done"
        assert job.status()["events"] == job.seq and job.activity.text == "finished: end_turn"
        assert [a["action"] for a in job.route.attempts] == ["served", "served"]
        assert jobs.get(job.id) is job
        assert job.finished_at is not None
        assert jobs.prune(now=job.finished_at + 61) == 1
        with pytest.raises(JobNotFound, match=job.id):
            jobs.get(job.id)


async def test_cancel_ends_the_turn_with_its_turn_end(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")
    fake.script(KEY_A, hold("never"))
    async with open_runtime(home.settings()) as rt:
        jobs = Jobs(rt.task_group)
        session = await rt.create_session(ws)
        with anyio.fail_after(30):
            job = jobs.start_turn(session, "wait")
            await fake.wait_in_flight(1, timeout=15)
            assert job.cancel()
            assert await job.wait(15)
            await fake.wait_disconnect(timeout=10)
        assert job.state == "cancelled"
        assert job.turn_end is not None and job.turn_end.stop_reason == "cancelled"
        assert not job.cancel()  # already over
        assert not session.busy
