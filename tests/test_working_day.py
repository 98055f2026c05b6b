"""A working day in one session, against the loopback fake through the real router: a
long session kept inside a small window (no request refused, every turn answered, the
transcript whole), a failing summary that drops nothing, and the project's AGENTS.md and
the memory notes reaching the model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from hermes_mcp import cli_sessions
from hermes_mcp.agent.events import ContextCompacted
from hermes_mcp.mcp_server.mapping import transcript_markdown
from hermes_mcp.testing import FakeProvider, reply, unauthorized
from tests.agent_helpers import call, calls, new_home, new_workspace, run_turn, session_rig
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home

WINDOW = 6000
LINE = "{n:04d} the quick brown fox jumps over the lazy dog, and then it does it again\n"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(context_limit=WINDOW) as fp:  # refuses a request past the window
        yield fp


def configure(home: Home, fake: FakeProvider) -> None:
    window = {"context_window": WINDOW}
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A], "models": {"m": window}},
            "summary": {
                "url": fake.openai_base_url,
                "keys": [FALLBACK_KEY],
                "models": {"s": window},
            },
        },
        "primary:m",
    )


def big_file(ws: Path, name: str, lines: int = 40) -> None:
    (ws / name).write_text("".join(LINE.format(n=n) for n in range(lines)))  # ~3,200 chars


def system_of(body: dict[str, Any] | None) -> str:
    return str((body or {})["messages"][0]["content"])


def users_of(body: dict[str, Any] | None) -> list[str]:
    return [str(m["content"]) for m in (body or {})["messages"] if m["role"] == "user"]


AGENT = {"compaction_model": "summary:s", "max_iterations": 6}


def test_the_fake_refuses_a_request_past_its_window(fake: FakeProvider) -> None:
    """What the tests below rely on: a request too big for the window is refused."""
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * (4 * WINDOW)}]}
    answer = httpx2.post(f"{fake.openai_base_url}/chat/completions", json=body, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "context_length_exceeded"
    assert [r.reason for r in fake.rejections] == ["context_overflow"]
    small = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx2.post(f"{fake.openai_base_url}/chat/completions", json=small).status_code == 200


@pytest.mark.anyio
async def test_forty_turns_with_large_outputs_stay_inside_a_6000_token_window(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    for name in ("a.txt", "b.txt", "c.txt"):
        big_file(ws, name)
    steps = []
    for n in range(1, 41):
        read = call("read_file", f"r{n}", path=("a.txt", "b.txt", "c.txt")[n % 3])
        steps += [calls(read), reply(f"answer {n}")]
    fake.script(KEY_A, *steps)
    fake.set_default(FALLBACK_KEY, reply("Summary: the user asked about files a, b and c."))
    async with session_rig(home, ws, toolsets=["files"], agent=AGENT) as rig:
        session = rig.session
        compactions: list[ContextCompacted] = []
        for n in range(1, 41):
            events, end = await run_turn(session, f"turn {n}: what is in the file?", limit_s=30)
            assert (end.stop_reason, end.text) == ("end_turn", f"answer {n}"), end
            compactions += [e for e in events if isinstance(e, ContextCompacted)]
        assert [r for r in fake.rejections if r.reason == "context_overflow"] == []
        assert fake.count(key=KEY_A) == 80  # two calls a turn, none refused or repeated
        summaries = fake.count(key=FALLBACK_KEY)
        assert summaries >= 1 and any(c.summarized for c in compactions)
        assert all(c.tokens_after < c.tokens_before for c in compactions)
        # The last request: the summary first, the turn's prompt whole.
        last = [r for r in fake.requests if r.key == KEY_A][-1]
        assert "turn 40: what is in the file?" in users_of(last.body)
        assert any("Summary: the user asked" in u for u in users_of(last.body))
        record = await rig.store.load(session.id)
        assert record is not None and record.compactions
        shown = cli_sessions._transcript(record)
        # session/load and hermes://sessions/{id} replay a marker where it happened
        replayed = [e async for e in session.replay()]
        markdown = transcript_markdown("t", session.id, replayed)
    assert sum(isinstance(e, ContextCompacted) for e in replayed) == len(compactions)
    assert markdown.count("context compacted:") == len(compactions)
    assert all(f"turn {n}: what is in the file?" in markdown for n in range(1, 41))
    for n in range(1, 41):
        assert f"user: turn {n}: what is in the file?" in shown
    assert "context compacted:" in shown and shown.count("tool read_file") == 40


@pytest.mark.anyio
async def test_a_summary_that_fails_drops_nothing(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    big_file(ws, "a.txt")
    steps = []
    for n in range(1, 7):
        steps += [calls(call("read_file", f"r{n}", path="a.txt")), reply(f"answer {n}")]
    fake.script(KEY_A, *steps, *(reply(f"big answer {k}") for k in range(1, 6)))
    fake.set_default(FALLBACK_KEY, unauthorized())  # every summary call fails
    async with session_rig(home, ws, toolsets=["files"], agent=AGENT) as rig:
        session = rig.session
        seen: list[ContextCompacted] = []
        for n in range(1, 7):  # old outputs elided: the turns go on
            events, end = await run_turn(session, f"turn {n}", limit_s=30)
            assert (end.stop_reason, end.text) == ("end_turn", f"answer {n}"), end
            seen += [e for e in events if isinstance(e, ContextCompacted)]
        assert seen and not any(c.summarized for c in seen)
        # Prompts too big to elide: while the request still fits the window the turns
        # go on past compact_at; then the summary fails and the turn ends saying so.
        words = "a long request that cannot be elided " * 130  # ~4,700 characters
        big = [f"big {k}: {words}" for k in range(1, 6)]
        answered = []
        for prompt in big:
            _, end = await run_turn(session, prompt, limit_s=30)
            if end.stop_reason != "end_turn":
                break
            answered.append(end.text)
        assert answered and len(answered) < len(big)
        assert end.stop_reason == "error" and end.error is not None
        assert end.error["class"] == "context_overflow"
        assert end.message is not None and "the context is full" in end.message
        assert "/compact" in end.message and "/reset" in end.message
        assert "the summary failed" in end.message
        assert [r for r in fake.rejections if r.reason == "context_overflow"] == []
        # Nothing was dropped: no boundary, the whole conversation still the model's.
        history = await rig.store.load_history(session.id)
        assert history.summary is None
        prompts = [e.message.content for e in history if e.message.role == "user"]
        sent = big[: len(answered) + 1]
        assert prompts == [f"turn {n}" for n in range(1, 7)] + sent
        record = await rig.store.load(session.id)
        assert record is not None and record.compactions == []


@pytest.mark.anyio
async def test_agents_md_and_memory_reach_the_model(tmp_path: Path, fake: FakeProvider) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    (ws / "AGENTS.md").write_text("Run the tests with `make check`.\n")
    (home.path / "AGENTS.md").write_text("Answer in British English.\n")
    fake.script(KEY_A, reply("zero"), reply("one"), reply("two"), reply("three"))
    async with session_rig(home, ws, toolsets=["files", "memory"]) as rig:
        # The notes are read as a session starts: this one started before they existed.
        await run_turn(rig.session, "before")
        with rig.db.write() as conn:
            for n, text in enumerate(["the user likes short answers", "the build uses uv"]):
                now = time.time() + n
                conn.execute(
                    "INSERT INTO memory (scope, content, created_at, updated_at)"
                    " VALUES ('global', ?, ?, ?)",
                    (text, now, now),
                )
        session = await rig.runtime.create_session(ws, toolsets=["files", "memory"])
        await run_turn(session, "hello")
        await run_turn(session, "again")
        (ws / "AGENTS.md").write_text("Run the tests with `make test`.\n")
        await run_turn(session, "and now")
    before, first, second, third = (system_of(r.body) for r in fake.requests)
    assert "Run the tests with `make check`." in before and "# Memory" not in before
    assert "Run the tests with `make check`." in first
    assert "Answer in British English." in first
    assert first.index("the build uses uv") < first.index("the user likes short answers")
    assert second == first  # nothing changed: the same bytes (the prompt cache holds)
    assert "make test" in third and "make check" not in third


@pytest.mark.anyio
async def test_a_model_with_no_known_window_is_compacted_when_it_says_too_long(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    home.write(
        {
            "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
            "summary": {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]},
        },
        "primary:local",
    )
    fake.set_default(FALLBACK_KEY, reply("Summary: turns about a.txt."))
    big_file(ws, "a.txt")
    steps = []
    for n in range(1, 13):
        steps += [calls(call("read_file", f"r{n}", path="a.txt")), reply(f"answer {n}")]
    fake.script(KEY_A, *steps)
    agent = {"compaction_model": "summary:local"}
    async with session_rig(home, ws, toolsets=["files"], agent=agent) as rig:
        for n in range(1, 13):
            _, end = await run_turn(rig.session, f"turn {n}", limit_s=30)
            assert (end.stop_reason, end.text) == ("end_turn", f"answer {n}"), end
    refused = [r for r in fake.rejections if r.reason == "context_overflow"]
    assert refused  # the provider said so (its window is not in any profile)...
    assert fake.count(key=KEY_A) - len(refused) == 24  # ...and each turn still answered
