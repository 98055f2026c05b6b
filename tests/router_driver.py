"""A long-running process for cross-process tests: one router, one request per stdin line,
one JSON line per answer on stdout. Started before another process writes a cooldown, it
shows that a running process honours that cooldown on its next request."""

from __future__ import annotations

import json
import sys

import anyio

from hermes_mcp.config import load_settings
from hermes_mcp.errors import NoRouteError
from hermes_mcp.llm.credential_state import CredentialStateStore
from hermes_mcp.llm.router import Router
from hermes_mcp.llm.types import ChatRequest
from hermes_mcp.state import open_database


async def main() -> None:
    settings = load_settings()
    db = open_database(settings.db_path)
    async with Router(settings, CredentialStateStore(db)) as router:
        sys.stdout.write(json.dumps({"ready": True}) + "\n")
        sys.stdout.flush()
        while line := await anyio.to_thread.run_sync(sys.stdin.readline):
            try:
                out = (await router.complete(ChatRequest.of(line.strip()))).to_json()
            except NoRouteError as exc:
                out = exc.to_json()
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    db.close()


if __name__ == "__main__":
    anyio.run(main)
