"""Tools benchmark: ``search_files`` against ``grep -r`` in the same run, and
``read_file`` / ``patch`` latency on a 5 MB file.

A temporary tree of 20,000 small source files (200 directories of 100 files, about
1 KB each, one file in 100 holding a match) is searched for the same regex by
``grep -rnE`` and by ``search_files`` through the registry, after one untimed pass of
each to warm the page cache; each is timed ``--rounds`` times and the medians compared
(``search_vs_grep_ratio`` = search_files / grep). Then a 5 MB file (about 65,000 lines)
is read with ``read_file`` (first page, and a page near the end) and edited with
``patch`` (one edit in the middle, alternating back and forth). The search is also timed
with path deny rules and a registered secret (``search_with_rules_vs_grep_ratio``), and
the policy's check of a terminal command (parsed as ``sh`` does) 100 times. One JSON line
per measurement on stdout.

    python3 -m uv run --frozen python bench/tools.py [--files 20000] [--rounds 5]
    (or: python -m bench.tools)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as ``python bench/tools.py``, this file's directory heads sys.path and its name
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import anyio  # noqa: E402

from hermes_mcp.log import register_secret  # noqa: E402
from tools import ApprovalRequest, Policy, ToolContext, default_registry  # noqa: E402

PATTERN = r"needle_[0-9]+\("
REGISTRY = default_registry()


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def make_tree(root: Path, files: int) -> int:
    """``files`` files under ``root``; returns how many lines match PATTERN."""
    per_dir = 100
    body = "".join(f"    value_{n} = compute({n}, 'text {n}')\n" for n in range(25))
    matches = 0
    for i in range(files):
        directory = root / f"pkg{i // per_dir:03d}"
        if i % per_dir == 0:
            directory.mkdir()
        extra = ""
        if i % 100 == 7:
            extra = f"\ndef needle_{i}(x):\n    return x\n"
            matches += 1
        (directory / f"mod{i % per_dir:03d}.py").write_text(f"def f_{i}():\n{body}{extra}")
    return matches


def timed(fn: Any, rounds: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def stats(name: str, samples: list[float], **extra: Any) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "bench": name,
        "rounds": len(samples),
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        **extra,
    }


def grep(root: Path) -> int:
    out = subprocess.run(
        ["grep", "-rnE", PATTERN, "."], cwd=root, capture_output=True, check=False
    ).stdout
    return out.count(b"\n")


def search(ctx: ToolContext) -> int:
    async def run() -> int:
        args = {"pattern": PATTERN, "max_results": 1000}
        result = await REGISTRY.call("search_files", args, ctx)
        assert not result.is_error, result.text
        return len((result.structured or {})["matches"])

    return anyio.run(run)


def call(ctx: ToolContext, name: str, args: dict[str, Any]) -> None:
    async def run() -> None:
        result = await REGISTRY.call(name, args, ctx)
        assert not result.is_error, result.text[:500]

    anyio.run(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hermes-bench-tools-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        began = time.perf_counter()
        expected = make_tree(root, opts.files)
        emit({"bench": "generate_tree", "files": opts.files, "matching_lines": expected,
              "seconds": round(time.perf_counter() - began, 2)})  # fmt: skip
        ctx = ToolContext((root,), policy=Policy("auto"), state_dir=Path(tmp) / "state")
        grep(root), search(ctx)  # warm the page cache and the imports
        grep_samples, grep_found = timed(lambda: grep(root), opts.rounds)
        search_samples, search_found = timed(lambda: search(ctx), opts.rounds)
        emit(stats("grep -r", grep_samples, files=opts.files, matches=grep_found))
        emit(stats("search_files", search_samples, files=opts.files, matches=search_found))
        ratio = statistics.median(search_samples) / statistics.median(grep_samples)
        emit({"search_vs_grep_ratio": round(ratio, 2), "same_matches": grep_found == search_found})
        # The same search with path deny rules to check per file and a registered secret
        # (every file with a match is searched again as read_file shows it, redacted).
        register_secret("bench-secret-0123456789abcdef")
        guarded = ToolContext(
            (root,),
            policy=Policy("auto", deny=["read:**/*.secret", "read:private/**"]),
            state_dir=Path(tmp) / "state",
        )
        guarded_samples, guarded_found = timed(lambda: search(guarded), opts.rounds)
        emit(stats("search_files with deny rules", guarded_samples, matches=guarded_found))
        ratio = statistics.median(guarded_samples) / statistics.median(grep_samples)
        emit({"search_with_rules_vs_grep_ratio": round(ratio, 2)})
        shutil.rmtree(root)

        policy = Policy("ask", allow=["terminal:git status*"], deny=["read:secrets/**"])
        command = "git status --short && git diff | wc -l; echo done > /dev/null"
        request = ApprovalRequest(
            tool="terminal", kind="execute", action="terminal", title="t",
            paths=(Path(tmp),), command=command, risk="runs a shell command",
        )  # fmt: skip
        checks, _ = timed(lambda: [policy.evaluate(request, (Path(tmp),)) for _ in range(100)], 5)
        emit(stats("policy terminal check x100", checks, command=command))

        work = Path(tmp) / "big"
        work.mkdir()
        line = "x = compute_something(alpha, beta, gamma)  # a typical line of code\n"
        lines = [line] * (5 * 1024 * 1024 // len(line))
        lines[len(lines) // 2] = "MARKER_A = 1\n"
        (work / "big.py").write_text("".join(lines))
        size = (work / "big.py").stat().st_size
        ctx = ToolContext((work,), policy=Policy("auto"), state_dir=Path(tmp) / "state")
        rounds = opts.rounds * 4
        first, _ = timed(lambda: call(ctx, "read_file", {"path": "big.py"}), rounds)
        emit(stats("read_file first 2000 lines", first, size_bytes=size, lines=len(lines)))
        tail_args = {"path": "big.py", "offset": len(lines) - 2000}
        tail, _ = timed(lambda: call(ctx, "read_file", tail_args), rounds)
        emit(stats("read_file last 2000 lines", tail, size_bytes=size))
        flip = iter(range(10**9))

        def edit() -> None:
            a, b = ("MARKER_A", "MARKER_B") if next(flip) % 2 == 0 else ("MARKER_B", "MARKER_A")
            call(ctx, "patch", {"path": "big.py", "edits": [{"old_text": a, "new_text": b}]})

        patch_samples, _ = timed(edit, rounds)
        emit(stats("patch one edit", patch_samples, size_bytes=size))


if __name__ == "__main__":
    main()
