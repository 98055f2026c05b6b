"""Start-up, memory and round trips of ``hermes-mcp serve --protocol mcp``, beside a
fixture-less ``mcp`` 2.3.0 server with one tool (the floor), measured in the same run.

For each server, ``--runs`` times, alternating between the two (medians reported): the
time from process start to the ``initialize`` response, from process start to the
``tools/list`` response (``initialize``, ``notifications/initialized``, ``tools/list``
sent as a host sends them: what a host waits for before it can show the tools; the
handshake is answered before the tools load, so ``initialize`` alone hides their cost),
from process start to the ``server/discover`` response (a fresh process each), and the
resident memory after ``tools/list`` (and after a first ``tools/call``); then sequential
``tools/call`` round
trips per second for ``read_file`` (the floor's one tool reads a file too), in
``--rounds`` alternating rounds. Raw
JSON-RPC lines over pipes, the same client code for both servers.

Prints one JSON object per server and a last line with the ratios:
``{"initialize_ratio", "tools_list_ratio", "tools_list_cpu_ratio", "discover_ratio",
"rss_extra_mb", "rss_extra_after_call_mb", "calls_ratio"}`` (targets: ≤ 1.25, ≤ 1.25,
≤ 1.25, ≤ 1.25, ≤ 15 after ``tools/list``, ≥ 0.7). ``tools_list_cpu_ratio`` compares the
CPU time each process used up to its ``tools/list`` answer: on a shared, loaded machine
the wall times swing with everyone else's work, the CPU a start-up takes much less.

Then what ``serve`` with ``--protocol auto`` (the default) adds to the first answer
against the forced protocol, for MCP ``initialize`` and ``server/discover`` and ACP
``initialize``: ``auto_*_added_ms``, the median of ``--runs`` paired differences of
whole processes (at the mercy of the machine's load), and ``auto_*_detect_ms``, the
median of what each auto process logged itself (``serve.protocol``: from the first byte
of the first line to the hand-over to the edge). Target < 5 ms. ``bench/serve_auto.py``
times the detection alone against a plain read.

    python3 -m uv run --frozen python bench/startup.py [--runs 10] [--calls 200] [--rounds 5]
        [--skip-auto] [--hermes PATH]
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

    def cpu_s(self) -> float:
        """CPU time (user + system) the process has used so far: what start-up costs,
        much less at the mercy of the machine's load than the wall time."""
        fields = Path(f"/proc/{self.p.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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
) -> tuple[float, float, float, float, float]:
    """One fresh process to ``initialize`` and on to ``tools/list`` (its RSS after
    ``tools/list``, and after a first ``tools/call``), one to ``server/discover``."""
    proc = Proc(command, env)
    init_s = handshake(proc)
    proc.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    proc.answer(1)
    list_s = time.perf_counter() - proc.started
    list_cpu_s = proc.cpu_s()
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
    return init_s, list_s, list_cpu_s, discover_s, rss, rss_called


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
    starts: dict[str, list[tuple[float, float, float, float, float, float]]] = {
        name: [] for name in servers
    }
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
        init_s, list_s, list_cpu, discover_s, rss, rss_called = zip(*starts[name], strict=True)
        rows[name] = {
            "server": name,
            "initialize_s": round(statistics.median(init_s), 4),
            "tools_list_s": round(statistics.median(list_s), 4),
            "tools_list_cpu_s": round(statistics.median(list_cpu), 4),
            "discover_s": round(statistics.median(discover_s), 4),
            "rss_mb": round(statistics.median(rss), 1),
            "rss_after_call_mb": round(statistics.median(rss_called), 1),
            "calls_per_s": round(statistics.median(rates[name]), 1),
        }
        print(json.dumps(rows[name]), flush=True)
    return rows


ACP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": 1, "clientCapabilities": {}},
}


def first_response(
    command: list[str], env: dict[str, str], message: dict[str, Any]
) -> tuple[float, float | None]:
    """A fresh process, one request: the time to its answer, and the ``detect_ms`` that
    ``serve --protocol auto`` logged (``serve.protocol``: first byte to hand-over)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    proc.stdin.flush()
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the server closed stdout")
        if json.loads(line).get("id") == 0:
            break
    elapsed = time.perf_counter() - started
    _, err = proc.communicate(timeout=30)
    detect = None
    for row in err.decode(errors="replace").splitlines():
        if '"serve.protocol"' in row:
            detect = float(json.loads(row)["detect_ms"])
    return elapsed, detect


def auto_added(
    forced: list[str], auto: list[str], env: dict[str, str], message: dict[str, Any], runs: int
) -> tuple[float, float]:
    """What ``serve`` (``--protocol auto``) adds to the first answer against the forced
    protocol: the median of paired differences (the order alternating per pair, so that
    drift in the machine's load falls on both alike), and the median ``detect_ms`` the
    auto processes logged themselves."""
    diffs, detects = [], []
    for i in range(runs):
        pair = (forced, auto) if i % 2 == 0 else (auto, forced)
        a, _ = first_response(pair[0], env, message)
        b, _ = first_response(pair[1], env, message)
        forced_s, auto_s = (a, b) if i % 2 == 0 else (b, a)
        diffs.append(auto_s - forced_s)
    for _ in range(runs):
        _, detect = first_response(auto, env, message)
        assert detect is not None, "serve logged no serve.protocol event"
        detects.append(detect)
    return round(statistics.median(diffs) * 1000, 1), round(statistics.median(detects), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--skip-auto", action="store_true", help="leave out serve --protocol auto's cost"
    )
    parser.add_argument(
        "--hermes", metavar="PATH", help="the hermes-mcp to measure (another checkout's)"
    )
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
        hermes = args.hermes or str(Path(sys.executable).parent / "hermes-mcp")
        ours = [hermes, "serve", "--protocol", "mcp", "--workspace", str(base / "ws")]
        rows = measure(
            {"floor": [sys.executable, str(floor_script)], "hermes-mcp": ours}, env, target, args
        )
        floor, hermes_row = rows["floor"], rows["hermes-mcp"]
        auto = [hermes, "serve", "--workspace", str(base / "ws")]  # --protocol auto
        acp, acp_auto = [hermes, "serve", "--protocol", "acp"], [hermes, "serve"]
        added: dict[str, float] = {}
        for name, (forced, auto_cmd, message) in (
            {}
            if args.skip_auto
            else {
                "initialize": (ours, auto, initialize()),
                "discover": (ours, auto, discover()),
                "acp_initialize": (acp, acp_auto, ACP_INITIALIZE),
            }
        ).items():
            paired, detect = auto_added(forced, auto_cmd, env, message, args.runs)
            added[f"auto_{name}_added_ms"] = paired
            added[f"auto_{name}_detect_ms"] = detect
            print(json.dumps({"auto": name, "paired_added_ms": paired, "detect_ms": detect}))
    print(
        json.dumps(
            {
                "initialize_ratio": round(hermes_row["initialize_s"] / floor["initialize_s"], 3),
                "tools_list_ratio": round(hermes_row["tools_list_s"] / floor["tools_list_s"], 3),
                "tools_list_cpu_ratio": round(
                    hermes_row["tools_list_cpu_s"] / floor["tools_list_cpu_s"], 3
                ),
                "discover_ratio": round(hermes_row["discover_s"] / floor["discover_s"], 3),
                "rss_extra_mb": round(hermes_row["rss_mb"] - floor["rss_mb"], 1),
                "rss_extra_after_call_mb": round(
                    hermes_row["rss_after_call_mb"] - floor["rss_after_call_mb"], 1
                ),
                "calls_ratio": round(hermes_row["calls_per_s"] / floor["calls_per_s"], 3),
                **added,  # serve --protocol auto against the forced protocol (target < 5)
            }
        )
    )


if __name__ == "__main__":
    main()
