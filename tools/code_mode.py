"""``execute_code``: a Python script that calls the agent's tools (the ``code`` toolset).

The model writes one script instead of many tool calls; the intermediate results stay
in the script and cost no context. The script runs in Monty (``tools/sandbox.py``): it
can touch nothing itself. Each tool of the turn is a function of the script, called by
its name with keyword arguments; the call goes to ``dispatch`` (the agent's: the same
registry call, policy, approvals, confinement and redaction as a direct call, emitted
as a child tool call of the ``execute_code`` call) and returns the tool's text, or
raises ``PermissionError`` (refused) or ``RuntimeError`` (failed) in the script.

Like ``delegate_task``, the tool is built per turn (:func:`code_tool`), from the turn's
registry: its description lists each function with its signature, generated from the
tools' schemas, so mounted MCP tools appear too. The order is stable (built-in tools in
registry order, then the open toolsets' tools by name): the description is part of the
prompt prefix a provider caches.
"""

from __future__ import annotations

import keyword
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from tools.approval import ApprovalRequest, Approver, Decision
from tools.context import ToolContext
from tools.registry import (
    OPEN_TOOLSETS,
    Tool,
    ToolAnnotations,
    ToolRegistry,
    ToolResult,
)
from tools.sandbox import Clock, HostCallError, run_script

EXECUTE_CODE = "execute_code"
NOT_CALLABLE = frozenset({EXECUTE_CODE, "delegate_task"})
OUTPUT_CAP = 64_000  # characters of printed output the model reads
SUMMARY_CHARS = 160  # of each function's description

ANNOTATIONS = ToolAnnotations(
    read_only=False, destructive=True, idempotent=False, open_world=True, kind="execute"
)

#: What runs one inner call: (name, arguments, the execute_code call's context, clock)
#: → the tool's result. The agent's engine provides it.
Dispatch = Callable[[str, dict[str, Any], ToolContext, Clock], Awaitable[ToolResult]]


@dataclass(frozen=True)
class PausingApprover:
    """A script's clock stops while a person is asked about one of its calls."""

    approver: Approver
    clock: Clock

    async def approve(self, request: ApprovalRequest) -> Decision:
        decision: Decision = await self.clock.paused(self.approver.approve(request))
        return decision


class CodeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, description="The Python script to run")


_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
    "null": "None",
}


def _type(schema: dict[str, Any]) -> str:
    if not isinstance(schema, dict):
        return "Any"
    values = schema.get("enum")
    if isinstance(values, list) and 0 < len(values) <= 8:
        return " | ".join(_default(v) for v in values)
    kind = schema.get("type")
    if isinstance(kind, str):
        return _TYPES.get(kind, "Any")
    if isinstance(kind, list):
        names = [_TYPES.get(k, "Any") for k in kind if isinstance(k, str)]
        return " | ".join(dict.fromkeys(names)) or "Any"
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list) and options:
        return " | ".join(dict.fromkeys(_type(o) for o in options))
    return "Any"


def _default(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else "..."


def signature(tool: Tool[Any], name: str | None = None) -> str:
    """``name(*, a: str, b: int = 10) -> str``, from the tool's argument schema."""
    schema = tool.json_schema()
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    params = []
    for key, prop in properties.items():
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            continue
        text = f"{key}: {_type(prop)}"
        if key not in required:
            default = prop.get("default") if isinstance(prop, dict) else None
            text += f" = {_default(default)}"
        params.append((key not in required, text))
    params.sort(key=lambda p: p[0])  # required first; stable within each group
    inner = ", ".join(text for _, text in params)
    return f"{name or tool.name}({'*, ' + inner if inner else ''}) -> str"


def _summary(description: str) -> str:
    line = " ".join(description.split())
    end = line.find(". ")
    if end != -1:
        line = line[: end + 1]
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


def script_name(name: str) -> str | None:
    """The function name of a tool in a script: its own name, or for a mounted tool
    whose name is not a Python identifier (``my-server__x``, ``1pass__x``) the name with
    ``-`` as ``_`` (and a leading ``_`` before a digit); ``None`` when there is none."""
    alias = name.replace("-", "_")
    if alias[:1].isdigit():
        alias = "_" + alias
    ok = alias.isidentifier() and not keyword.iskeyword(alias) and alias not in NOT_CALLABLE
    return alias if ok else None


def callable_tools(registry: ToolRegistry) -> dict[str, Tool[Any]]:
    """The tools a script may call by their function names, in the description's stable
    order (built-in tools in registry order, then the open toolsets' by name). A name two
    tools would share (``a-b__x`` and ``a_b__x``) goes to neither."""
    builtin = [t for t in registry if t.toolset not in OPEN_TOOLSETS]
    mounted = sorted((t for t in registry if t.toolset in OPEN_TOOLSETS), key=lambda t: t.name)
    named: dict[str, Tool[Any]] = {}
    clashes: set[str] = set()
    for tool in builtin + mounted:
        alias = script_name(tool.name)
        if alias is None:
            continue
        if alias in named:
            clashes.add(alias)
        named[alias] = tool
    return {alias: tool for alias, tool in named.items() if alias not in clashes}


def describe(tools: dict[str, Tool[Any]], *, timeout_s: float, max_calls: int) -> str:
    lines = [
        "Run a Python script that calls your tools as functions, for work that takes many "
        "tool calls (read, filter, combine, summarise): only what the script prints comes "
        "back, not each call's result. Each function takes keyword arguments only, returns "
        "the tool's text result as a str, and raises PermissionError when the action is "
        "refused or RuntimeError when the tool fails (catch them with try/except). Every "
        "call is checked and approved exactly as a direct tool call.",
        "The script is sandboxed Python (a subset: functions, classes, loops, "
        "comprehensions, f-strings, try/except; modules json, re, math, datetime, ...): "
        "no open(), no os, no network, no subprocess, no imports of your own; use the "
        "functions below instead. Print what you want to read back. Limits: "
        f"{timeout_s:g} s, {max_calls} function calls, {OUTPUT_CAP} characters of output.",
        "Functions:",
    ]
    for name, tool in tools.items():
        lines.append(f"- {signature(tool, name)}: {_summary(tool.description)}")
    return "\n".join(lines)


def code_tool(
    registry: ToolRegistry, dispatch: Dispatch, *, timeout_s: float, max_calls: int
) -> Tool[CodeArgs]:
    """The ``execute_code`` tool of one turn, whose script may call ``registry``'s tools."""
    tools = callable_tools(registry)

    async def execute(args: CodeArgs, ctx: ToolContext) -> ToolResult:
        request = ApprovalRequest(
            tool=EXECUTE_CODE, kind="execute", action="read", title=EXECUTE_CODE
        )
        ctx.refuse_if_denied(request)  # a `tool:execute_code` deny rule
        clock = Clock(anyio.CancelScope())

        async def call(name: str, kwargs: dict[str, Any]) -> str:
            result = await dispatch(tools[name].name, kwargs, ctx, clock)
            if result.denied:
                raise HostCallError("PermissionError", result.text)
            if result.is_error:
                raise HostCallError("RuntimeError", result.text)
            return result.text

        outcome = await run_script(
            args.code,
            frozenset(tools),
            call,
            timeout_s=timeout_s,
            max_calls=max_calls,
            output_cap=OUTPUT_CAP,
            clock=clock,
        )
        text = outcome.output
        if outcome.value is not None:  # a last expression, as a REPL shows it
            room = max(OUTPUT_CAP - len(text), 200)
            value = outcome.value if len(outcome.value) <= room else outcome.value[:room] + "…"
            text += ("" if not text or text.endswith("\n") else "\n") + value
        structured = {"calls": outcome.calls, "error": outcome.error}
        if outcome.error is None:
            return ToolResult(text=text or "(the script printed nothing)", structured=structured)
        body = f"{text.rstrip()}\n\n" if text.strip() else ""
        return ToolResult(
            text=f"{body}the script failed: {outcome.error}", is_error=True, structured=structured
        )

    return Tool(
        name=EXECUTE_CODE,
        description=describe(tools, timeout_s=timeout_s, max_calls=max_calls),
        args=CodeArgs,
        fn=execute,
        toolset="code",
        annotations=ANNOTATIONS,
    )
