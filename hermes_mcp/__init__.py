"""Hermes as a stdio MCP server and ACP agent, on a provider router with eager fallback."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """``__version__``, read from the distribution's metadata when first asked for:
    importing the package imports nothing (the console script starts here)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("hermes-mcp-acp")  # the PyPI distribution name
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
