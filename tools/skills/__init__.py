"""Skills (agentskills.io): folders holding a ``SKILL.md``, the agent's procedural memory.

``format`` (the file: front matter checked, rendered), ``discovery`` (the roots in
precedence order, finding skills, problems), ``files`` (reading a skill's body and
files, confined to its folder), ``manage`` (writing the user's skills), ``tools`` (the
``skills`` toolset the model calls).
"""

from __future__ import annotations

from tools.skills.discovery import (
    SKILL_FILE,
    Problem,
    Root,
    Skill,
    SkillSet,
    discover,
    skill_roots,
    user_root,
)
from tools.skills.files import body
from tools.skills.format import Front, SkillFormatError, name_problem, parse

__all__ = [
    "SKILL_FILE",
    "Front",
    "Problem",
    "Root",
    "Skill",
    "SkillFormatError",
    "SkillSet",
    "body",
    "discover",
    "name_problem",
    "parse",
    "skill_roots",
    "user_root",
]
