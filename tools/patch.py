"""``patch``: exact search-and-replace edits to one file, all or nothing.

Each edit's ``old_text`` must appear in the file exactly once (whitespace and
indentation included) unless ``replace_all`` is set. Edits apply in order, each to the
result of the previous one; if any fails — text absent, text ambiguous, nothing to
change — the file is left untouched and the message says which edit failed and why
(for an ambiguous one, on which lines it occurs; for an absent one, whether it exists
with different whitespace). The result carries the unified diff. Like ``write_file``, the
path is resolved again right before writing, and FIFOs and devices are refused. A file a
``read`` deny rule covers is refused before it is read: the diff and the error messages
would otherwise show (or, edit by edit, reveal) its content.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.context import ToolContext
from tools.diffs import make_diff, shown
from tools.files import approve_and_write
from tools.paths import SpecialFileError
from tools.registry import Location, Tool, ToolAnnotations, ToolDenied, ToolError, ToolResult


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_text: str = Field(min_length=1, description="Exact text to find, copied from the file")
    new_text: str = Field(description="Replacement text")
    replace_all: bool = Field(default=False, description="Replace every occurrence")


class PatchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="File to edit")
    edits: list[Edit] = Field(min_length=1, max_length=100, description="Applied in order")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _loose_match_line(text: str, needle: str) -> int | None:
    """A line where ``needle`` occurs once whitespace is ignored at line edges."""
    wanted = [line.strip() for line in needle.strip().splitlines()]
    if not wanted or not wanted[0]:
        return None
    lines = [line.strip() for line in text.splitlines()]
    for i in range(len(lines) - len(wanted) + 1):
        if lines[i : i + len(wanted)] == wanted:
            return i + 1
    return None


def apply_edits(text: str, edits: list[Edit], name: str) -> tuple[str, int]:
    """The new text and the line of the first change; ToolError names the failing edit."""
    first_line: int | None = None
    for number, edit in enumerate(edits, start=1):
        label = f"edit {number}" if len(edits) > 1 else "the edit"
        if edit.old_text == edit.new_text:
            raise ToolError(f"{label}: old_text and new_text are identical; nothing to change")
        count = text.count(edit.old_text)
        if count == 0:
            hint = "copy it exactly from the file (read_file again if it may have changed)"
            loose = _loose_match_line(text, edit.old_text)
            if loose is not None:
                hint = f"similar text with different whitespace starts at line {loose}"
            raise ToolError(f"{label}: old_text not found in {name}; {hint}. No change made.")
        index = text.index(edit.old_text)
        if count > 1 and not edit.replace_all:
            lines, start = [], 0
            for _ in range(min(count, 10)):
                found = text.index(edit.old_text, start)
                lines.append(str(_line_of(text, found)))
                start = found + 1
            raise ToolError(
                f"{label}: old_text appears {count} times in {name} (lines "
                f"{', '.join(lines)}); include more surrounding lines to make it unique, "
                "or set replace_all. No change made."
            )
        line = _line_of(text, index)
        first_line = line if first_line is None else min(first_line, line)
        if edit.replace_all:
            text = text.replace(edit.old_text, edit.new_text)
        else:
            text = text[:index] + edit.new_text + text[index + len(edit.old_text) :]
    return text, first_line or 1


async def patch(args: PatchArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.resolve(args.path, "write")
    name = ctx.display(path)
    reason = ctx.sensitive_reason(path)
    if reason:
        raise ToolDenied(f"refusing to edit {name}: {reason}")
    ctx.check_path_denied("write", path)
    # The diff and the "not found" / "appears 2 times" errors show what the file holds.
    ctx.check_path_denied("read", path)
    try:
        old = await ctx.files.read_text(path, max_bytes=ctx.limits.read_max_bytes)
    except FileNotFoundError:
        raise ToolError(f"{name}: no such file (use write_file to create it)") from None
    except IsADirectoryError:
        raise ToolError(f"{name} is a directory") from None
    except SpecialFileError as exc:
        raise ToolError(f"{name} is a {exc.kind}, not a regular file; not edited") from None
    new, line = apply_edits(old, args.edits, name)
    diff = make_diff(path, name, old, new)
    added, removed = await approve_and_write(
        ctx, "patch", f"Edit {name}", args.path, path, diff, new
    )
    count = len(args.edits)
    return ToolResult(
        text=f"Applied {count} edit{'s' if count > 1 else ''} to {name} "
        f"(+{added} -{removed} lines)\n" + shown(diff.unified, ctx.limits.diff_max_chars),
        diff=diff,
        locations=(Location(path, line),),
    )


PATCH_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="patch",
        description=(
            "Edit a file by exact search-and-replace. Each old_text must match the file "
            "exactly once (or set replace_all). All edits apply or none. Returns a diff."
        ),
        args=PatchArgs,
        fn=patch,
        toolset="files",
        annotations=ToolAnnotations(destructive=True, idempotent=False, kind="edit"),
    ),
)
