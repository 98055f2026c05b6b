"""Persistent state: one SQLite database (WAL) under ``$HERMES_MCP_HOME``."""

from hermes_mcp.state.db import Database, open_database

__all__ = ["Database", "open_database"]
