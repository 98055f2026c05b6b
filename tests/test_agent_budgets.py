"""How a turn ends other than with an answer: each budget, a cut answer, a refusal, and a
model request that fails (never shown as assistant text)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent import Budget, TextDelta
from hermes_mcp.llm.routed_stream import RouterStream
from hermes_mcp.llm.router import Router
from hermes_mcp.llm.types import Attempt, ChatRequest, Delta, Result, Usage
from hermes_mcp.llm.walk import AttemptObserver
from hermes_mcp.testing import (
    FakeProvider,
    fail,
    hold,
    reply,
    stream,
    unauthorized,
)
from tests.agent_helpers import (
    call,
    calls,
    new_home,
    new_workspace,
    run_turn,
    session_rig,
    types,
)
from tests.keys import KEY_A
from tests.routing import Home


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    home.write({"primary": {"url": fake.openai_base_url, "keys": [KEY_A]}}, "primary:gpt-4o")


def read_again(n: int) -> list[object]:
    return [calls(call("read_file", f"r{i}", path="hello.py")) for i in range(n)]


@pytest.mark.anyio
async def test_max_iterations_ends_the_turn_and_says_so(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, *read_again(5))  # type: ignore[arg-type]
    async with session_rig(home, ws, agent={"max_iterations": 2}) as rig:
        _, end = await run_turn(rig.session, "loop")
    assert end.stop_reason == "max_iterations" and end.iterations == 2
    assert end.message is not None and "agent.max_iterations" in end.message
    assert fake.count(key=KEY_A) == 2


@pytest.mark.anyio
async def test_max_duration_ends_the_turn_and_closes_the_request(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, hold("never"))
    async with session_rig(home, ws, agent={"max_duration_s": 0.3}) as rig:
        _, end = await run_turn(rig.session, "wait")
    assert end.stop_reason == "max_duration"
    assert end.message is not None and "agent.max_duration_s" in end.message
    await fake.wait_disconnect()


class _Priced:
    """The runtime's router with a price on every answer (prices are not configurable
    yet); ``router`` is set once the runtime has opened it."""

    def __init__(self, cost: float) -> None:
        self.router: Router | None = None
        self.cost = cost

    @asynccontextmanager
    async def stream(
        self,
        request: ChatRequest,
        *,
        model: str | None = None,
        on_attempt: AttemptObserver | None = None,
    ) -> AsyncIterator[_PricedStream]:
        assert self.router is not None
        async with self.router.stream(request, model=model, on_attempt=on_attempt) as inner:
            yield _PricedStream(inner, self.cost)


class _PricedStream:
    def __init__(self, inner: RouterStream, cost: float) -> None:
        self.inner = inner
        self.cost = cost

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        return self.inner.attempts

    @property
    def result(self) -> Result | None:
        result = self.inner.result
        return None if result is None else dataclasses.replace(result, cost_usd=self.cost)

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self.inner


@pytest.mark.anyio
async def test_max_cost_ends_the_turn_before_more_tools_run(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, *read_again(5))  # type: ignore[arg-type]
    priced = _Priced(0.6)
    async with session_rig(home, ws, agent={"max_cost_usd": 1.0}, model=priced) as rig:
        priced.router = rig.router
        events, end = await run_turn(rig.session, "spend")
        history = await rig.store.history(end.session_id)
    assert end.stop_reason == "max_cost" and end.cost_usd == pytest.approx(1.2)
    assert end.message is not None and "agent.max_cost_usd" in end.message
    assert types(events).count("tool_call_start") == 1  # the second call's tools never ran
    assert history[-1].role == "tool" and "no result" in history[-1].content


def test_unknown_costs_never_end_a_turn() -> None:
    budget = Budget(max_iterations=3, max_duration_s=1, max_cost_usd=0.0)
    budget.add(Usage(1, 1), None)
    assert not budget.over_cost
    budget.add(Usage(1, 1), 0.0)
    assert budget.over_cost  # a known cost reaching a zero budget


@pytest.mark.anyio
async def test_an_answer_cut_at_the_token_limit_is_max_tokens(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, reply("the beginning of", finish_reason="length"))
    async with session_rig(home, ws) as rig:
        _, end = await run_turn(rig.session, "long")
    assert (end.stop_reason, end.text) == ("max_tokens", "the beginning of")


@pytest.mark.anyio
async def test_a_content_filter_is_a_refusal(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, reply("I can", finish_reason="content_filter"))
    async with session_rig(home, ws) as rig:
        _, end = await run_turn(rig.session, "bad")
    assert end.stop_reason == "refusal" and end.text == ""


@pytest.mark.anyio
async def test_no_route_ends_the_turn_in_error_never_as_answer_text(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.set_default(KEY_A, unauthorized())
    async with session_rig(home, ws) as rig:
        events, end = await run_turn(rig.session, "hi")
    assert types(events) == ["turn_end"]
    assert (end.stop_reason, end.text) == ("error", "")
    assert end.error is not None and (end.error["provider"], end.error["class"]) == (
        "primary",
        "auth",
    )
    assert end.message is not None and "primary" in end.message and "auth" in end.message


@pytest.mark.anyio
async def test_a_bad_request_is_surfaced_as_an_error(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, fail(400, {"error": {"message": "messages: bad shape"}}))
    async with session_rig(home, ws) as rig:
        _, end = await run_turn(rig.session, "hi")
    assert end.stop_reason == "error" and end.error is not None
    assert end.error["class"] == "bad_request"


@pytest.mark.anyio
async def test_a_stream_broken_after_its_first_token_ends_in_error(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(KEY_A, stream(chunks=["Hel", "lo", " there"], break_after=2))
    async with session_rig(home, ws) as rig:
        with anyio.fail_after(30):
            events, end = await run_turn(rig.session, "hi")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello"
    assert (end.stop_reason, end.text) == ("error", "")
    assert end.message is not None and end.message.startswith("primary: server_error")
    assert fake.count(key=KEY_A) == 1  # never replayed
