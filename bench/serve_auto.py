"""What ``serve --protocol auto`` adds before the edge starts: reading the first line
from fd 0 byte by byte (so not a byte past it is consumed) and detecting its protocol,
against one plain ``os.read`` of the same line, in the same run, through a real pipe.

    python3 -m uv run --frozen python bench/serve_auto.py [--n 2000]

Prints one JSON line per first message (MCP ``initialize``, ACP ``initialize``, MCP
``server/discover``) and ends with ``{"auto_added_ms_max": ...}``, the largest median
added cost (target: under 5 ms). The process-level comparison (auto against
``--protocol mcp|acp``, to the first response) is in ``bench/startup.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from hermes_mcp.serve_auto import detect, read_first_line

MESSAGES = {
    "mcp_initialize": {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25",
                   "capabilities": {"roots": {"listChanged": True}, "sampling": {},
                                    "elicitation": {"form": {}, "url": {}}},
                   "clientInfo": {"name": "claude-ai", "version": "0.1.0"}},
    },
    "acp_initialize": {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": 1,
                   "clientCapabilities": {"fs": {"readTextFile": True, "writeTextFile": True},
                                          "terminal": True},
                   "clientInfo": {"name": "zed", "title": "Zed", "version": "0.210.0"}},
    },
    "mcp_discover": {"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {}},
}  # fmt: skip


def once(data: bytes, auto: bool) -> float:
    read, write = os.pipe()
    try:
        os.write(write, data)
        started = time.perf_counter()
        if auto:
            line = read_first_line(read)
            assert detect(line).protocol is not None
        else:
            line = os.read(read, 65536)
        elapsed = time.perf_counter() - started
        assert line == data
        return elapsed
    finally:
        os.close(read)
        os.close(write)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    worst = 0.0
    for name, message in MESSAGES.items():
        data = (json.dumps(message) + "\n").encode()
        for _ in range(50):  # warm-up
            once(data, True)
            once(data, False)
        auto = statistics.median(once(data, True) for _ in range(args.n)) * 1000
        raw = statistics.median(once(data, False) for _ in range(args.n)) * 1000
        worst = max(worst, auto - raw)
        row = {"first_message": name, "bytes": len(data), "auto_ms": round(auto, 4)}
        row |= {"raw_read_ms": round(raw, 4), "added_ms": round(auto - raw, 4)}
        print(json.dumps(row))
    print(json.dumps({"auto_added_ms_max": round(worst, 4), "target_ms": 5}))


if __name__ == "__main__":
    main()
