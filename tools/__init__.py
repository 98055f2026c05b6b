"""The tool registry and the agent's tools. Imports no protocol edge.

``build_registry(toolsets)`` returns a :class:`ToolRegistry` holding the tools of the
named toolsets (``files``, ``terminal``, ``web``, ``memory``, ``planning``,
``skills``; ``delegation`` and ``code`` are known but filled by the agent, which registers
``delegate_task`` and ``execute_code`` per turn: ``tools.code_mode.code_tool``).
``default_registry()`` holds every built-in tool. Each call builds fresh
registries, so a caller may register more tools without touching anyone else's.

Layout: ``registry`` (Tool, ToolResult, ToolRegistry), ``context`` (ToolContext,
Limits), ``approval`` (ApprovalRequest, Decision, Approver), ``policy`` (rules and
modes), ``shell`` (commands parsed as ``sh`` does), ``urls`` (fetch rules on parsed
URLs), ``paths`` (confinement, sensitive files, no-follow opening), ``linear_re``
(RE2 for model-supplied patterns), ``environment`` (the scrubbed command environment),
``backends/`` (file and terminal back-ends: ``base``, ``local_files``,
``local_terminal``), ``skills/`` (agentskills.io skills and their toolset), then one
module per tool or small group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tools.approval import (
    ApprovalRequest,
    Approver,
    Decision,
    NonInteractiveApprover,
    StaticApprover,
)
from tools.backends import (
    CommandOutcome,
    FileBackend,
    LocalFiles,
    LocalTerminal,
    TerminalBackend,
    TerminalStarted,
)
from tools.context import Limits, ProgressReporter, ToolContext
from tools.files import FILE_TOOLS
from tools.memory import MEMORY_TOOLS
from tools.patch import PATCH_TOOLS
from tools.policy import Policy, Rule, Verdict
from tools.registry import (
    TOOLSETS,
    FileDiff,
    Location,
    Tool,
    ToolAnnotations,
    ToolDenied,
    ToolError,
    ToolKind,
    ToolRegistry,
    ToolResult,
)
from tools.search import SEARCH_TOOLS
from tools.sessions import SESSION_TOOLS
from tools.skills.tools import SKILL_TOOLS
from tools.terminal import TERMINAL_TOOLS
from tools.todo import TODO_TOOLS
from tools.web import WEB_TOOLS

BUILTIN_TOOLS: tuple[Tool[Any], ...] = (
    *FILE_TOOLS,
    *PATCH_TOOLS,
    *SEARCH_TOOLS,
    *TERMINAL_TOOLS,
    *WEB_TOOLS,
    *MEMORY_TOOLS,
    *SESSION_TOOLS,
    *TODO_TOOLS,
    *SKILL_TOOLS,
)


def build_registry(toolsets: Iterable[str] | None = None) -> ToolRegistry:
    """The built-in tools of ``toolsets`` (all of them when ``None``); unknown names raise
    ValueError."""
    registry = ToolRegistry(BUILTIN_TOOLS)
    return registry if toolsets is None else registry.by_toolsets(toolsets)


def default_registry() -> ToolRegistry:
    return build_registry()


__all__ = [
    "BUILTIN_TOOLS",
    "TOOLSETS",
    "ApprovalRequest",
    "Approver",
    "CommandOutcome",
    "Decision",
    "FileBackend",
    "FileDiff",
    "Limits",
    "LocalFiles",
    "LocalTerminal",
    "Location",
    "NonInteractiveApprover",
    "Policy",
    "ProgressReporter",
    "Rule",
    "StaticApprover",
    "TerminalBackend",
    "TerminalStarted",
    "Tool",
    "ToolAnnotations",
    "ToolContext",
    "ToolDenied",
    "ToolError",
    "ToolKind",
    "ToolRegistry",
    "ToolResult",
    "Verdict",
    "build_registry",
    "default_registry",
]
