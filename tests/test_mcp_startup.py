"""What listing the tools costs (issue 24, item 11): a host pays for ``tools/list``
before it shows anything, so answering it must not import the agent loop, the router,
its HTTP stack or the runtime (``hermes_mcp/agent/__init__.py`` used to pull them all
in). A fresh interpreter serves ``initialize`` and ``tools/list`` in memory with the SDK's
client and reports which modules were imported; a ``tools/call`` then brings them in.
``bench/startup.py`` measures the time and memory against the SDK's smallest server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

from tests.agent_helpers import new_home, new_workspace

pytestmark = pytest.mark.anyio

HEAVY = (
    "hermes_mcp.agent.loop",
    "hermes_mcp.agent.engine",
    "hermes_mcp.agent.jobs",
    "hermes_mcp.llm.router",
    "hermes_mcp.llm.provider",
    "hermes_mcp.runtime",
    "hermes_mcp.llm.http",
    "aiohttp",  # the router's transport (httpx2 itself comes with the mcp SDK's client)
    "httpx_aiohttp",
    "jsonschema",
)

SCRIPT = """
import json, sys
import anyio
from mcp import Client
from hermes_mcp.mcp_server.edge import Edge
from hermes_mcp.mcp_server.server import build_server, preload, prepare

HEAVY = json.loads(sys.argv[1])


async def main() -> None:
    edge = Edge([__import__("pathlib").Path(sys.argv[2])], preload=preload, prepare=prepare)
    server = build_server(edge)
    start = anyio.Event()
    report = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(edge.run, start)
        async with Client(server, mode="legacy") as client:
            start.set()
            tools = (await client.list_tools()).tools
            report["listed"] = len(tools)
            report["after_list"] = [m for m in HEAVY if m in sys.modules]
            await client.call_tool("read_file", {"path": "hello.py"})
            report["after_call"] = [m for m in HEAVY if m in sys.modules]
        edge.stop()
    print(json.dumps(report))


anyio.run(main)
"""


async def test_tools_list_imports_no_agent_loop_router_or_http_stack(tmp_path: Path) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-c", SCRIPT, json.dumps(HEAVY), str(ws)],
            env=home.process_env,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout.decode().splitlines()[-1])
    assert report["listed"] >= 15  # the registry's tools and the agent tools
    assert report["after_list"] == []
    assert {"hermes_mcp.runtime", "hermes_mcp.llm.router", "aiohttp"} <= set(report["after_call"])
