"""Shared fixtures: anyio on asyncio (the ACP SDK is asyncio-only)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
