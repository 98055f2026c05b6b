"""The fake LLM provider, over real HTTP on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from hermes_mcp.testing import (
    DEFAULT_TEXT,
    FakeProvider,
    context_overflow,
    daily_quota,
    error_in_200,
    fail,
    hold,
    malformed,
    model_not_found,
    payment_required,
    rate_limited,
    reply,
    server_error,
    slow,
    step_from_dict,
    stream,
    unauthorized,
)
from hermes_mcp.testing.fake_provider import main as cli_main

pytestmark = pytest.mark.anyio
from hermes_mcp.testing.fake_provider import *
async def chat(client, key=None, model="gpt-4o", **extra):
    return await client.post("/chat/completions", json={"model": model, **extra}, headers={"Authorization": f"Bearer {key}"})
async def test_cli_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "sk-a": [
                    {"kind": "daily_quota", "retry_after": 86400},
                    {"kind": "reply", "text": "hi"},
                ],
                "*": {"kind": "rate_limited"},
            }
        )
    )
    command = [
        sys.executable,
        "-m",
        "hermes_mcp.testing.fake_provider",
        "--script",
        str(script),
        "--latency-ms",
        "1",
    ]
    with anyio.fail_after(20):
        async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as process:
            print("started", flush=True)
            assert process.stdout is not None
            assert process.stderr is not None
            buffer = b""
            while b"\n" not in buffer:
                buffer += await process.stdout.receive()
            line, rest = buffer.split(b"\n", 1)
            url = json.loads(line)["url"]
            assert url.startswith("http://127.0.0.1:")
            async with httpx2.AsyncClient(base_url=url + "/v1", trust_env=False) as c:
                statuses = [(await chat(c, "sk-a")).status_code for _ in range(2)]
                assert (await chat(c, "sk-a")).json()["choices"][0]["message"]["content"] == (
                    DEFAULT_TEXT
                )
                assert (await chat(c, "sk-other")).status_code == 429
            process.terminate()
            assert await process.wait() == 0
            out = rest + b"".join([chunk async for chunk in process.stdout])
            err = b"".join([chunk async for chunk in process.stderr])
    assert statuses == [429, 200]
    assert out == b""
    assert err == b""
