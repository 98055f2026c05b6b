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
are checked on YAML's node graph before anything uses them: no Python object is built
from the file, so an alias-built structure never gets past a field that must be a
string, and a key nobody reads is never walked.
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


_OPEN = re.compile(r"---[ \t]*\r?\n")
_CLOSE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"


def split(text: str) -> tuple[str, str]:
    """``(front matter, body)``; SkillFormatError when there is no front matter."""
    if text.startswith("\ufeff"):
        text = text[1:]
    opened = _OPEN.match(text)
    if opened is None:
        raise SkillFormatError("no front matter: the file must start with a '---' line")
    closed = _CLOSE.search(text, opened.end(), opened.end() + MAX_FRONT_MATTER + 8)
    if closed is None:
        if len(text) - opened.end() > MAX_FRONT_MATTER:
            raise SkillFormatError(f"front matter is longer than {MAX_FRONT_MATTER} bytes")
        raise SkillFormatError("front matter is not closed by a '---' line")
    return text[opened.end() : closed.start()], text[closed.end() :].lstrip("\r\n")


def _load(front: str) -> dict[str, yaml.Node]:
    """The top-level mapping as ``key -> node``. Only YAML's composer runs (a safe
    loader's, in C when available): no object is built, so an alias-built structure
    under a key nobody reads costs nothing, and the known keys are checked node by node."""
    try:
        node = yaml.compose(front, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise SkillFormatError(f"front matter is not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise SkillFormatError("front matter is nested too deeply") from None
    if not isinstance(node, yaml.MappingNode):
        raise SkillFormatError("front matter must be a YAML mapping (name: ..., description: ...)")
    data: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            data[key.value] = value  # a repeated key: the last one, as YAML loaders do
    return data


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return node.tag.rsplit(":", 1)[-1]


def _text(data: dict[str, yaml.Node], key: str, limit: int | None, *, required: bool) -> str | None:
    node = data.get(key)
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
        if required:
            raise SkillFormatError(f"{key} is missing")
        return None
    if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
        raise SkillFormatError(f"{key} must be a string, not {_kind(node)}")
    value = str(node.value).strip()
    if not value:
        raise SkillFormatError(f"{key} is empty")
    if limit is not None and len(value) > limit:
        raise SkillFormatError(f"{key} is {len(value)} characters long (at most {limit})")
    return value


def _metadata(node: yaml.Node | None) -> dict[str, str]:
    """String keys to scalar values, each kept as written (``version: 1.10`` is "1.10")."""
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
        return {}
    problem = SkillFormatError("metadata must be a map of string keys to string values")
    if not isinstance(node, yaml.MappingNode):
        raise problem
    out: dict[str, str] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or not isinstance(value, yaml.ScalarNode):
            raise problem
        out[str(key.value)] = str(value.value)
    return out


def _tools(node: yaml.Node | None) -> tuple[str, ...]:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
        return ()
    if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
        return tuple(str(node.value).replace(",", " ").split())
    if isinstance(node, yaml.SequenceNode) and all(
        isinstance(item, yaml.ScalarNode) and item.tag == _STR for item in node.value
    ):
        return tuple(str(item.value).strip() for item in node.value if str(item.value).strip())
    raise SkillFormatError("allowed-tools must be a space-separated string or a list of strings")


def parse(text: str, folder: str | None = None) -> tuple[Front, str]:
    """Parse and check one ``SKILL.md``: its front matter and its body; ``folder`` is its
    folder's name, which ``name`` must equal. Raises SkillFormatError. The body may be
    cut short (discovery reads only the head of each file)."""
    if len(text) > MAX_SKILL_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SKILL_BYTES:
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
