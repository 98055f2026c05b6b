"""The first failover of a process against a warm one, in the same process.

Each round runs in a fresh interpreter (so "first" really is the process's first): it
builds a router over a primary that answers 429 and a fallback that answers, then times
the first request (the primary refuses, its cooldown is written, the fallback's HTTP
client is built and answers) and then the same walk again over a second, identical
router with its own database (every one-time cost already paid). Both providers are
plain HTTP on 127.0.0.1. It prints one JSON line per round and a last line with the
medians and ``first_over_warm_ms`` (the target is under 10 ms).

    python3 -m uv run --frozen python bench/first_failover.py [--rounds 7]
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
import urllib.request
from pathlib import Path

KEY = "sk-bench-primary-000000000000000"
FALLBACK = "sk-bench-fallback-0000000000000"

ROUND = r"""
import json, os, sys, time
from pathlib import Path
import anyio
from hermes_mcp.config import load_settings
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.router import Router
from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.state import open_database

async def walk(home: Path) -> float:
    settings = load_settings(env={"HERMES_MCP_HOME": str(home)})
    db = open_database(settings.db_path)
    try:
        async with Router(settings, CredentialStateStore(db)) as router:
            started = time.perf_counter()
            result = await router.complete(ChatRequest.of("hi"))
            elapsed = (time.perf_counter() - started) * 1000
            assert result.provider == "backup", result.provider
            return elapsed
    finally:
        db.close()

async def main() -> None:
    first = await walk(Path(sys.argv[1]))
    warm = await walk(Path(sys.argv[2]))
    sys.stdout.write(json.dumps({"first_ms": first, "warm_ms": warm}) + "\n")

anyio.run(main)
"""


def write_home(home: Path, url: str) -> None:
    home.mkdir()
    (home / "config.toml").write_text(
        f"""
[model]
default = "primary:bench-model"
fallbacks = ["backup:bench-model"]

[providers.primary]
wire = "openai"
base_url = "{url}/v1"
credentials = ["env:HERMES_BENCH_PRIMARY"]

[providers.backup]
wire = "openai"
base_url = "{url}/v1"
credentials = ["env:HERMES_BENCH_FALLBACK"]
"""
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    fake = subprocess.Popen(
        [sys.executable, "-m", "hermes_mcp.testing.fake_provider", "--port", "0"],
        stdout=subprocess.PIPE,
    )
    try:
        assert fake.stdout is not None
        url = json.loads(fake.stdout.readline())["url"]
        script = json.dumps({KEY: {"kind": "rate_limited", "retry_after": 3600}}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{url}/_fake/script", data=script))
        env = {**os.environ, "HERMES_BENCH_PRIMARY": KEY, "HERMES_BENCH_FALLBACK": FALLBACK}
        rounds = []
        for i in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                first, warm = Path(tmp) / "first", Path(tmp) / "warm"
                write_home(first, url)
                write_home(warm, url)
                out = subprocess.run(
                    [sys.executable, "-c", ROUND, str(first), str(warm)],
                    env=env,
                    capture_output=True,
                    check=True,
                )
                row = json.loads(out.stdout)
                rounds.append(row)
                sys.stdout.write(json.dumps({"round": i, **row}) + "\n")
        first_ms = statistics.median(r["first_ms"] for r in rounds)
        warm_ms = statistics.median(r["warm_ms"] for r in rounds)
        summary = {
            "first_ms": round(first_ms, 2),
            "warm_ms": round(warm_ms, 2),
            "first_over_warm_ms": round(first_ms - warm_ms, 2),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        sys.stdout.write(json.dumps(summary) + "\n")
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    main()
