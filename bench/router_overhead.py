"""Router overhead: the router against the same requests sent raw, in the same run.

The fake provider runs in its own process on 127.0.0.1. For each wire format (OpenAI,
Anthropic, Gemini) the benchmark sends N sequential requests raw (the provider's own HTTP
client, the same payload and headers, the body parsed) and through ``Router.complete``,
then the same as streams to their first token, raw and through ``Router.stream``; then
50 concurrent plain requests, raw and through the router, and raw over httpx2's own
transport for comparison. It prints one JSON line per measurement.
The last line holds ``overhead_ratio`` (router median / raw median, sequential, plain
OpenAI) and ``router_rps`` (50 concurrent, plain OpenAI).

    python3 -m uv run --frozen python bench/router_overhead.py [--n 400] [--concurrency 50]
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
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx2

from hermes_mcp.config import load_settings
from hermes_mcp.credentials import Credential
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.http import make_client
from hermes_mcp.llm.provider import Provider
from hermes_mcp.llm.router import Router
from hermes_mcp.llm.types import ChatRequest, Message
from hermes_mcp.state import open_database

KEY = "sk-bench-0000000000000000000000"
REQUEST = ChatRequest((Message.system("You are terse."), Message.user("Say hello.")))


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes_mcp.testing.fake_provider", "--port", "0"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, json.loads(line)["url"]


WIRES = {
    "openai": ("fake", "bench-model"),
    "anthropic": ("claude", "claude-sonnet-4"),
    "gemini": ("gem", "gemini-2.5-pro"),
}


def write_config(home: Path, url: str) -> None:
    (home / "config.toml").write_text(
        f"""
[model]
default = "fake:bench-model"

[providers.fake]
wire = "openai"
base_url = "{url}/v1"
credentials = ["env:HERMES_BENCH_KEY"]

[providers.claude]
wire = "anthropic"
base_url = "{url}"
credentials = ["env:HERMES_BENCH_KEY"]

[providers.gem]
wire = "gemini"
base_url = "{url}"
credentials = ["env:HERMES_BENCH_KEY"]
"""
    )


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def concurrent_rps(fn: Callable[[], Awaitable[object]], total: int, width: int) -> float:
    limiter = anyio.Semaphore(width)

    async def one() -> None:
        async with limiter:
            await fn()

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(total):
            tg.start_soon(one)
    return total / (time.perf_counter() - started)


async def raw_plain(
    provider: Provider,
    cred: Credential,
    client: httpx2.AsyncClient | None = None,
    model: str = "bench-model",
) -> None:
    """The same request the router sends, by the same client, with no router around it."""
    client = client or provider._http()
    headers, _ = await provider._headers(cred, "application/json")
    payload = json.dumps(provider.wire.body(REQUEST, model)).encode()
    response = await client.post(
        provider.wire.url(provider.endpoint, model), content=payload, headers=headers
    )
    provider.wire.parse(json.loads(response.content))


async def raw_stream_ttft(provider: Provider, cred: Credential, model: str) -> None:
    stream = await provider.open_stream(REQUEST, model, cred, time.monotonic())
    try:
        while True:
            deltas = await stream.next()
            if deltas is None or deltas:
                break
    finally:
        await stream.aclose()


async def routed_stream_ttft(router: Router, route: str) -> None:
    async with router.stream(REQUEST, model=route) as events:
        async for _ in events:
            break


def summary(name: str, samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "measure": name,
        "n": len(samples),
        "median_ms": round(statistics.median(ordered), 4),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1], 4),
    }


async def run(n: int, width: int) -> None:
    proc, url = start_fake()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            write_config(home, url)
            os.environ["HERMES_BENCH_KEY"] = KEY
            settings = load_settings(env={"HERMES_MCP_HOME": str(home)})
            db = open_database(settings.db_path)
            async with Router(settings, CredentialStateStore(db)) as router:
                provider = router.providers["fake"]
                cred = provider.pool.credentials[0]
                # warm up connections and code paths
                for _ in range(50):
                    await raw_plain(provider, cred)
                    await router.complete(REQUEST)
                plain_medians: dict[str, tuple[float, float]] = {}
                for wire, (name, model) in WIRES.items():
                    prov = router.providers[name]
                    pcred = prov.pool.credentials[0]
                    route = f"{name}:{model}"
                    raw, routed = [], []
                    raw_s, routed_s = [], []
                    for _ in range(5):  # interleave rounds so drift hits both alike
                        raw += await timed(partial(raw_plain, prov, pcred, None, model), n // 5)
                        routed += await timed(
                            partial(router.complete, REQUEST, model=route), n // 5
                        )
                        raw_s += await timed(partial(raw_stream_ttft, prov, pcred, model), n // 5)
                        routed_s += await timed(partial(routed_stream_ttft, router, route), n // 5)
                    for label, samples in (
                        ("plain_raw", raw),
                        ("plain_router", routed),
                        ("stream_ttft_raw", raw_s),
                        ("stream_ttft_router", routed_s),
                    ):
                        emit(summary(f"{wire}_{label}", samples))
                    plain = statistics.median(routed) / statistics.median(raw)
                    ttft = statistics.median(routed_s) / statistics.median(raw_s)
                    emit(
                        {
                            "measure": f"{wire}_router_over_raw",
                            "plain": round(plain, 3),
                            "stream_ttft": round(ttft, 3),
                        }
                    )
                    plain_medians[wire] = (statistics.median(routed), statistics.median(raw))
                total = max(n, width * 20)
                raw_rps = router_rps = 0.0
                for _ in range(2):  # best of two rounds each, interleaved
                    raw_rps = max(
                        raw_rps,
                        await concurrent_rps(lambda: raw_plain(provider, cred), total, width),
                    )
                    router_rps = max(
                        router_rps,
                        await concurrent_rps(lambda: router.complete(REQUEST), total, width),
                    )
                emit(
                    {
                        "measure": "openai_plain_concurrent",
                        "concurrency": width,
                        "requests": total,
                        "raw_rps": round(raw_rps),
                        "router_rps": round(router_rps),
                    }
                )
                native = make_client(
                    connect_timeout_s=10, read_timeout_s=30, transport_name="httpx"
                )
                async with native:
                    native_rps = await concurrent_rps(
                        lambda: raw_plain(provider, cred, native), total, width
                    )
                emit(
                    {
                        "measure": "transport_raw_concurrent",
                        "concurrency": width,
                        "httpx2_native_rps": round(native_rps),
                        "httpx2_over_aiohttp_rps": round(raw_rps),
                    }
                )
                emit(
                    {
                        "overhead_ratio": round(
                            plain_medians["openai"][0] / plain_medians["openai"][1], 3
                        ),
                        "router_rps": round(router_rps),
                        "transport": os.environ.get("HERMES_MCP_HTTP_TRANSPORT", "aiohttp"),
                    }
                )
            db.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400, help="sequential requests per side")
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    anyio.run(run, args.n, args.concurrency)


if __name__ == "__main__":
    main()
