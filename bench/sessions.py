"""Sessions: what creating, loading and running them costs, with the scripted in-process
model (``hermes_mcp.testing.scripted``), so that only the runtime is measured.

- ``create_ms``: ``Runtime.create_session`` (one stored row), median of 20.
- ``load_ms``: ``Runtime.load_session`` of a stored session of 200 messages (100 turns),
  its history rebuilt and its replay read (what an edge's ``session/load`` does),
  median of 20; ``load_open_ms`` is ``load_session`` alone.
- ``turn_overhead_ms``: per model call of a turn of ``--iterations`` calls, each a
  ``todo`` tool call, minus the scripted model's own time for the same steps (streamed
  bare, in the same run): events, tool dispatch, the SQLite appends, request building.
- ``fifty_ratio``: 50 sessions each running one turn at once, every model call taking
  ``--latency-ms``: wall time against the ideal, one latency.

    python3 -m uv run --frozen python bench/sessions.py [--latency-ms 200] [--iterations 50]

Prints one JSON line: the figures, and each ``*_ratio`` against its target (create 5 ms,
load 50 ms, fifty 1.3x; below 1 meets it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as ``python bench/sessions.py``, this directory heads sys.path and its tools.py
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402

from hermes_mcp.agent.event_log import encode  # noqa: E402
from hermes_mcp.agent.events import TurnEnd  # noqa: E402
from hermes_mcp.config import load_settings  # noqa: E402
from hermes_mcp.llm.types import ChatRequest, Completion, Message, Result, Usage  # noqa: E402
from hermes_mcp.runtime import Runtime, open_runtime  # noqa: E402
from hermes_mcp.testing.scripted import Call, Say, ScriptedModel, by_round  # noqa: E402

RUNS = 20
TARGETS = {"create_ms": 5.0, "load_ms": 50.0, "fifty_ratio": 1.3}


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


async def create(rt: Runtime, ws: Path) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        session = await rt.create_session(ws)
        samples.append(time.perf_counter() - started)
        await session.close()
    return median_ms(samples)


async def stored_session(rt: Runtime, ws: Path, messages: int) -> str:
    """A session of ``messages`` stored messages (user and answer per turn)."""
    session = await rt.create_session(ws)
    store = rt.store
    for n in range(messages // 2):
        turn = await store.begin_turn(session.id, f"question {n}: " + "words " * 40)
        answer = Message.assistant(f"answer {n}: " + "more words " * 60)
        completion = Completion(answer.content, (), "stop", Usage(10, 5))
        result = Result(completion, "scripted", "model", "k", ())
        event = {"type": "text_delta", "text": answer.content}
        await store.append_assistant(session.id, turn, answer, result, events=[(1, event)])
        end = encode(TurnEnd("end_turn", session.id, answer.content, usage=Usage(10, 5)))
        await store.end_turn(
            session.id, turn, "end_turn", None, Usage(10, 5), None, events=[(2, end)]
        )
    await session.close()
    return session.id


async def load(rt: Runtime, session_id: str) -> tuple[float, float]:
    whole, alone = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        session = await rt.load_session(session_id)
        opened = time.perf_counter()
        history = await rt.store.history(session_id)
        events = [event async for event in session.replay()]
        whole.append(time.perf_counter() - started)
        alone.append(opened - started)
        assert len(history) == 200 and len(events) >= 300, (len(history), len(events))
        await session.close()
    return median_ms(whole), median_ms(alone)


def todo_steps(iterations: int) -> list[Say]:
    todos = [{"content": "step", "status": "in_progress"}]
    steps = [Say(calls=(Call("todo", {"todos": todos}, f"t{i}"),)) for i in range(iterations)]
    return [*steps, Say("done")]


async def bare(model: ScriptedModel, requests: list[ChatRequest]) -> float:
    started = time.perf_counter()
    for request in requests:
        async with model.stream(request) as stream:
            async for _ in stream:
                pass
    return time.perf_counter() - started


async def turn_overhead(settings: Any, ws: Path, iterations: int) -> float:
    model = ScriptedModel(todo_steps(iterations - 1))
    async with open_runtime(settings, model=model) as rt:
        session = await rt.create_session(ws, mode="auto")
        started = time.perf_counter()
        end = await session.run("plan it")
        turn_s = time.perf_counter() - started
        await session.close()
    assert end.stop_reason == "end_turn" and end.iterations == iterations, end
    replay_model = ScriptedModel(todo_steps(iterations - 1))
    bare_s = await bare(replay_model, model.requests)
    return round((turn_s - bare_s) / iterations * 1000, 3)


async def fifty(settings: Any, ws: Path, latency_s: float) -> tuple[float, float]:
    model = ScriptedModel(script=by_round([Say("ok", delay_s=latency_s)]))
    async with open_runtime(settings, model=model) as rt:
        sessions = [await rt.create_session(ws, mode="auto") for _ in range(50)]
        ends = []

        async def one(index: int) -> None:
            ends.append(await sessions[index].run("hello"))

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for index in range(50):
                tg.start_soon(one, index)
        wall = time.perf_counter() - started
        for session in sessions:
            await session.close()
    assert [e.stop_reason for e in ends] == ["end_turn"] * 50
    return round(wall * 1000, 1), round(wall / latency_s, 3)


async def main(latency_ms: float, iterations: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        home, ws = Path(tmp) / "home", Path(tmp) / "ws"
        home.mkdir()
        ws.mkdir()
        (home / "config.toml").write_text(
            '[model]\ndefault = "scripted:model"\n'
            '[providers.scripted]\nwire = "openai"\nbase_url = "http://127.0.0.1:9"\n'
            'credentials = ["none"]\n'
        )
        settings = load_settings(env={"HERMES_MCP_HOME": str(home)})
        async with open_runtime(settings, model=ScriptedModel()) as rt:
            create_ms = await create(rt, ws)
            stored = await stored_session(rt, ws, 200)
            load_ms, load_open_ms = await load(rt, stored)
        overhead_ms = await turn_overhead(settings, ws, iterations)
        fifty_ms, fifty_ratio = await fifty(settings, ws, latency_ms / 1000)
    out: dict[str, Any] = {
        "create_ms": create_ms,
        "load_ms": load_ms,
        "load_open_ms": load_open_ms,
        "turn_overhead_ms": overhead_ms,
        "iterations": iterations,
        "fifty_wall_ms": fifty_ms,
        "latency_ms": latency_ms,
        "fifty_ratio": fifty_ratio,
    }
    out["target_ratio"] = {k: round(out[k] / target, 3) for k, target in TARGETS.items()}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--iterations", type=int, default=50)
    args = parser.parse_args()
    result = anyio.run(main, args.latency_ms, args.iterations)
    sys.stdout.write(json.dumps(result) + "\n")
