"""The system prompts: one for an agent answering a user, one for a delegated task.

A system prompt is a list of sections joined by blank lines, in this order: who the agent
is, how it works in the workspace, its tools, then the sections a session adds (the
project's and the user's instructions, ``context_files.render``; the memory notes,
``memory_notes.render``; others may follow). An empty section is left out. The prompt is
rebuilt for every turn and never stored with the session; built from the same inputs it
is the same bytes, so a provider's prompt cache keeps hitting until something changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

_COMMON = (
    "Work in the workspace {cwd}. Use the tools to inspect and change files and to run "
    "commands; never guess at file contents you can read. Tools that only read may be "
    "called several at once. Risky actions may need the user's approval; if one is "
    "refused, do not try to work around the refusal. When the work is done, reply with "
    "the answer, without calling a tool."
)


def system_prompt(
    cwd: Path, tool_names: Iterable[str], *, delegated: bool, sections: Sequence[str] = ()
) -> str:
    """The system prompt; ``sections`` are the session's own, rendered, in order."""
    tools = ", ".join(sorted(tool_names)) or "none"
    if delegated:
        intro = (
            "You are a Hermes sub-agent. Another agent delegated one task to you; its "
            "first message holds your goal and everything you are told. Your final answer "
            "is returned to that agent as your report: make it self-contained and short, "
            "with the facts, paths and results it needs."
        )
    else:
        intro = "You are Hermes, a coding agent."
    parts = [intro, _COMMON.format(cwd=cwd), f"Tools available: {tools}.", *sections]
    return "\n\n".join(part for part in parts if part)


def task_message(goal: str, context: str) -> str:
    """A delegated task's first user message: its goal and its context, verbatim."""
    return f"{goal}\n\n{context}" if context else goal
