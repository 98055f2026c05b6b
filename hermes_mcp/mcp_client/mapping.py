"""Pure translation between an MCP server's tools and ours, tested without a process.

- A server's tool becomes a :class:`tools.Tool` in the ``mcp`` toolset named
  ``<server>__<tool>`` (characters a model API refuses become ``_``, 64 at most), with
  its raw input schema, output schema, description and annotations (``readOnlyHint``,
  ``destructiveHint``, ``idempotentHint``, ``openWorldHint``, ``title``).
- A ``CallToolResult`` becomes a :class:`tools.ToolResult`: text blocks in order,
  embedded text resources with their URI, images, audio, blobs and resource links as
  one line each (the router's tool messages carry text only, so the model is told
  what arrived rather than shown it), structured content as ``structured`` (and as
  JSON text when the server sent no text; left out past the cap), ``isError`` as an
  error result. The text is capped like a built-in tool's output.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import mcp_types as types

from tools.registry import ToolAnnotations, ToolResult

RESULT_MAX_CHARS = 100_000  # as web_fetch: what one call may put in the model's context
TOOL_NAME_MAX = 64  # OpenAI's and Anthropic's limit on a tool name
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def tool_name(server: str, tool: str) -> str:
    """``<server>__<tool>``, made safe for every model API."""
    return f"{server}__{_BAD_CHARS.sub('_', tool)}"[:TOOL_NAME_MAX]


def spellings(server: str, tool: str) -> tuple[str, ...]:
    """The server's own spelling of a tool's name (``<server>__<tool>`` unchanged), when
    it differs from the registered one: ``mcp:`` rules match both."""
    raw = f"{server}__{tool}"
    return () if raw == tool_name(server, tool) else (raw,)


def tool_annotations(tool: types.Tool) -> ToolAnnotations:
    hints = tool.annotations or types.ToolAnnotations()
    read_only = bool(hints.read_only_hint)
    return ToolAnnotations(
        read_only=read_only,
        destructive=False if read_only else hints.destructive_hint is not False,
        idempotent=bool(hints.idempotent_hint),
        open_world=hints.open_world_hint is not False,
        kind="read" if read_only else "other",
        title=hints.title or tool.title,
    )


def input_schema(tool: types.Tool) -> dict[str, Any]:
    """The tool's input schema; MCP requires an object schema, so one without a type
    is given ``"type": "object"`` (the model APIs insist on it too)."""
    schema = dict(tool.input_schema or {})
    schema.setdefault("type", "object")
    return schema


def description(server: str, tool: types.Tool) -> str:
    text = (tool.description or tool.title or tool.name).strip()
    return f"{text}\n\n(from the MCP server {server!r})"


def _size(data_b64: str) -> int:
    try:
        return len(base64.b64decode(data_b64, validate=False))
    except ValueError:
        return len(data_b64) * 3 // 4


def _block(block: Any) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent):
        return f"[image: {block.mime_type}, {_size(block.data)} bytes, not shown]"
    if isinstance(block, types.AudioContent):
        return f"[audio: {block.mime_type}, {_size(block.data)} bytes, not played]"
    if isinstance(block, types.ResourceLink):
        kind = f", {block.mime_type}" if block.mime_type else ""
        return f"[resource link: {block.name} <{block.uri}>{kind}]"
    if isinstance(block, types.EmbeddedResource):
        res = block.resource
        if isinstance(res, types.TextResourceContents):
            return f"[resource {res.uri}]\n{res.text}"
        if isinstance(res, types.BlobResourceContents):
            kind = res.mime_type or "binary"
            return f"[resource {res.uri}: {kind}, {_size(res.blob)} bytes, not shown]"
    return f"[{getattr(block, 'type', 'unknown')} content, not shown]"


def cap(text: str, limit: int = RESULT_MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[output cut at {limit} of {len(text)} characters]"


def to_result(result: types.CallToolResult) -> ToolResult:
    """One call's result, as the agent's tool result (not yet redacted: the registry
    redacts every result it hands back)."""
    text = "\n".join(_block(b) for b in result.content)
    structured = result.structured_content
    note = ""
    if structured is not None:
        as_json = json.dumps(structured, ensure_ascii=False, default=str)
        if not text:
            text = as_json
        if len(as_json) > RESULT_MAX_CHARS:  # kept out of events and the store, like text
            structured = None
            note = f"\n[structured content of {len(as_json)} characters left out]"
    if not text:
        text = "(the tool returned no content)"
    return ToolResult(
        text=cap(text) + note,
        is_error=bool(result.is_error),
        structured=None if result.is_error else structured,
    )
