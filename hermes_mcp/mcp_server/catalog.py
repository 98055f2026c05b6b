"""The tools the MCP server lists: the registry's (by the ``[mcp] toolsets``) and, in the
``agent`` toolset, the agent tools. Their names are fixed: hosts and users script them.

Each agent tool is an argument model, an output model (its ``outputSchema``) and
annotations; their handlers are in ``agent_tools.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field

from hermes_mcp.config import MCP_TOOLSETS
from hermes_mcp.mcp_server.mapping import AgentRunOutput, definition, tool_definition
from tools import Tool, ToolAnnotations, build_registry
from tools.delegation import DelegateArgs, DelegationOutput

DISK_TOOLSETS = frozenset({"files", "terminal"})  # refused when the workspace is /


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentRunArgs(_Args):
    prompt: str = Field(min_length=1, description="The task, as you would tell a colleague")
    session_id: str | None = Field(
        default=None, description="Continue this session (from an earlier result)"
    )
    model: str | None = Field(
        default=None, description="'<provider>:<model>' to try first (the fallbacks follow)"
    )
    toolsets: list[str] | None = Field(
        default=None,
        description="Toolsets the agent may use: files, terminal, web, memory, planning, "
        "skills, delegation, code (default: the configured ones)",
    )


class JobArgs(_Args):
    job_id: str = Field(min_length=1, description="The job_id agent_start returned")


class AgentResultArgs(JobArgs):
    wait_s: float = Field(
        default=0.0, ge=0, le=50, description="Wait up to this long for the job to end"
    )


class SessionsListArgs(_Args):
    limit: int = Field(default=20, ge=1, le=200)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")
    workspace_only: bool = Field(
        default=True,
        description="Only this server's workspaces' sessions (false asks the person first)",
    )


class SessionReadArgs(_Args):
    session_id: str = Field(min_length=1)


class NoArgs(_Args):
    pass


class AgentStartOutput(BaseModel):
    job_id: str
    session_id: str


class JobStatusOutput(BaseModel):
    job_id: str
    kind: Literal["turn", "delegation"]
    session_id: str
    state: Literal["running", "completed", "failed", "cancelled"]
    elapsed_s: float
    activity: str
    iterations: int
    model: str | None
    events: int


class AgentResultOutput(BaseModel):
    job_id: str
    state: Literal["running", "completed", "failed", "cancelled"]
    done: bool
    status: JobStatusOutput
    result: AgentRunOutput | None = None
    delegation: DelegationOutput | None = None
    error: str | None = None


class AgentCancelOutput(BaseModel):
    job_id: str
    cancelled: bool
    state: str


class SessionsListOutput(BaseModel):
    sessions: list[dict[str, Any]]
    next_cursor: str | None


class SessionReadOutput(BaseModel):
    session: dict[str, Any]
    turns: list[dict[str, Any]]
    messages: list[dict[str, Any]]


class ProvidersStatusOutput(BaseModel):
    credentials: list[dict[str, Any]]
    skips: list[dict[str, Any]] = Field(description="Routes the router skips now, why, until")
    chain: list[str]
    problem: str | None


_READ = ToolAnnotations(read_only=True, destructive=False, idempotent=True, kind="read")
_RUN = ToolAnnotations(read_only=False, destructive=True, idempotent=False, open_world=True)


@dataclass(frozen=True)
class AgentTool:
    name: str
    description: str
    args: type[BaseModel]
    output: type[BaseModel]
    annotations: ToolAnnotations
    needs_disk: bool = False


AGENT_TOOLS: tuple[AgentTool, ...] = (
    AgentTool(
        "agent_run",
        "Give Hermes a whole task: it works in the workspace with its own tools and model "
        "router (fallbacks included) until it has an answer. Continue a conversation with "
        "session_id. Long tasks: hosts that stop calls after about 60 s should use "
        "agent_start instead.",
        AgentRunArgs,
        AgentRunOutput,
        _RUN,
        needs_disk=True,
    ),
    AgentTool(
        "agent_start",
        "Start the same task as agent_run in the background and return at once with a "
        "job_id; follow it with agent_status, collect it with agent_result.",
        AgentRunArgs,
        AgentStartOutput,
        _RUN,
        needs_disk=True,
    ),
    AgentTool(
        "agent_status",
        "A background job's state, elapsed time, current activity, iterations and model.",
        JobArgs,
        JobStatusOutput,
        _READ,
    ),
    AgentTool(
        "agent_result",
        "A background job's result (waiting up to wait_s for it to end).",
        AgentResultArgs,
        AgentResultOutput,
        _READ,
    ),
    AgentTool(
        "agent_cancel",
        "Cancel a background job (its turn, tools and sub-agents stop).",
        JobArgs,
        AgentCancelOutput,
        ToolAnnotations(read_only=False, destructive=False, idempotent=True),
    ),
    AgentTool(
        "delegate_task",
        "Run independent sub-tasks as concurrent sub-agents (up to the configured cap, the "
        "rest queued) and return every result in this call; each task may name its model.",
        DelegateArgs,
        DelegationOutput,
        _RUN,
        needs_disk=True,
    ),
    AgentTool(
        "sessions_list",
        "Stored Hermes sessions, newest activity first.",
        SessionsListArgs,
        SessionsListOutput,
        _READ,
    ),
    AgentTool(
        "session_read",
        "One stored session: its turns and messages (also as the resource hermes://sessions/{id}).",
        SessionReadArgs,
        SessionReadOutput,
        _READ,
    ),
    AgentTool(
        "providers_status",
        "Every configured provider credential: available, cooling (until when) or dead, "
        "with its last failure class; fingerprints only, never secrets.",
        NoArgs,
        ProvidersStatusOutput,
        _READ,
    ),
)


@dataclass(frozen=True)
class Catalog:
    """What ``tools/list`` shows and what ``tools/call`` may run."""

    registry_tools: dict[str, Tool[Any]]
    agent_tools: dict[str, AgentTool]
    listed: tuple[types.Tool, ...]

    @classmethod
    def build(cls, toolsets: list[str] | None) -> Catalog:
        chosen = list(MCP_TOOLSETS if toolsets is None else toolsets)
        base = [t for t in chosen if t != "agent"]
        registry = {t.name: t for t in build_registry(base)}
        agent = {t.name: t for t in AGENT_TOOLS} if "agent" in chosen else {}
        if agent and "session_search" not in registry:  # the agent toolset's search
            (search,) = [t for t in build_registry(["memory"]) if t.name == "session_search"]
            registry[search.name] = search
        listed = [tool_definition(t) for t in registry.values()]
        listed += [
            definition(t.name, t.description, t.args, t.annotations, t.output)
            for t in agent.values()
        ]
        return cls(registry, agent, tuple(listed))

    def needs_disk(self, name: str) -> bool:
        tool = self.registry_tools.get(name)
        if tool is not None:
            return tool.toolset in DISK_TOOLSETS
        agent = self.agent_tools.get(name)
        return agent is not None and agent.needs_disk
