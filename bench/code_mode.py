"""Code mode: a 10-file read-and-summarise task by direct tool calls against one
``execute_code`` script, with the scripted in-process model (``hermes_mcp.testing.scripted``).

Ten files of ``--lines`` lines each are summarised (lines and functions per file) three
ways, in one session each, interleaved, ``--runs`` times:

- ``parallel``: the model asks for the ten ``read_file`` calls in one answer (they run
  together), then answers: 2 model calls, the second carrying every file;
- ``sequential``: one ``read_file`` per answer, as many agents do: 11 model calls, each
  carrying the files read so far;
- ``code``: one ``execute_code`` whose script reads the ten files and prints the
  summary, then the answer: 2 model calls, the second carrying only the summary.

The direct sessions run without the ``code`` toolset (no ``execute_code`` description
in their requests), so the code session pays for its own description. Each model call
waits ``--latency-ms`` (a fixed time: a real model's time also grows with the tokens it
reads, which favours code mode further and is not modelled here).

- ``tokens``: the prompt tokens the model was sent over the turn (``estimate_tokens``:
  about 4 characters per token, tool schemas included), summed over its requests;
- ``wall_ms``: the turn from prompt to ``turn_end``, what the user waits for.

    python3 -m uv run --frozen python bench/code_mode.py [--runs 3] [--latency-ms 300]

Prints one JSON line per run, then the medians and the ratios ``direct / code`` (above
1: code mode sends fewer tokens, or ends sooner).
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

# Run as ``python bench/code_mode.py``, this directory heads sys.path and its tools.py
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402

from hermes_mcp.config import Settings, load_settings  # noqa: E402
from hermes_mcp.llm.profiles import estimate_tokens  # noqa: E402
from hermes_mcp.runtime import open_runtime  # noqa: E402
from hermes_mcp.testing.scripted import Call, Say, ScriptedModel  # noqa: E402

FILES = 10
DIRECT_TOOLSETS = ("files", "terminal", "web", "memory", "planning", "delegation")
SCRIPT = """
for i in range(10):
    lines = read_file(path=f"src/mod{i}.py").splitlines()
    functions = [line for line in lines if "def " in line]
    print(f"mod{i}.py: {len(lines)} lines, {len(functions)} functions")
"""
ANSWER = "Ten modules of about the same size; each defines a handful of functions."


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def write_files(ws: Path, lines: int) -> None:
    (ws / "src").mkdir()
    for i in range(FILES):
        body = []
        for n in range(lines):
            if n % 12 == 0:
                body.append(f"def function_{i}_{n}(value: int) -> int:")
            else:
                body.append(f"    value = value * {n} + {i}  # step {n} of module {i}, padding")
        (ws / "src" / f"mod{i}.py").write_text("\n".join(body) + "\n")


def steps(way: str, delay_s: float) -> list[Say]:
    reads = [Call("read_file", {"path": f"src/mod{i}.py"}) for i in range(FILES)]
    if way == "parallel":
        return [Say("", calls=tuple(reads), delay_s=delay_s), Say(ANSWER, delay_s=delay_s)]
    if way == "sequential":
        one_each = [Say("", calls=(call,), delay_s=delay_s) for call in reads]
        return [*one_each, Say(ANSWER, delay_s=delay_s)]
    code = Call("execute_code", {"code": SCRIPT})
    return [Say("", calls=(code,), delay_s=delay_s), Say(ANSWER, delay_s=delay_s)]


async def once(settings: Settings, ws: Path, way: str, delay_s: float) -> dict[str, Any]:
    model = ScriptedModel(steps(way, delay_s))
    toolsets = None if way == "code" else DIRECT_TOOLSETS
    async with open_runtime(settings, model=model) as rt:
        session = await rt.create_session(ws, mode="auto", toolsets=toolsets)
        started = time.perf_counter()
        end = await session.run("summarise the ten modules under src/")
        wall = time.perf_counter() - started
        await session.close()
    assert end.stop_reason == "end_turn" and end.text == ANSWER, end
    return {
        "way": way,
        "model_calls": len(model.requests),
        "tokens": sum(estimate_tokens(r) for r in model.requests),
        "wall_ms": round(wall * 1000, 1),
    }


async def main(runs: int, latency_ms: float, lines: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {"parallel": [], "sequential": [], "code": []}
    with tempfile.TemporaryDirectory() as tmp:
        home, ws = Path(tmp) / "home", Path(tmp) / "ws"
        home.mkdir()
        ws.mkdir()
        write_files(ws, lines)
        (home / "config.toml").write_text(
            '[model]\ndefault = "scripted:model"\n'
            '[providers.scripted]\nwire = "openai"\nbase_url = "http://127.0.0.1:9"\n'
            'credentials = ["none"]\n'
        )
        settings = load_settings(env={"HERMES_MCP_HOME": str(home)})
        await once(settings, ws, "code", 0.0)  # warm-up: imports, the sandbox binary
        for run in range(runs):
            for way in samples:  # interleaved
                result = await once(settings, ws, way, latency_ms / 1000)
                samples[way].append(result)
                emit({"run": run, **result})
    median = {
        way: {
            "model_calls": got[0]["model_calls"],
            "tokens": statistics.median(r["tokens"] for r in got),
            "wall_ms": statistics.median(r["wall_ms"] for r in got),
        }
        for way, got in samples.items()
    }
    code = median["code"]
    return {
        "runs": runs,
        "latency_ms": latency_ms,
        "file_lines": lines,
        "median": median,
        "tokens_ratio": {
            way: round(median[way]["tokens"] / code["tokens"], 2)
            for way in ("parallel", "sequential")
        },
        "wall_ratio": {
            way: round(median[way]["wall_ms"] / code["wall_ms"], 2)
            for way in ("parallel", "sequential")
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--lines", type=int, default=150)
    args = parser.parse_args()
    emit(anyio.run(main, args.runs, args.latency_ms, args.lines))
