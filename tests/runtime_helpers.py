"""Helpers for the runtime tests: a home whose config points at the loopback fake, a
runtime over it, and events compared field for field."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from hermes_mcp.agent.events import Event
from hermes_mcp.runtime import Runtime, open_runtime
from hermes_mcp.testing import FakeProvider
from tests.keys import FALLBACK_KEY, KEY_A, seen
from tests.routing import Home

TIMINGS = frozenset({"duration_s", "elapsed_ms"})


def configure(
    home: Home,
    fake: FakeProvider,
    *,
    fallback: bool = False,
    anthropic_backup: bool = False,
    extra: str = "",
) -> None:
    providers: dict[str, dict[str, Any]] = {
        "primary": {"url": fake.openai_base_url, "keys": [KEY_A]}
    }
    chain: tuple[str, ...] = ()
    if fallback:
        if anthropic_backup:
            providers["backup"] = {
                "url": fake.anthropic_base_url,
                "keys": [FALLBACK_KEY],
                "wire": "anthropic",
            }
            chain = ("backup:claude-sonnet-4",)
        else:
            providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
            chain = ("backup:gpt-4o-mini",)
    home.write(providers, "primary:gpt-4o", chain)
    if extra:
        path = home.path / "config.toml"
        path.write_text(path.read_text() + extra)


@asynccontextmanager
async def runtime_for(home: Home) -> AsyncIterator[Runtime]:
    async with open_runtime(home.settings()) as rt:
        yield rt


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def coalesced(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Events as JSON, consecutive text (or thought) deltas joined, timings left out:
    what replay promises to give back."""
    out: list[dict[str, Any]] = []
    for event in events:
        data = event.to_json()
        last = out[-1] if out else None
        delta = data["type"] in ("text_delta", "thought_delta")
        if delta and last is not None and last["type"] == data["type"]:
            last["text"] += data["text"]
            continue
        out.append(data)
    return [without_timings(d) for d in out]


REPLAY_SCRIPT = """
import json, sys
import anyio
from hermes_mcp.config import load_settings
from hermes_mcp.runtime import open_runtime

async def main():
    async with open_runtime(load_settings(required=False)) as rt:
        session = await rt.load_session(sys.argv[1])
        async for event in session.replay():
            sys.stdout.write(json.dumps(event.to_json()) + "\\n")
        await session.close()

anyio.run(main)
"""


async def replay_in_new_process(home: Home, session_id: str) -> list[dict[str, Any]]:
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-c", REPLAY_SCRIPT, session_id],
            env=home.process_env,
            check=False,
        )
    out, err = seen(done.stdout.decode()), seen(done.stderr.decode())
    assert done.returncode == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
