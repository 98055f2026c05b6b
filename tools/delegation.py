"""``delegate_task``'s data: its argument model and its result model.

The tool itself runs child agents, so it lives with the agent
(``hermes_mcp.agent.delegation`` builds the :class:`~tools.registry.Tool` and registers
it in the ``delegation`` toolset); ``tools/`` never imports the agent. What is here is
what the model and the edges see: the JSON Schema of the arguments and of the output.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.registry import ToolAnnotations

DELEGATE_TASK = "delegate_task"

DESCRIPTION = (
    "Hand independent sub-tasks to sub-agents that work concurrently and report back. "
    "Each task's goal and context become the sub-agent's first message, verbatim: it sees "
    "nothing of this conversation, so put every fact, path and constraint it needs in "
    "context. Each sub-agent has its own tools and budget; its final answer comes back as "
    "the task's summary. Pass all tasks in one call; extra tasks wait for a free slot."
)

ANNOTATIONS = ToolAnnotations(
    read_only=False, destructive=True, idempotent=False, open_world=True, kind="other"
)

TaskStatus = Literal["completed", "failed", "timeout"]


class DelegatedTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal: str = Field(min_length=1, description="What the sub-agent must achieve")
    context: str = Field(
        default="", description="Everything it needs to know (files, findings, constraints)"
    )
    toolsets: list[str] | None = Field(
        default=None, description="Toolsets it may use (default: this agent's)"
    )
    model: str | None = Field(
        default=None, description="'<provider>:<model>' to use instead of this agent's model"
    )
    timeout_s: float | None = Field(
        default=None, gt=0, description="Stop it after this long (default: the agent's limit)"
    )


class DelegateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tasks: list[DelegatedTask] = Field(min_length=1, description="The sub-tasks")


class TaskUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class TaskResult(BaseModel):
    task: int = Field(description="Index of the task in the call")
    goal: str
    status: TaskStatus
    summary: str = Field(description="The sub-agent's final answer (capped)")
    model: str | None = Field(description="'<provider>:<model>' that served its last call")
    usage: TaskUsage
    cost_usd: float | None
    duration_s: float
    exit_reason: str = Field(description="The sub-agent's stop reason")
    session_id: str | None
    error: str | None = None


class DelegationOutput(BaseModel):
    results: list[TaskResult]


def render(output: DelegationOutput) -> str:
    """The text the delegating model reads: one block per task."""
    blocks = []
    for r in output.results:
        head = f"## task {r.task}: {r.status} ({r.exit_reason}, {r.model or 'no model'}"
        head += f", {r.duration_s:.1f} s)\ngoal: {r.goal}"
        body = r.summary
        if r.status != "completed":
            body = f"error: {r.error or r.exit_reason}"
            if r.summary:
                body += f"\npartial answer: {r.summary}"
        blocks.append(f"{head}\n{body}")
    done = sum(1 for r in output.results if r.status == "completed")
    return f"{done}/{len(output.results)} tasks completed\n\n" + "\n\n".join(blocks)
