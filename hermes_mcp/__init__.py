"""Hermes as a stdio MCP server and ACP agent, on a provider router with eager fallback."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hermes-mcp-acp")  # the PyPI distribution name
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
