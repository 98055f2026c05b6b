"""``hermes-mcp skills [list|show NAME] [--json] [--workspace DIR]``: the skills Hermes
sees from a workspace (default: the current directory), as the agent, the MCP prompts
and the ACP commands see them.

Needs no config file. ``list`` prints one line per skill (name, where it comes from,
description), then the skills skipped (bad ones, with the reason) and those shadowed by
a skill of the same name in an earlier root; ``show NAME`` prints one skill's front
matter, its instructions and its files. Exit codes: 0 done; 2 an unknown skill or a
skill that cannot be read. With ``--json`` stdout holds exactly one JSON object:
``list`` ``{"skills", "shadowed", "problems"}``, ``show`` ``{"skill", "body", "files"}``,
an error ``{"error": {"class": "usage", "message"}}``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_mcp.config import home_dir
from hermes_mcp.log import redact

# The tools package (tree-sitter, RE2...) loads only when `skills` runs: the command
# line's other commands start without it.
if TYPE_CHECKING:
    from tools.skills import Skill, SkillSet

Write = Callable[[str], None]


def add_parser(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    skills = sub.add_parser("skills", help="the skills Hermes sees: list, show NAME")
    skills.add_argument("--json", action="store_true", help="print one JSON object")
    skills.add_argument("--workspace", metavar="DIR", help="the project (default: cwd)")
    skills.set_defaults(name=None)
    actions = skills.add_subparsers(dest="action", parser_class=parser_class)
    for name, summary in (("list", "every skill (the default action)"), ("show", "one skill")):
        parser = actions.add_parser(name, help=summary)
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        parser.add_argument("--workspace", metavar="DIR", default=argparse.SUPPRESS)
        if name == "show":
            parser.add_argument("name", help="the skill's name")


def describe(skill: Skill) -> dict[str, Any]:
    front = skill.front
    return {
        "name": skill.name,
        "description": skill.description,
        "scope": skill.root.scope,
        "root": skill.root.label,
        "path": str(skill.file),
        "license": front.license,
        "compatibility": front.compatibility,
        "metadata": front.metadata,
        "allowed_tools": list(front.allowed_tools),
        "argument_hint": front.argument_hint,
    }


def _list(found: SkillSet) -> tuple[dict[str, Any], str]:
    result = {
        "skills": [describe(s) for s in found.skills],
        "shadowed": [describe(s) for s in found.shadowed],
        "problems": [{"path": str(p.path), "message": p.message} for p in found.problems],
    }
    width = max((len(s.name) for s in found.skills), default=0)
    lines = [f"{s.name.ljust(width)}  [{s.root.label}]  {s.description}" for s in found.skills]
    if not lines:
        lines.append("no skills")
    lines += [f"skipped {p.path}: {p.message}" for p in found.problems]
    lines += [f"shadowed {s.folder} (an earlier root has {s.name!r})" for s in found.shadowed]
    return result, "\n".join(lines)


def _show(found: SkillSet, name: str) -> tuple[dict[str, Any], str]:
    from tools import ToolError
    from tools.skills.files import body, listing

    skill = found.get(name)
    if skill is None:
        known = ", ".join(found.names) or "none"
        raise ToolError(f"no skill {name!r}; skills: {known}")
    text, files = body(skill), listing(skill)
    header = [f"{skill.name}: {skill.description}", f"path: {skill.file} [{skill.root.label}]"]
    if files:
        header.append("files: " + ", ".join(files))
    result = {"skill": describe(skill), "body": text, "files": files}
    return result, "\n".join(header) + "\n\n" + text


def cmd_skills(args: argparse.Namespace, out: Write, err: Write) -> int:
    from tools import ToolError
    from tools.skills import discover, skill_roots

    workspace = Path(args.workspace).expanduser().resolve() if args.workspace else Path.cwd()
    found = discover(skill_roots(home_dir(), [workspace]))
    try:
        if args.action == "show":
            result, text = _show(found, args.name)
        else:
            result, text = _list(found)
    except ToolError as exc:
        if args.json:
            out(json.dumps({"error": {"class": "usage", "message": redact(str(exc))}}))
        else:
            err(f"hermes-mcp: {exc}")
        return 2
    out(redact(json.dumps(result, indent=2)) if args.json else redact(text))
    return 0
