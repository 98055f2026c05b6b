"""Skills: the time to list them with 200 on disk (what the system prompt, ``prompts/list``,
the ACP commands and ``skills_list`` each pay), against a bare read of the same files.

- ``cold_ms``: ``discover()`` with the front-matter cache emptied (a new process, or every
  skill changed): each ``SKILL.md`` opened without following links, its head read and its
  YAML front matter parsed and checked. Target: under 50 ms.
- ``warm_ms``: ``discover()`` again (nothing changed): one ``open``/``fstat`` per skill.
- ``baseline_ms``: ``os.scandir`` of the same roots and ``open``/``read`` of the same
  heads, nothing parsed: the floor any listing pays.
- ``*_cpu_ms``: the same calls' CPU time (``time.process_time``): on a loaded machine
  the wall time also counts the time spent waiting for a core.

Rounds are interleaved (baseline, cold, warm, ...); each figure is the median of
``--rounds``. The files stay in the page cache after the first round, as they do for a
server that lists more than once.

    python3 -m uv run --frozen python bench/skills.py [--skills 200] [--rounds 15]

Prints one JSON line: the figures, ``cold_ratio`` and ``warm_ratio`` against the
baseline, and ``target_ratio`` (cold against 50 ms; below 1 meets it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as ``python bench/skills.py``, this directory heads sys.path and its tools.py
# would shadow the ``tools`` package: drop it before importing.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from tools.skills import discovery  # noqa: E402
from tools.skills.discovery import Root, discover, skill_roots  # noqa: E402

TARGET_MS = 50.0
HEAD = discovery._HEAD


def make(home: Path, workspace: Path, count: int) -> tuple[Root, ...]:
    """``count`` skills: three quarters in the user root, the rest in the project's."""
    body = "\n".join(f"{i}. Do step {i} carefully, then check the result." for i in range(60))
    for i in range(count):
        root = home / "skills" if i % 4 else workspace / ".agents" / "skills"
        folder = root / f"skill-{i:03d}"
        folder.mkdir(parents=True)
        front = (
            f"name: skill-{i:03d}\n"
            f"description: >-\n  Skill number {i}: what it does and when to use it, "
            "in a sentence or two as the format recommends, naming the keywords a task "
            "would bring up.\n"
            "license: MIT\nmetadata:\n  author: bench\n  version: '1.0'\n"
        )
        (folder / "SKILL.md").write_text(f"---\n{front}---\n\n# Skill {i}\n\n{body}\n")
    return skill_roots(home, [workspace], user_home=home / "nobody")


def baseline(roots: tuple[Root, ...]) -> int:
    read = 0
    for root in roots:
        try:
            entries = list(os.scandir(root.path))
        except FileNotFoundError:
            continue
        for entry in entries:
            with open(os.path.join(entry.path, "SKILL.md"), "rb") as file:
                read += len(file.read(HEAD))
    return read


def timed(fn: object, *args: object) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skills", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        roots = make(Path(tmp) / "home", Path(tmp) / "ws", args.skills)
        found = discover(roots)
        assert len(found.skills) == args.skills and not found.problems, found.problems
        bare: list[tuple[float, float]] = []
        cold: list[tuple[float, float]] = []
        warm: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            bare.append(timed(baseline, roots))
            discovery._CACHE.clear()
            cold.append(timed(discover, roots))
            warm.append(timed(discover, roots))
    ms: dict[str, float] = {}
    for name, samples in (("baseline", bare), ("cold", cold), ("warm", warm)):
        ms[f"{name}_ms"] = round(statistics.median(w for w, _ in samples) * 1000, 3)
        ms[f"{name}_cpu_ms"] = round(statistics.median(c for _, c in samples) * 1000, 3)
    print(
        json.dumps(
            {
                "skills": args.skills,
                "rounds": args.rounds,
                **ms,
                "cold_ratio": round(ms["cold_ms"] / ms["baseline_ms"], 2),
                "warm_ratio": round(ms["warm_ms"] / ms["baseline_ms"], 2),
                "target_ratio": round(ms["cold_ms"] / TARGET_MS, 3),
                "load": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
