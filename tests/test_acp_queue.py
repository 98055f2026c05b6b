"""The ACP prompt queue in process: prompts of one session run one at a time in arrival
order, at most eight wait, cancel ends the running one and those waiting."""

from __future__ import annotations

import anyio
import pytest

from acp_adapter.queue import PromptQueue, QueueFull, Start


@pytest.mark.anyio
async def test_waiting_prompts_run_one_at_a_time_in_order() -> None:
    queue = PromptQueue()
    order: list[str] = []
    release = anyio.Event()

    async def prompt(name: str, hold: anyio.Event | None = None) -> None:
        async with queue.turn() as start:
            order.append(f"{name}:{start.value}")
            if hold is not None:
                await hold.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(prompt, "one", release)
            await anyio.wait_all_tasks_blocked()
            for name in ("two", "three", "four"):
                tg.start_soon(prompt, name)
                await anyio.wait_all_tasks_blocked()
            assert queue.waiting == 3 and order == ["one:at_once"]
            release.set()
    assert order == ["one:at_once", "two:waited", "three:waited", "four:waited"]
    assert not queue.running and queue.waiting == 0


@pytest.mark.anyio
async def test_at_most_eight_wait() -> None:
    queue = PromptQueue()
    release = anyio.Event()

    async def prompt() -> None:
        async with queue.turn():
            await release.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(9):
                tg.start_soon(prompt)
            await anyio.wait_all_tasks_blocked()
            assert queue.waiting == 8
            with pytest.raises(QueueFull):
                async with queue.turn():
                    pass
            release.set()
    assert not queue.running


@pytest.mark.anyio
async def test_cancel_ends_those_waiting_and_a_later_prompt_runs() -> None:
    queue = PromptQueue()
    release = anyio.Event()
    starts: list[Start] = []

    async def prompt(hold: bool = False) -> None:
        async with queue.turn() as start:
            starts.append(start)
            if hold:
                await release.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(prompt, True)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(prompt)
            tg.start_soon(prompt)
            await anyio.wait_all_tasks_blocked()
            assert queue.cancel_waiting() == 2
            await anyio.wait_all_tasks_blocked()
            assert starts == [Start.AT_ONCE, Start.CANCELLED, Start.CANCELLED]
            tg.start_soon(prompt)  # arrives after the cancel: waits for the running one
            await anyio.wait_all_tasks_blocked()
            assert queue.waiting == 1
            release.set()
    assert starts[-1] is Start.WAITED and not queue.running


@pytest.mark.anyio
async def test_a_waiter_cancelled_from_outside_leaves_the_queue_working() -> None:
    queue = PromptQueue()
    release = anyio.Event()
    ran: list[str] = []

    async def prompt(name: str, hold: bool = False) -> None:
        async with queue.turn():
            ran.append(name)
            if hold:
                await release.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(prompt, "one", True)
            await anyio.wait_all_tasks_blocked()
            async with anyio.create_task_group() as inner:
                inner.start_soon(prompt, "gone")
                await anyio.wait_all_tasks_blocked()
                inner.cancel_scope.cancel()  # the request went away while it waited
            tg.start_soon(prompt, "three")
            await anyio.wait_all_tasks_blocked()
            assert queue.waiting == 1
            release.set()
    assert ran == ["one", "three"] and not queue.running
