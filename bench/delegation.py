"""Delegation fan-out and the agent loop's own overhead, against the fake provider.

Two fake providers run in their own processes on 127.0.0.1: one answering every request
after a fixed latency (``--latency-ms``, default 200), one at once.

Fan-out: a parent turn calls ``delegate_task`` with 1, 4 and 16 tasks
(``delegation.max_concurrency`` 4); each child makes one model call. The
``delegate_task`` call's wall time is compared with the ideal, rounds × latency (rounds
= ceil(children / concurrency)), as ``ratio``.

Loop overhead: a turn of ``--iterations`` model calls, each answered with a ``todo``
tool call, on the fast fake. A recording model interface keeps every request the loop
sent; the same requests are then streamed through the bare router. The difference per
iteration is what the loop adds: events, tool dispatch, SQLite appends (each one a
``BEGIN IMMEDIATE`` transaction in a worker thread), request building.

    python3 -m uv run --frozen python bench/delegation.py [--latency-ms 200] [--iterations 50]

Prints JSON lines; the last is ``{"fanout_ratio": {...}, "loop_overhead_ms": ...}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

# Run as ``python bench/delegation.py``, this directory heads sys.path and its tools.py
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402
import httpx2  # noqa: E402

from hermes_mcp.agent import ToolCallEnd, ToolCallStart  # noqa: E402
from hermes_mcp.agent.model import ModelStream  # noqa: E402
from hermes_mcp.agent.session import Session  # noqa: E402
from hermes_mcp.config import AgentSection, DelegationSection, load_settings  # noqa: E402
from hermes_mcp.llm.router import Router  # noqa: E402
from hermes_mcp.llm.types import ChatRequest  # noqa: E402
from hermes_mcp.llm.walk import AttemptObserver  # noqa: E402
from hermes_mcp.runtime import Runtime, open_runtime  # noqa: E402

KEY = "sk-bench-0000000000000000000000"
CONCURRENCY = 4


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def start_fake(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hermes_mcp.testing.fake_provider",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["url"]


def write_config(home: Path, slow_url: str, fast_url: str) -> None:
    (home / "config.toml").write_text(
        f"""
[model]
default = "slow:bench-model"

[providers.slow]
wire = "openai"
base_url = "{slow_url}/v1"
credentials = ["env:HERMES_BENCH_KEY"]

[providers.fast]
wire = "openai"
base_url = "{fast_url}/v1"
credentials = ["env:HERMES_BENCH_KEY"]
"""
    )


async def script(client: httpx2.AsyncClient, url: str, steps: list[dict[str, Any]]) -> None:
    response = await client.post(f"{url}/_fake/script", json={"*": steps})
    response.raise_for_status()


def tool_reply(name: str, call_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "reply",
        "tool_calls": [{"id": call_id, "name": name, "arguments": arguments}],
    }


class Recording:
    """The runtime's router (set once it is open), keeping every request the loop sends."""

    def __init__(self) -> None:
        self.router: Router | None = None
        self.requests: list[ChatRequest] = []

    @asynccontextmanager
    async def stream(
        self,
        request: ChatRequest,
        *,
        model: str | None = None,
        on_attempt: AttemptObserver | None = None,
    ) -> AsyncIterator[ModelStream]:
        self.requests.append(request)
        assert self.router is not None
        async with self.router.stream(request, model=model, on_attempt=on_attempt) as events:
            yield events


async def fan_out(
    rt: Runtime,
    workspace: Path,
    client: httpx2.AsyncClient,
    url: str,
    children: int,
    latency_s: float,
) -> dict[str, Any]:
    tasks = [{"goal": f"say hello, child {i}"} for i in range(children)]
    await script(client, url, [tool_reply("delegate_task", "d1", {"tasks": tasks})])
    started = ended = 0.0
    session = await rt.create_session(workspace, mode="auto", toolsets=["planning", "delegation"])
    async with session.turn(f"fan out to {children}") as turn:
        async for event in turn:
            if isinstance(event, ToolCallStart):
                started = time.perf_counter()
            elif isinstance(event, ToolCallEnd):
                ended = time.perf_counter()
    assert turn.outcome is not None and turn.outcome.stop_reason == "end_turn", turn.outcome
    await session.close()
    rounds = math.ceil(children / CONCURRENCY)
    wall = ended - started
    return {
        "measure": "fanout",
        "children": children,
        "concurrency": CONCURRENCY,
        "latency_ms": round(latency_s * 1000),
        "rounds": rounds,
        "wall_s": round(wall, 4),
        "ideal_s": round(rounds * latency_s, 4),
        "ratio": round(wall / (rounds * latency_s), 3),
    }


async def loop_overhead(
    session: Session, recording: Recording, client: httpx2.AsyncClient, url: str, iterations: int
) -> dict[str, Any]:
    steps = [tool_reply("todo", f"t{i}", {}) for i in range(iterations)]
    await script(client, url, steps)
    recording.requests.clear()
    started = time.perf_counter()
    async with session.turn("plan, repeatedly") as turn:
        async for _ in turn:
            pass
    turn_s = time.perf_counter() - started
    assert turn.outcome is not None and turn.outcome.iterations == iterations + 1
    sent = list(recording.requests)
    await script(client, url, steps)
    started = time.perf_counter()
    assert recording.router is not None
    for request in sent:
        async with recording.router.stream(request, model="fast:bench-model") as events:
            async for _ in events:
                pass
    router_s = time.perf_counter() - started
    per = len(sent)
    return {
        "measure": "loop_overhead",
        "iterations": per,
        "iteration_ms": round(turn_s / per * 1000, 3),
        "router_ms": round(router_s / per * 1000, 3),
        "loop_overhead_ms": round((turn_s - router_s) / per * 1000, 3),
    }


async def run(latency_ms: float, iterations: int, repeats: int) -> None:
    slow, slow_url = start_fake(latency_ms)
    fast, fast_url = start_fake(0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            workspace = Path(tmp) / "ws"
            home.mkdir()
            workspace.mkdir()
            write_config(home, slow_url, fast_url)
            os.environ["HERMES_BENCH_KEY"] = KEY
            settings = load_settings(env={"HERMES_MCP_HOME": str(home)})
            config = settings.config.model_copy(
                update={
                    "agent": AgentSection(max_iterations=iterations + 10, toolsets=["planning"]),
                    "delegation": DelegationSection(max_concurrency=CONCURRENCY, max_depth=1),
                }
            )
            recording = Recording()
            async with (
                open_runtime(dataclasses.replace(settings, config=config), model=recording) as rt,
                httpx2.AsyncClient() as client,
            ):
                recording.router = rt.router
                looping = await rt.create_session(workspace, mode="auto", model="fast:bench-model")
                await loop_overhead(looping, recording, client, fast_url, 10)  # warm up
                ratios: dict[str, float] = {}
                for children in (1, 4, 16):
                    results = [
                        await fan_out(rt, workspace, client, slow_url, children, latency_ms / 1000)
                        for _ in range(repeats)
                    ]
                    best = min(results, key=lambda r: r["ratio"])
                    emit(best)
                    ratios[str(children)] = best["ratio"]
                overheads = []
                for _ in range(repeats):
                    measured = await loop_overhead(looping, recording, client, fast_url, iterations)
                    emit(measured)
                    overheads.append(measured["loop_overhead_ms"])
                emit(
                    {
                        "fanout_ratio": ratios,
                        "loop_overhead_ms": round(statistics.median(overheads), 3),
                    }
                )
    finally:
        for proc in (slow, fast):
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=200.0, help="the slow fake's latency")
    parser.add_argument("--iterations", type=int, default=50, help="model calls per loop turn")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement")
    args = parser.parse_args()
    anyio.run(run, args.latency_ms, args.iterations, args.repeats)


if __name__ == "__main__":
    main()
