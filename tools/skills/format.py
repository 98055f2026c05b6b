"""The ``SKILL.md`` format (agentskills.io): YAML front matter between ``---`` lines,
then a Markdown body.

:func:`parse` checks the front matter as the specification says and returns it (a
:class:`Front`) with the body, or raises :class:`SkillFormatError` naming the field:
``name`` is 1–64 lowercase letters, digits and hyphens, with no leading, trailing or doubled hyphen,
and equal to the skill's folder name; ``description`` is 1–1,024 characters; the optional
``license`` (a string), ``compatibility`` (1–500 characters), ``metadata`` (a map of
string keys to scalar values, kept as strings) and ``allowed-tools`` (a space-separated
string, or a list of strings as Claude Code writes it). Other keys are ignored (Claude
Code's ``argument-hint`` is kept as the hint of the skill's command and prompt).

A skill file is untrusted input (a cloned repository brings its own): the YAML is read
by PyYAML's safe loader (no Python objects), the front matter is capped at
:data:`MAX_FRONT_MATTER` bytes and the whole file at :data:`MAX_SKILL_BYTES`, and values
are type-checked before anything uses them (an alias-built structure never gets past a
field that must be a string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_SKILL_BYTES = 256 * 1024  # a SKILL.md larger than this is refused
MAX_FRONT_MATTER = 16 * 1024
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_HINT = 200
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SkillFormatError(ValueError):
    """A ``SKILL.md`` that breaks the format; the message names the field."""


@dataclass(frozen=True)
class Front:
    """A ``SKILL.md``'s checked front matter."""

    name: str
    description: str
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()
    argument_hint: str | None = None


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid skill name, or ``None``."""
    if not name:
        return "name is empty"
    if len(name) > MAX_NAME:
        return f"name is {len(name)} characters long (at most {MAX_NAME})"
    if NAME.fullmatch(name) is None:
        return (
            f"name {name[:80]!r} must be lowercase letters, digits and hyphens, "
            "with no leading, trailing or doubled hyphen"
        )
    return None


def split(text: str) -> tuple[str, str]:
    """``(front matter, body)``; SkillFormatError when there is no front matter."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise SkillFormatError("no front matter: the file must start with a '---' line")
    size = 0
    for i, line in enumerate(lines[1:], 1):
        if line.rstrip("\r\n").rstrip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
        size += len(line)
        if size > MAX_FRONT_MATTER:
            break
    if size > MAX_FRONT_MATTER:
        raise SkillFormatError(f"front matter is longer than {MAX_FRONT_MATTER} bytes")
    raise SkillFormatError("front matter is not closed by a '---' line")


def _load(front: str) -> dict[str, Any]:
    try:
        data = yaml.load(front, Loader=_Loader)  # a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise SkillFormatError(f"front matter is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise SkillFormatError("front matter is nested too deeply") from None
    if not isinstance(data, dict):
        raise SkillFormatError("front matter must be a YAML mapping (name: ..., description: ...)")
    return data


def _text(data: dict[str, Any], key: str, limit: int | None, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise SkillFormatError(f"{key} is missing")
        return None
    if not isinstance(value, str):
        raise SkillFormatError(f"{key} must be a string, not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise SkillFormatError(f"{key} is empty")
    if limit is not None and len(value) > limit:
        raise SkillFormatError(f"{key} is {len(value)} characters long (at most {limit})")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SkillFormatError("metadata must be a map of string keys to string values")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str | int | float | bool):
            raise SkillFormatError("metadata must be a map of string keys to string values")
        out[key] = str(item)
    return out


def _tools(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise SkillFormatError("allowed-tools must be a space-separated string or a list of strings")


def parse(text: str, folder: str | None = None) -> tuple[Front, str]:
    """Parse and check one ``SKILL.md``: its front matter and its body; ``folder`` is its
    folder's name, which ``name`` must equal. Raises SkillFormatError. The body may be
    cut short (discovery reads only the head of each file)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SKILL_BYTES:
        raise SkillFormatError(f"SKILL.md is larger than {MAX_SKILL_BYTES} bytes")
    raw, body = split(text)
    data = _load(raw)
    name = _text(data, "name", None, required=True)
    assert name is not None
    problem = name_problem(name)
    if problem is not None:
        raise SkillFormatError(problem)
    if folder is not None and name != folder:
        raise SkillFormatError(f"name {name!r} differs from its folder's name {folder!r}")
    description = _text(data, "description", MAX_DESCRIPTION, required=True)
    assert description is not None
    front = Front(
        name=name,
        description=description,
        license=_text(data, "license", None, required=False),
        compatibility=_text(data, "compatibility", MAX_COMPATIBILITY, required=False),
        metadata=_metadata(data.get("metadata")),
        allowed_tools=_tools(data.get("allowed-tools")),
        argument_hint=_text(data, "argument-hint", MAX_HINT, required=False),
    )
    return front, body.strip("\n")


def render(front: Front, body: str) -> str:
    """``SKILL.md`` text (what ``skill_manage`` writes): the front matter, then the body."""
    data: dict[str, Any] = {"name": front.name, "description": front.description}
    if front.license:
        data["license"] = front.license
    if front.compatibility:
        data["compatibility"] = front.compatibility
    if front.metadata:
        data["metadata"] = dict(front.metadata)
    if front.allowed_tools:
        data["allowed-tools"] = " ".join(front.allowed_tools)
    if front.argument_hint:
        data["argument-hint"] = front.argument_hint
    dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)
    return f"---\n{dumped}---\n\n{body.strip()}\n"
