"""Wire formats: one module per format, each owning request building, response parsing
and the translation of its errors into failure classes."""

from hermes_mcp.llm.wires.base import Wire, wire_for

__all__ = ["Wire", "wire_for"]
