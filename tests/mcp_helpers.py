"""Driving ``hermes-mcp serve --protocol mcp`` as a real subprocess over real stdio with
``mcp.Client``, against the loopback fake provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from hermes_mcp.testing import FakeProvider
from tests.keys import FALLBACK_KEY, KEY_A, seen
from tests.routing import HERMES, Home


@dataclass
class Served:
    client: Client
    home: Home
    workspace: Path
    stderr: Path
    elicitations: list[str] = field(default_factory=list)
    elicit_answer: str = "allow"
    stray: list[Exception] = field(default_factory=list)  # non-protocol lines on stdout
    logs: list[Any] = field(default_factory=list)

    def stderr_text(self) -> str:
        return seen(self.stderr.read_text())


def configure(
    home: Home, fake: FakeProvider, *, fallback: bool = False, policy: str = "auto"
) -> None:
    providers: dict[str, dict[str, Any]] = {
        "primary": {"url": fake.openai_base_url, "keys": [KEY_A]}
    }
    fallbacks: tuple[str, ...] = ()
    if fallback:
        providers["backup"] = {"url": fake.openai_base_url, "keys": [FALLBACK_KEY]}
        fallbacks = ("backup:gpt-4o-mini",)
    home.write(providers, "primary:gpt-4o", fallbacks)
    config = home.path / "config.toml"
    config.write_text(
        config.read_text() + f'[policy]\nmode = "{policy}"\n[mcp]\nprogress_interval_s = 0.5\n'
    )


def server_params(home: Home, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=HERMES, args=["serve", "--protocol", "mcp", *args], env=home.process_env
    )


@asynccontextmanager
async def serve(
    home: Home, workspace: Path, mode: str, log: TextIO, stderr: Path
) -> AsyncIterator[Served]:
    served: Served | None = None

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception) and served is not None:
            served.stray.append(message)

    async def on_elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert served is not None
        served.elicitations.append(params.message)
        return types.ElicitResult(action="accept", content={"decision": served.elicit_answer})

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        assert served is not None
        served.logs.append(params.data)

    transport = stdio_client(server_params(home, "--workspace", str(workspace)), errlog=log)
    client = Client(
        transport,
        mode=mode,  # type: ignore[arg-type]
        message_handler=on_message,
        elicitation_callback=on_elicit,
        logging_callback=on_log,
        log_level="info",
        read_timeout_seconds=60,
    )
    async with client:
        served = Served(client, home, workspace, stderr)
        yield served


def structured(result: types.CallToolResult) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def first_text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
