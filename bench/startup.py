"""Start-up, memory and round trips of ``hermes-mcp serve --protocol mcp``, beside a
fixture-less ``mcp`` 2.3.0 server with one tool (the floor), measured in the same run.

For each server, ``--runs`` times (median reported): the time from process start to the
``initialize`` response, from process start to the ``server/discover`` response (a
fresh process each), and the resident memory after ``tools/list``; then sequential
``tools/call`` round trips per second for ``read_file`` (the floor's one tool reads a
file too). Raw JSON-RPC lines over pipes, the same client code for both servers.

Prints one JSON object per measurement and a last line with the ratios:
``{"initialize_ratio", "discover_ratio", "rss_extra_mb", "calls_ratio"}`` (targets:
≤ 1.25, ≤ 1.25, ≤ 20, ≥ 0.7).

    python3 -m uv run --frozen python bench/startup.py [--runs 10] [--calls 300]
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


def measure(
    name: str, command: list[str], env: dict[str, str], target: Path, args: Any
) -> dict[str, Any]:
    init_s, discover_s, rss = [], [], []
    for _ in range(args.runs):
        proc = Proc(command, env)
        init_s.append(handshake(proc))
        proc.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        proc.answer(1)
        rss.append(proc.rss_mb())
        proc.close()

        proc = Proc(command, env)
        proc.send(discover())
        proc.answer(0)
        discover_s.append(time.perf_counter() - proc.started)
        proc.close()

    proc = Proc(command, env)
    handshake(proc)
    call = {"name": "read_file", "arguments": {"path": str(target)}}
    for i in range(20):  # warm up (and let what loads after initialize finish)
        proc.send({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call", "params": call})
        proc.answer(100 + i)
    t0 = time.perf_counter()
    for i in range(args.calls):
        proc.send({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call", "params": call})
        proc.answer(1000 + i)
    calls_per_s = args.calls / (time.perf_counter() - t0)
    proc.close()
    row = {
        "server": name,
        "initialize_s": round(statistics.median(init_s), 4),
        "discover_s": round(statistics.median(discover_s), 4),
        "rss_mb": round(statistics.median(rss), 1),
        "calls_per_s": round(calls_per_s, 1),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300)
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
        floor = measure("floor", [sys.executable, str(floor_script)], env, target, args)
        hermes_row = measure("hermes-mcp", ours, env, target, args)
    print(
        json.dumps(
            {
                "initialize_ratio": round(hermes_row["initialize_s"] / floor["initialize_s"], 3),
                "discover_ratio": round(hermes_row["discover_s"] / floor["discover_s"], 3),
                "rss_extra_mb": round(hermes_row["rss_mb"] - floor["rss_mb"], 1),
                "calls_ratio": round(hermes_row["calls_per_s"] / floor["calls_per_s"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
