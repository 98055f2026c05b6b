"""The ``skills`` toolset: ``skills_list``, ``skill_view`` and ``skill_manage``.

Progressive disclosure: the system prompt names each skill with its description only;
``skill_view`` loads a skill's instructions (or one file of its folder) when the model
decides it applies. ``skill_manage`` creates, patches and deletes the user's own skills
(``$HERMES_MCP_HOME/skills`` only). A skill shapes every later session, so a write is a
risky action whatever the policy mode says about the workspace: it goes to the approver
in ``ask`` and ``accept_edits`` (refused when nobody can be asked, which is what stops a
prompt injection from planting one), and through in ``auto`` or with an allow rule
(``tool:skill_manage``, ``write:~/.hermes-mcp/skills/**``). The change is shown as a
diff in the request. What is written is redacted first (key shapes, registered secrets).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hermes_mcp.log import redact
from tools.approval import ApprovalRequest
from tools.context import ToolContext
from tools.diffs import make_diff
from tools.registry import Tool, ToolAnnotations, ToolError, ToolResult
from tools.skills import files, manage
from tools.skills.discovery import Skill, SkillSet, discover, skill_roots, user_root
from tools.skills.format import MAX_DESCRIPTION, Front, name_problem, render

WRITE_RISK = (
    "a skill is read by every later session and shapes what the agent does; allow with "
    "an allow rule 'tool:skill_manage' or policy.mode = 'auto'"
)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SkillsListArgs(_Args):
    query: str | None = Field(default=None, description="Only skills whose name or text has it")


class SkillViewArgs(_Args):
    name: str = Field(min_length=1, max_length=200, description="The skill's name")
    path: str | None = Field(
        default=None,
        max_length=1000,
        description="A file of the skill's folder (e.g. references/api.md); default: its "
        "instructions (SKILL.md's body)",
    )


class SkillManageArgs(_Args):
    action: Literal["create", "patch", "delete"]
    name: str = Field(min_length=1, max_length=200, description="lowercase-with-hyphens")
    description: str | None = Field(
        default=None,
        max_length=MAX_DESCRIPTION,
        description="For create: what the skill does and when to use it",
    )
    body: str | None = Field(
        default=None, description="For create: the instructions (Markdown), step by step"
    )
    old_text: str | None = Field(
        default=None, description="For patch: text of SKILL.md to replace (exactly once)"
    )
    new_text: str | None = Field(default=None, description="For patch: its replacement")

    @model_validator(mode="after")
    def _needs(self) -> SkillManageArgs:
        if self.action == "create" and not (self.description and self.body):
            raise ValueError("description and body are required for create")
        if self.action == "patch" and (not self.old_text or self.new_text is None):
            raise ValueError("old_text and new_text are required for patch")
        return self


class SkillInfo(BaseModel):
    name: str
    description: str
    scope: Literal["user", "project"]
    root: str
    path: str


class SkillsListOutput(BaseModel):
    skills: list[SkillInfo]
    problems: list[str]


class SkillViewOutput(BaseModel):
    name: str
    path: str
    content: str
    files: list[str]


class SkillManageOutput(BaseModel):
    action: Literal["create", "patch", "delete"]
    name: str
    path: str


async def found(ctx: ToolContext) -> SkillSet:
    """The skills this context sees (its state directory and workspace roots)."""
    roots = skill_roots(ctx.state_dir, ctx.roots)
    return await anyio.to_thread.run_sync(discover, roots)


def info(skill: Skill) -> SkillInfo:
    return SkillInfo(
        name=skill.name,
        description=skill.description,
        scope=skill.root.scope,
        root=skill.root.label,
        path=str(skill.file),
    )


async def skills_list(args: SkillsListArgs, ctx: ToolContext) -> ToolResult:
    found_set = await found(ctx)
    needle = (args.query or "").lower()
    chosen = [s for s in found_set.skills if needle in s.name or needle in s.description.lower()]
    lines = [f"{s.name}: {s.description}" for s in chosen]
    text = "\n".join(lines) or ("no skill matches" if needle else "no skills")
    output = SkillsListOutput(
        skills=[info(s) for s in chosen], problems=[str(p) for p in found_set.problems]
    )
    return ToolResult(text=text, structured=output.model_dump())


async def skill_view(args: SkillViewArgs, ctx: ToolContext) -> ToolResult:
    found_set = await found(ctx)
    skill = found_set.get(args.name)
    if skill is None:
        known = ", ".join(found_set.names) or "none"
        raise ToolError(f"no skill named {args.name!r}; skills: {known}")
    if args.path is None or args.path in ("SKILL.md", "./SKILL.md"):
        ctx.check_path_denied("read", skill.file)  # a read: deny rule covers skills too
        content = await anyio.to_thread.run_sync(files.body, skill)
        listed = await anyio.to_thread.run_sync(files.listing, skill)
        shown = "SKILL.md"
        text = content
        if listed:
            text += "\n\n[files in this skill: " + ", ".join(listed) + "]"
    else:
        parts = files.relative_parts(args.path)
        ctx.check_path_denied("read", skill.folder.joinpath(*parts))
        content = await anyio.to_thread.run_sync(files.read_text, skill, parts)
        listed, shown, text = [], "/".join(parts), content
    output = SkillViewOutput(name=skill.name, path=shown, content=content, files=listed)
    return ToolResult(text=text, structured=output.model_dump())


async def skill_manage(args: SkillManageArgs, ctx: ToolContext) -> ToolResult:
    problem = name_problem(args.name)
    if problem is not None:
        raise ToolError(f"refused: {problem} (a skill name is a folder name, never a path)")
    if ctx.state_dir is None:
        raise ToolError("skills cannot be written: no hermes state directory")
    root = user_root(ctx.state_dir).path
    target = root / args.name / "SKILL.md"
    old: str | None = None
    if args.action == "create":
        assert args.description is not None and args.body is not None
        # Redacted before anything is written, as memory notes are: a key the model saw
        # never lands in a file every later session reads.
        front = Front(name=args.name, description=redact(args.description.strip()))
        new = render(front, redact(args.body))
        manage.check(new, args.name)
    elif args.action == "patch":
        assert args.old_text is not None and args.new_text is not None
        old = await anyio.to_thread.run_sync(manage.current, root, args.name)
        new = manage.patched(old, args.old_text, redact(args.new_text), args.name)
    else:
        old = await anyio.to_thread.run_sync(manage.current, root, args.name)
        new = ""
    diff = make_diff(target, f"skills/{args.name}/SKILL.md", old, new)
    verb = {"create": "create", "patch": "change", "delete": "delete"}[args.action]
    await ctx.authorize(
        ApprovalRequest(
            tool="skill_manage",
            kind="delete" if args.action == "delete" else "edit",
            action="write",
            title=f"skill_manage: {verb} the skill {args.name!r}",
            paths=(target,),
            risk=WRITE_RISK,
            diff=diff,
        )
    )
    if args.action == "create":
        await anyio.to_thread.run_sync(manage.create, root, args.name, new)
        done = f"Created the skill {args.name!r} ({target})"
    elif args.action == "patch":
        assert old is not None
        write = functools.partial(manage.write, expected=old)
        await anyio.to_thread.run_sync(write, root, args.name, new)
        done = f"Patched the skill {args.name!r} ({target})"
    else:
        assert old is not None
        delete = functools.partial(manage.delete, expected=old)
        await anyio.to_thread.run_sync(delete, root, args.name)
        done = f"Deleted the skill {args.name!r} ({root / args.name})"
    output = SkillManageOutput(action=args.action, name=args.name, path=str(target))
    return ToolResult(text=done, structured=output.model_dump(), diff=diff)


_READ = ToolAnnotations(read_only=True, destructive=False, idempotent=True, kind="read")

SKILL_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="skills_list",
        description="The skills (saved procedures) available here: name and description.",
        args=SkillsListArgs,
        fn=skills_list,
        toolset="skills",
        output=SkillsListOutput,
        annotations=_READ,
    ),
    Tool(
        name="skill_view",
        description=(
            "Load a skill's instructions before following it, or one file of its folder "
            "(path relative to the skill)."
        ),
        args=SkillViewArgs,
        fn=skill_view,
        toolset="skills",
        output=SkillViewOutput,
        annotations=_READ,
    ),
    Tool(
        name="skill_manage",
        description=(
            "Save a reusable procedure as a skill (create: name, description, body), improve "
            "one (patch: old_text -> new_text of its SKILL.md) or delete one. Only the "
            "user's own skills are written; each write needs approval."
        ),
        args=SkillManageArgs,
        fn=skill_manage,
        toolset="skills",
        output=SkillManageOutput,
        annotations=ToolAnnotations(destructive=True, kind="edit"),
    ),
)
