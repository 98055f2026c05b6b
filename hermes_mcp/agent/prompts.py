"""The system prompts: one for an agent answering a user, one for a delegated task.

The system prompt is rebuilt for every model call and never stored with the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

_COMMON = (
    "Work in the workspace {cwd}. Use the tools to inspect and change files and to run "
    "commands; never guess at file contents you can read. Tools that only read may be "
    "called several at once. Risky actions may need the user's approval; if one is "
    "refused, do not try to work around the refusal. When the work is done, reply with "
    "the answer, without calling a tool."
)


_CODE = (
    "For work that takes many tool calls (reading or searching many files, the same edit "
    "in many places), write one execute_code script that calls the tools and prints only "
    "what you need: the intermediate results then cost no context."
)


def system_prompt(cwd: Path, tool_names: Iterable[str], *, delegated: bool) -> str:
    names = sorted(tool_names)
    tools = ", ".join(names) or "none"
    if delegated:
        intro = (
            "You are a Hermes sub-agent. Another agent delegated one task to you; its "
            "first message holds your goal and everything you are told. Your final answer "
            "is returned to that agent as your report: make it self-contained and short, "
            "with the facts, paths and results it needs."
        )
    else:
        intro = "You are Hermes, a coding agent."
    common = _COMMON.format(cwd=cwd)
    if "execute_code" in names:
        common = f"{common} {_CODE}"
    return f"{intro}\n\n{common}\n\nTools available: {tools}."


def task_message(goal: str, context: str) -> str:
    """A delegated task's first user message: its goal and its context, verbatim."""
    return f"{goal}\n\n{context}" if context else goal
