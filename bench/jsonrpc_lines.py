"""The line transport's parser and encoder (orjson) against the standard library's
``json``, which every edge used before, measured in the same run, interleaved.

Three messages as the edges see them: a ``tools/call`` request (120 bytes), an ACP
``session/prompt`` with 20 kB of text, a tool result of 1.2 MB. For each, the median of
``--repeats`` timings of decoding (bytes to objects) and of encoding (objects to one
line), with ``json`` the baseline: ``*_ratio`` is orjson's time over json's (below 1 is
faster).

    python3 -m uv run --frozen python bench/jsonrpc_lines.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from hermes_mcp.jsonrpc_lines import dumps, loads

MESSAGES: dict[str, Any] = {
    "tools_call": {
        "jsonrpc": "2.0",
        "id": 12,
        "method": "tools/call",
        "params": {"name": "read_file", "arguments": {"path": "src/x.py"}},
    },
    "prompt_20kb": {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "session/prompt",
        "params": {"sessionId": "abc", "prompt": [{"type": "text", "text": "x" * 20_000}]},
    },
    "result_1mb": {
        "jsonrpc": "2.0",
        "id": 3,
        "result": {"content": [{"type": "text", "text": "line\n" * 240_000}]},
    },
}


def stdlib_dumps(message: Any) -> bytes:
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def per_call_us(fn: Callable[[Any], Any], arg: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(arg)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name, message in MESSAGES.items():
        line = stdlib_dumps(message)
        n = max(20, 4_000_000 // len(line))
        timings: dict[str, list[float]] = {
            k: [] for k in ("json_de", "orjson_de", "json_en", "orjson_en")
        }
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            timings["json_de"].append(per_call_us(json.loads, line, n))
            timings["orjson_de"].append(per_call_us(loads, line, n))
            timings["json_en"].append(per_call_us(stdlib_dumps, message, n))
            timings["orjson_en"].append(per_call_us(dumps, message, n))
        med = {k: statistics.median(v) for k, v in timings.items()}
        row = {
            "message": name,
            "bytes": len(line),
            **{f"{k}_us": round(v, 2) for k, v in med.items()},
            "decode_ratio": round(med["orjson_de"] / med["json_de"], 3),
            "encode_ratio": round(med["orjson_en"] / med["json_en"], 3),
        }
        print(json.dumps(row))


if __name__ == "__main__":
    main()
