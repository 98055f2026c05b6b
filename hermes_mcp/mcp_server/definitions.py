"""What ``tools/list`` needs to describe a tool: its definition (input and output schema,
annotations) and ``agent_run``'s output model. Split from :mod:`mapping` so that listing
the tools imports neither the agent's events nor the jobs (issue 24: ``tools/list``
imported the agent loop and the router's HTTP stack); ``mapping`` re-exports these.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from pydantic import BaseModel

from hermes_mcp.llm.records import AttemptRecord
from tools.registry import Tool, ToolAnnotations


def tool_annotations(meta: ToolAnnotations, title: str | None = None) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        title=meta.title or title,
        read_only_hint=meta.read_only,
        destructive_hint=False if meta.read_only else meta.destructive,
        idempotent_hint=meta.idempotent,
        open_world_hint=meta.open_world,
    )


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """MCP wants ``type: object`` at the root of every tool schema."""
    if schema.get("type") != "object":
        schema = {**schema, "type": "object"}
    return schema


def definition(
    name: str,
    description: str,
    args: type[BaseModel],
    meta: ToolAnnotations,
    output: type[BaseModel] | None = None,
) -> types.Tool:
    title = meta.title or name.replace("_", " ")
    return types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema=_object_schema(args.model_json_schema()),
        output_schema=None if output is None else _object_schema(output.model_json_schema()),
        annotations=tool_annotations(meta, title),
    )


def tool_definition(tool: Tool[Any]) -> types.Tool:
    return definition(tool.name, tool.description, tool.args, tool.annotations, tool.output)


class CompactionOut(BaseModel):
    """The conversation was compacted during the turn to fit the model's window."""

    tokens_before: int
    tokens_after: int
    summarized: bool


class UsageOut(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    compactions: list[CompactionOut] = []


class AgentRunOutput(BaseModel):
    session_id: str
    answer: str
    stop_reason: str
    provider: str | None
    model: str | None
    credential: str | None
    attempts: list[AttemptRecord]
    usage: UsageOut
    cost_usd: float | None
