"""The learning nudge: after many tool calls in one turn, the model is reminded that it
may keep what it learned as a skill (``skill_manage``), or improve the one it followed.

The reminder is one short user message added to each model request once the turn has
made ``[skills] learn_after_tool_calls`` calls (default 12; 0 never reminds). It is not
stored with the session and costs no extra model call: declining is simply answering as
the model would have. It is left out when the turn already wrote a skill, when the
model cannot (no ``skill_manage``), and for delegated children (their parent decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hermes_mcp.llm import types as llm

NUDGE = (
    "[Hermes: this task has taken {n} tool calls so far. When it is done, if it taught "
    "you a procedure worth reusing, save it with skill_manage (action 'create': a short "
    "name, when to use it, the steps), or improve the skill you followed (action "
    "'patch'). If not, ignore this note; do not mention it.]"
)


def reminder(
    calls: Sequence[str], threshold: int, tool_names: Iterable[str], *, depth: int
) -> tuple[llm.Message, ...]:
    """The messages to add to the next request: the nudge, or nothing."""
    if threshold <= 0 or depth > 0 or len(calls) < threshold or "skill_manage" in calls:
        return ()
    if "skill_manage" not in set(tool_names):
        return ()
    return (llm.Message.user(NUDGE.format(n=len(calls))),)
