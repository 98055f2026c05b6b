"""A burst of ``agent_run`` calls against ``hermes-mcp serve --protocol mcp``: past
``[mcp] max_jobs`` (16) they wait in a FIFO line instead of being refused.

One server process (the loopback fake provider as its model, answering after
``--delay`` seconds, as a model would), raw JSON-RPC lines over pipes: every round sends
a burst of ``--burst`` ``agent_run`` calls at once (each on a new session) and a burst of
exactly ``max_jobs`` (the baseline: nobody waits), alternating, ``--rounds`` times.
Per burst: the calls answered, refused (``isError`` or a JSON-RPC error) and the wall
time to the last answer. Prints one JSON line per burst size (medians) and a last line
with ``refused`` (target 0) and ``per_call_ratio``: the burst's wall time per call over
the baseline's (≤ 1: the line costs nothing beyond waiting for a slot).

    python3 -m uv run --frozen python bench/agent_burst.py [--burst 50] [--rounds 3]
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

from hermes_mcp.testing import FakeProvider, reply, slow  # noqa: E402

KEY = "sk-bench-burst-0123456789abcdef"
MAX_JOBS = 16


class Server:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("BENCH_STDERR") else subprocess.DEVNULL,
            env=env,
        )
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(message).encode() + b"\n")
        self.p.stdin.flush()

    def answers(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        assert self.p.stdout is not None
        got: dict[int, dict[str, Any]] = {}
        while len(got) < len(ids):
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("the server closed stdout")
            message = json.loads(line)
            if message.get("id") in ids and "method" not in message:
                got[message["id"]] = message
        return got

    def request(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def burst(server: Server, n: int) -> tuple[int, int, float]:
    """``n`` agent_run calls at once: (answered, refused, seconds to the last answer)."""
    started = time.perf_counter()
    ids = {
        server.request("tools/call", {"name": "agent_run", "arguments": {"prompt": f"task {i}"}})
        for i in range(n)
    }
    answers = server.answers(ids)
    elapsed = time.perf_counter() - started
    refused = sum(1 for a in answers.values() if "error" in a or a["result"].get("isError"))
    return len(answers) - refused, refused, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.2, help="the model's answer time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeProvider() as fake:
        fake.set_default(KEY, slow(args.delay, reply("done")))
        base = Path(tmp)
        (base / "home").mkdir()
        (base / "ws").mkdir()
        (base / "home" / "config.toml").write_text(
            '[model]\ndefault = "fake:gpt-4o"\n'
            f'[providers.fake]\nwire = "openai"\nbase_url = "{fake.openai_base_url}"\n'
            'credentials = ["env:BENCH_BURST_KEY"]\n'
            '[providers.fake.models."gpt-4o"]\ninput_per_mtok = 1.0\noutput_per_mtok = 1.0\n'
            f'[policy]\nmode = "auto"\n[mcp]\nmax_jobs = {MAX_JOBS}\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
        env.update(HERMES_MCP_HOME=str(base / "home"), BENCH_BURST_KEY=KEY)
        hermes = str(Path(sys.executable).parent / "hermes-mcp")
        server = Server(
            [hermes, "serve", "--protocol", "mcp", "--workspace", str(base / "ws")], env
        )
        init = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        }
        server.answers({server.request("initialize", init)})
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        burst(server, 2)  # warm up: the runtime opens at the first call
        rows: dict[int, list[tuple[int, int, float]]] = {args.burst: [], MAX_JOBS: []}
        for _ in range(args.rounds):
            for n in (args.burst, MAX_JOBS):
                rows[n].append(burst(server, n))
        server.close()
    medians = {}
    for n, runs in rows.items():
        answered, refused, seconds = zip(*runs, strict=True)
        medians[n] = statistics.median(seconds)
        print(
            json.dumps(
                {
                    "burst": n,
                    "answered": min(answered),
                    "refused": max(refused),
                    "wall_s": round(medians[n], 3),
                    "per_call_ms": round(medians[n] / n * 1000, 1),
                }
            ),
            flush=True,
        )
    total_refused = sum(r for runs in rows.values() for _, r, _ in runs)
    ratio = (medians[args.burst] / args.burst) / (medians[MAX_JOBS] / MAX_JOBS)
    print(json.dumps({"refused": total_refused, "per_call_ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
