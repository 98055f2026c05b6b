"""``todo``: the session's plan, a list of items pending / in progress / completed.

Called with ``todos`` it replaces the whole plan (the model rewrites the list as work
moves on, like ACP's ``plan`` update, which always carries every entry); called
without, it returns the current plan. Items carry ACP's plan fields (content, status,
priority). The plan lives in the session's context (``ctx.plans[session_id]``); the
agent persists it with the session's tool results and emits a ``plan`` event from the
structured result.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.registry import Tool, ToolAnnotations, ToolResult

_MARKS = {"pending": "[ ]", "in_progress": "[>]", "completed": "[x]"}


class TodoItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=500)
    status: Literal["pending", "in_progress", "completed"] = "pending"
    priority: Literal["high", "medium", "low"] = "medium"


class TodoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    todos: list[TodoItem] | None = Field(
        default=None, max_length=100, description="The whole new plan; omit to read the plan"
    )


class Plan(BaseModel):
    entries: list[TodoItem]


def render(plan: Plan) -> str:
    if not plan.entries:
        return "the plan is empty"
    done = sum(1 for item in plan.entries if item.status == "completed")
    lines = [f"{_MARKS[item.status]} {item.content}" for item in plan.entries]
    return "\n".join([*lines, f"({done}/{len(plan.entries)} completed)"])


async def todo(args: TodoArgs, ctx: ToolContext) -> ToolResult:
    if args.todos is not None:
        ctx.plans[ctx.session_id] = [item.model_dump() for item in args.todos]
    plan = Plan.model_validate({"entries": ctx.plans.get(ctx.session_id, [])})
    return ToolResult(text=render(plan), structured=plan.model_dump())


TODO_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="todo",
        description=(
            "Read or rewrite this session's plan. Pass the full list of items each time "
            "(status pending, in_progress or completed); omit todos to read it."
        ),
        args=TodoArgs,
        fn=todo,
        toolset="planning",
        output=Plan,
        annotations=ToolAnnotations(destructive=False, idempotent=True, kind="think"),
    ),
)
