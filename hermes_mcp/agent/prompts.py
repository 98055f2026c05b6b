"""The system prompts: one for an agent answering a user, one for a delegated task.

The system prompt is rebuilt for every turn and never stored with the session. When the
``skills`` toolset is on, it ends with a section naming each skill with its description
only (progressive disclosure: ``skill_view`` loads the instructions); that section is
one seam (:func:`skills_section`, fed by :func:`offered_skills`), so a composed prompt
can place it where it likes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools import ToolContext

MAX_LISTED_SKILLS = 100
MAX_SKILLS_CHARS = 12_000
_SPACES = re.compile(r"\s+")

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


def system_prompt(
    cwd: Path,
    tool_names: Iterable[str],
    *,
    delegated: bool,
    skills: Sequence[tuple[str, str, str]] = (),
) -> str:
    """``skills`` are ``(name, description, scope)`` triples (:func:`offered_skills`)."""
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
    base = f"{intro}\n\n{common}\n\nTools available: {tools}."
    return base + skills_section(skills)


def skills_section(skills: Sequence[tuple[str, str, str]]) -> str:
    """The skills, one line each (name and description, never the body); empty when
    there are none. Descriptions come from files (a project's too): each is one line."""
    if not skills:
        return ""
    lines: list[str] = []
    size = 0
    for name, description, scope in skills[:MAX_LISTED_SKILLS]:
        line = f"- {name}: {_SPACES.sub(' ', description)}"
        if scope == "project":
            line += " (from this project)"
        size += len(line) + 1
        if size > MAX_SKILLS_CHARS:
            break
        lines.append(line)
    more = len(skills) - len(lines)
    if more:
        lines.append(f"- ... and {more} more: call skills_list")
    return (
        "\n\nSkills (saved procedures). When one applies to the task, load its "
        "instructions with skill_view before you start, and follow them:\n" + "\n".join(lines)
    )


async def offered_skills(
    context: ToolContext, tool_names: Iterable[str]
) -> list[tuple[str, str, str]]:
    """The skills the system prompt names: those this context sees, when the model can
    load them (``skill_view`` is among its tools); else none."""
    if "skill_view" not in set(tool_names):
        return []
    from tools.skills.tools import found

    return [(s.name, s.description, s.root.scope) for s in (await found(context)).skills]


def task_message(goal: str, context: str) -> str:
    """A delegated task's first user message: its goal and its context, verbatim."""
    return f"{goal}\n\n{context}" if context else goal
