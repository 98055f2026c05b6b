"""Start-up, memory and round trips of ``hermes-mcp serve --protocol mcp``, beside a
fixture-less ``mcp`` 2.3.0 server with one tool (the floor), measured in the same run.

For each server, ``--runs`` times, alternating between the two (medians reported): the
time from process start to the ``initialize`` response, from process start to the
``server/discover`` response (a fresh process each), and the resident memory after
``tools/list`` (and after a first ``tools/call``); then sequential ``tools/call`` round
trips per second for ``read_file`` (the floor's one tool reads a file too), in
``--rounds`` alternating rounds. Raw
JSON-RPC lines over pipes, the same client code for both servers.

Prints one JSON object per server and a last line with the ratios:
``{"initialize_ratio", "discover_ratio", "rss_extra_mb", "rss_extra_after_call_mb",
"calls_ratio"}`` (targets: ≤ 1.25, ≤ 1.25, ≤ 20 after ``tools/list``, ≥ 0.7).

    python3 -m uv run --frozen python bench/startup.py [--runs 10] [--calls 200] [--rounds 5]
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

FLOOR = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("floor")


@server.tool()
def read_file(path: str) -> str:
    with open(path) as f:
        return f.read()


server.run()
"""

HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"


def initialize(request_id: int = 0) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": HANDSHAKE,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    }


def discover(request_id: int = 0) -> dict[str, Any]:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "server/discover",
        "params": {"_meta": meta},
    }


class Proc:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.p = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("BENCH_STDERR") else subprocess.DEVNULL,
            env=env,
        )

    def send(self, message: dict[str, Any]) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(message).encode() + b"\n")
        self.p.stdin.flush()

    def answer(self, request_id: int) -> dict[str, Any]:
        assert self.p.stdout is not None
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("the server closed stdout")
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"error answer: {message['error']}")
                return dict(message)

    def rss_mb(self) -> float:
        for row in Path(f"/proc/{self.p.pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def handshake(proc: Proc) -> float:
    proc.send(initialize())
    proc.answer(0)
    elapsed = time.perf_counter() - proc.started
    proc.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return elapsed


def startup(
    command: list[str], env: dict[str, str], target: Path
) -> tuple[float, float, float, float]:
    """One fresh process to ``initialize`` (its RSS after ``tools/list``, and after a
    first ``tools/call``), one to ``server/discover``."""
    proc = Proc(command, env)
    init_s = handshake(proc)
    proc.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    proc.answer(1)
    rss = proc.rss_mb()
    call = {"name": "read_file", "arguments": {"path": str(target)}}
    proc.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
    proc.answer(2)
    rss_called = proc.rss_mb()
    proc.close()
    proc = Proc(command, env)
    proc.send(discover())
    proc.answer(0)
    discover_s = time.perf_counter() - proc.started
    proc.close()
    return init_s, discover_s, rss, rss_called


def calls_per_s(proc: Proc, target: Path, n: int, first_id: int) -> float:
    call = {"name": "read_file", "arguments": {"path": str(target)}}
    t0 = time.perf_counter()
    for i in range(n):
        proc.send({"jsonrpc": "2.0", "id": first_id + i, "method": "tools/call", "params": call})
        proc.answer(first_id + i)
    return n / (time.perf_counter() - t0)


def measure(
    servers: dict[str, list[str]], env: dict[str, str], target: Path, args: Any
) -> dict[str, dict[str, Any]]:
    """Runs alternate between the servers, so the machine's load falls on both alike."""
    starts: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in servers}
    for _ in range(args.runs):
        for name, command in servers.items():
            starts[name].append(startup(command, env, target))
    procs = {name: Proc(command, env) for name, command in servers.items()}
    rates: dict[str, list[float]] = {name: [] for name in servers}
    for proc in procs.values():
        handshake(proc)
        calls_per_s(proc, target, 30, 100)  # warm up (and let what loads after initialize finish)
    for round_ in range(args.rounds):
        for name, proc in procs.items():
            rates[name].append(calls_per_s(proc, target, args.calls, 1000 + round_ * args.calls))
    for proc in procs.values():
        proc.close()
    rows = {}
    for name in servers:
        init_s, discover_s, rss, rss_called = zip(*starts[name], strict=True)
        rows[name] = {
            "server": name,
            "initialize_s": round(statistics.median(init_s), 4),
            "discover_s": round(statistics.median(discover_s), 4),
            "rss_mb": round(statistics.median(rss), 1),
            "rss_after_call_mb": round(statistics.median(rss_called), 1),
            "calls_per_s": round(statistics.median(rates[name]), 1),
        }
        print(json.dumps(rows[name]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        (base / "ws").mkdir()
        target = base / "ws" / "hello.py"
        target.write_text('print("hello")\n' * 20)
        floor_script = base / "floor.py"
        floor_script.write_text(FLOOR)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERMES_")}
        env["HERMES_MCP_HOME"] = str(base / "home")
        hermes = str(Path(sys.executable).parent / "hermes-mcp")
        ours = [hermes, "serve", "--protocol", "mcp", "--workspace", str(base / "ws")]
        rows = measure(
            {"floor": [sys.executable, str(floor_script)], "hermes-mcp": ours}, env, target, args
        )
        floor, hermes_row = rows["floor"], rows["hermes-mcp"]
    print(
        json.dumps(
            {
                "initialize_ratio": round(hermes_row["initialize_s"] / floor["initialize_s"], 3),
                "discover_ratio": round(hermes_row["discover_s"] / floor["discover_s"], 3),
                "rss_extra_mb": round(hermes_row["rss_mb"] - floor["rss_mb"], 1),
                "rss_extra_after_call_mb": round(
                    hermes_row["rss_after_call_mb"] - floor["rss_after_call_mb"], 1
                ),
                "calls_ratio": round(hermes_row["calls_per_s"] / floor["calls_per_s"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
