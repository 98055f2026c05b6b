"""The ACP edge against a bare ``agent-client-protocol`` agent, in the same run.

Both agents are spawned by the SDK's own client (``acp.spawn_agent_process``) over real
stdio. The bare agent (``bench/acp_bare.py``) is the floor: the SDK and Python, an
``initialize`` and a ``session/new`` that do nothing.

- ``initialize``: from spawning the process to its answer (median of ``--runs``), and
  ``session/new`` right after it; ``init_ratio`` is Hermes over the floor.
- First chunk: time from sending ``session/prompt`` to the first
  ``agent_message_chunk``, against the fake provider (in its own process, answering at
  once), beside the fake's own time to first token for the same streamed request sent
  raw; ``first_chunk_overhead_ms`` is the difference of the medians.
- Resident memory (VmRSS) of the agent after one prompt, and after 20 sessions have each
  run a prompt concurrently.

    python3 -m uv run --frozen python bench/acp.py [--runs 10]

Prints JSON lines; the last is the summary with the ratios and the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import acp  # noqa: E402
import anyio  # noqa: E402
import httpx2  # noqa: E402
from acp.schema import TextContentBlock  # noqa: E402

KEY = "sk-bench-0000000000000000000000"
HERMES_ACP = str(Path(sys.executable).parent / "hermes-acp")
BARE = [sys.executable, str(_HERE / "acp_bare.py")]


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Client(acp.Client):
    def __init__(self) -> None:
        self.first_chunk: dict[str, float] = {}

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if update.session_update == "agent_message_chunk":
            self.first_chunk.setdefault(session_id, time.perf_counter())

    async def request_permission(self, *args: Any, **kwargs: Any) -> Any:
        raise acp.RequestError.method_not_found("session/request_permission")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes_mcp.testing.fake_provider", "--port", "0"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["url"]


def write_config(home: Path, url: str) -> None:
    (home / "config.toml").write_text(
        f"""
[model]
default = "fake:bench-model"

[providers.fake]
wire = "openai"
base_url = "{url}/v1"
credentials = ["env:HERMES_BENCH_KEY"]

[policy]
mode = "auto"
"""
    )


def prepare(tmp: Path, url: str) -> tuple[dict[str, str], Path]:
    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    write_config(home, url)
    return {**os.environ, "HERMES_MCP_HOME": str(home), "HERMES_BENCH_KEY": KEY}, work


async def startup(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Seconds from spawn to the ``initialize`` answer, then for ``session/new``."""
    started = time.perf_counter()
    async with acp.spawn_agent_process(Client(), cmd[0], *cmd[1:], env=env, cwd=cwd) as (conn, _):
        await conn.initialize(protocol_version=1)
        initialized = time.perf_counter()
        await conn.new_session(cwd=cwd)
        created = time.perf_counter()
    return initialized - started, created - initialized


async def fake_ttft(url: str, runs: int) -> float:
    body = {
        "model": "bench-model",
        "stream": True,
        "messages": [{"role": "user", "content": "hello"}],
    }
    times = []
    async with httpx2.AsyncClient() as client:
        for _ in range(runs + 1):
            started = time.perf_counter()
            async with client.stream(
                "POST",
                f"{url}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {KEY}"},
            ) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:") and '"content"' in line:
                        times.append(time.perf_counter() - started)
                        break
    return statistics.median(times[1:])


def text(value: str) -> list[TextContentBlock]:
    return [TextContentBlock(type="text", text=value)]


async def prompts(env: dict[str, str], cwd: str, runs: int) -> dict[str, Any]:
    client = Client()
    async with acp.spawn_agent_process(client, HERMES_ACP, env=env, cwd=cwd) as (conn, proc):
        await conn.initialize(protocol_version=1)
        sid = (await conn.new_session(cwd=cwd)).session_id
        await conn.prompt(session_id=sid, prompt=text("warm up"))
        after_one = rss_mb(proc.pid)
        firsts = []
        for i in range(runs):
            client.first_chunk.pop(sid, None)
            sent = time.perf_counter()
            await conn.prompt(session_id=sid, prompt=text(f"prompt {i}"))
            firsts.append(client.first_chunk[sid] - sent)
        sessions = [(await conn.new_session(cwd=cwd)).session_id for _ in range(20)]
        async with anyio.create_task_group() as tg:
            for s in sessions:
                tg.start_soon(lambda s=s: conn.prompt(session_id=s, prompt=text("at once")))
        after_twenty = rss_mb(proc.pid)
    return {
        "first_chunk_ms": statistics.median(firsts) * 1000,
        "rss_after_prompt_mb": round(after_one, 1),
        "rss_after_20_sessions_mb": round(after_twenty, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    fake, url = start_fake()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env, work = prepare(Path(tmp), url)
            results: dict[str, list[tuple[float, float]]] = {"bare": [], "hermes": []}
            for _ in range(args.runs):  # interleaved: both see the same machine load
                results["bare"].append(await startup(BARE, env, str(work)))
                results["hermes"].append(await startup([HERMES_ACP], env, str(work)))
            medians = {}
            for name, runs in results.items():
                medians[name] = {
                    "initialize_s": round(statistics.median(r[0] for r in runs), 3),
                    "session_new_ms": round(statistics.median(r[1] for r in runs) * 1000, 2),
                }
                emit({"agent": name, **medians[name]})
            ttft = await fake_ttft(url, args.runs)
            live = await prompts(env, str(work), args.runs)
            emit({"fake_ttft_ms": round(ttft * 1000, 2), **live})
            overhead = live["first_chunk_ms"] - ttft * 1000
            emit(
                {
                    "init_ratio": round(
                        medians["hermes"]["initialize_s"] / medians["bare"]["initialize_s"], 3
                    ),
                    "session_new_ms": medians["hermes"]["session_new_ms"],
                    "first_chunk_overhead_ms": round(overhead, 2),
                    "rss_after_prompt_mb": live["rss_after_prompt_mb"],
                    "rss_after_20_sessions_mb": live["rss_after_20_sessions_mb"],
                    "targets": {
                        "init_ratio": 1.25,
                        "session_new_ms": 20,
                        "first_chunk_overhead_ms": 5,
                        "rss_after_prompt_mb": 90,
                    },
                }
            )
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    anyio.run(main)
