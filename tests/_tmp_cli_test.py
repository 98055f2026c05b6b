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
CHAT = "/chat/completions"


def _headers(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


async def chat(
    client: httpx2.AsyncClient, key: str | None = None, model: str = "gpt-4o", **extra: Any
) -> httpx2.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    return await client.post(CHAT, json=body, headers=_headers(key))


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
            assert process.stdout is not None
            assert process.stderr is not None
            buffer = b""
            while b"\n" not in buffer:
                buffer += await process.stdout.receive()
                print("buffer += await process.stdout", flush=True)
            line, rest = buffer.split(b"\n", 1)
            print('line, rest = buffer.split(b"\\n', flush=True)
            url = json.loads(line)["url"]
            print('url = json.loads(line)["url"]', flush=True)
            assert url.startswith("http://127.0.0.1:")
            async with httpx2.AsyncClient(base_url=url + "/v1", trust_env=False) as c:
                statuses = [(await chat(c, "sk-a")).status_code for _ in range(2)]
                assert (await chat(c, "sk-a")).json()["choices"][0]["message"]["content"] == (
                    DEFAULT_TEXT
                )
                assert (await chat(c, "sk-other")).status_code == 429
            process.terminate()
            print("process.terminate()", flush=True)
            assert await process.wait() == 0
            out = rest + b"".join([chunk async for chunk in process.stdout])
            print('out = rest + b"".join([chunk a', flush=True)
            err = b"".join([chunk async for chunk in process.stderr])
            print('err = b"".join([chunk async fo', flush=True)
    assert statuses == [429, 200]
    assert out == b""
    assert err == b""
