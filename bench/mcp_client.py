"""Other MCP servers as the agent's tools: what connecting and proxying cost.

The server is a small stdio MCP server written with the SDK's own API (this file, run
with ``--serve``). In the same run:

- **connect**: a session opening with ``[mcp_servers]`` configured (start the child,
  handshake in ``auto`` mode, ``tools/list``, register the tools in the session) against
  the SDK alone doing the same (``mcp.Client`` over ``StdioServerParameters``, entered,
  ``list_tools``), ``--connects`` times each;
- **call**: ``--calls`` sequential calls of a read-only tool through the session's
  registry (argument check against the tool's JSON Schema, policy, the MCP call,
  result mapping, redaction) against the same calls made directly with the session's
  own ``mcp.Client`` to the same server process, each pair back to back.

    python3 -m uv run --frozen python bench/mcp_client.py [--calls 500] [--connects 5]

Prints JSON lines; the last is ``{"connect_ratio", "call_overhead_ms" (proxied median
minus direct median), "paired_overhead_ms" (the median of each proxied call's time minus
the direct call's just before it), "call_ratio", "target_ms": 2.0, "within_target"}``.
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

# Run as ``python bench/mcp_client.py``, this directory heads sys.path and its tools.py
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402

_SELF = str(Path(__file__).resolve())


def serve() -> None:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import ToolAnnotations

    server = MCPServer("bench")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text."""
        return text

    server.run()


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


async def main(calls: int, connects: int) -> None:
    from mcp import Client, StdioServerParameters

    from hermes_mcp.config import load_settings
    from hermes_mcp.log import configure_logging
    from hermes_mcp.mcp_client import install
    from hermes_mcp.runtime import open_runtime

    configure_logging("warning")
    command, args = sys.executable, [_SELF, "--serve"]
    params = StdioServerParameters(command=command, args=args)
    with tempfile.TemporaryDirectory() as tmp:
        home, ws = Path(tmp) / "home", Path(tmp) / "ws"
        home.mkdir()
        ws.mkdir()
        (home / "config.toml").write_text(
            '[policy]\nmode = "ask"\n[mcp_servers.bench]\n'
            f"command = {json.dumps(command)}\nargs = {json.dumps(args)}\n"
        )
        settings = load_settings(env={"HERMES_MCP_HOME": str(home)})

        direct_connect: list[float] = []
        proxied_connect: list[float] = []
        async with open_runtime(settings) as runtime:
            mcp = install(runtime)
            for _ in range(connects):  # alternate, so both see the same machine load
                started = time.perf_counter()
                async with Client(params, mode="auto", cache=None) as client:
                    await client.list_tools()
                    direct_connect.append(time.perf_counter() - started)
                started = time.perf_counter()
                session = await runtime.create_session(ws)
                assert "bench__add" in session.registry, "the server did not connect"
                proxied_connect.append(time.perf_counter() - started)
                await session.close()
            emit({"connect": "sdk", **summary(direct_connect)})
            emit({"connect": "session", **summary(proxied_connect)})

            session = await runtime.create_session(ws)
            ctx = session.context.for_call("bench")
            [connections] = mcp.connections(session)
            client = connections.servers[0].client
            assert client is not None
            direct: list[float] = []
            proxied: list[float] = []
            for i in range(calls + 20):
                args_i = {"a": i, "b": 1}
                started = time.perf_counter()
                raw = await client.call_tool("add", args_i)
                took_direct = time.perf_counter() - started
                started = time.perf_counter()
                result = await session.registry.call("bench__add", args_i, ctx)
                took_proxied = time.perf_counter() - started
                assert not result.is_error and result.text == str(i + 1), result.text
                assert not raw.is_error
                if i >= 20:  # warm-up left out
                    direct.append(took_direct)
                    proxied.append(took_proxied)
            await session.close()
        d, p = summary(direct), summary(proxied)
        emit({"call": "sdk", **d})
        emit({"call": "proxied", **p})
        # Each proxied call is paired with the direct call just before it (same load).
        overhead = statistics.median(b - a for a, b in zip(direct, proxied, strict=True)) * 1000
        emit(
            {
                "connect_ratio": round(
                    statistics.median(proxied_connect) / statistics.median(direct_connect), 3
                ),
                "call_overhead_ms": round(p["median_ms"] - d["median_ms"], 3),
                "paired_overhead_ms": round(overhead, 3),
                "call_ratio": round(p["median_ms"] / d["median_ms"], 3),
                "target_ms": 2.0,
                "within_target": p["median_ms"] - d["median_ms"] < 2.0,
            }
        )


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--calls", type=int, default=500)
        parser.add_argument("--connects", type=int, default=5)
        ns = parser.parse_args()
        anyio.run(main, ns.calls, ns.connects)
