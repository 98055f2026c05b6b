"""The floor for ``bench/acp.py``: a bare ``agent-client-protocol`` agent (the SDK and
Python, nothing else) answering ``initialize`` and ``session/new``."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import acp  # noqa: E402
from acp.schema import InitializeResponse, NewSessionResponse, PromptResponse  # noqa: E402


class Bare(acp.Agent):
    async def initialize(self, protocol_version: int, **kwargs: Any) -> InitializeResponse:
        return InitializeResponse(protocol_version=protocol_version)

    async def new_session(self, cwd: str, **kwargs: Any) -> NewSessionResponse:
        return NewSessionResponse(session_id=uuid.uuid4().hex)

    async def prompt(self, session_id: str, prompt: Any, **kwargs: Any) -> PromptResponse:
        return PromptResponse(stop_reason="end_turn")


if __name__ == "__main__":
    asyncio.run(acp.run_agent(Bare()))
