"""``read_file``, ``write_file`` and ``list_dir`` (the ``files`` toolset, with ``patch``
and ``search_files``).

``read_file`` numbers lines like ``cat -n``, starts at ``offset`` (1-based) and returns
``limit`` lines (2000 by default), cutting very long lines and stopping at a character
budget with a note saying where to continue. It refuses files over the size limit and
binary or non-UTF-8 files. A sensitive file needs approval and its text says so.

``write_file`` creates or replaces a whole file (parents created) and returns the diff.
Sensitive files are refused outright, and so are files a ``read`` deny rule covers (the
diff would show their content); every write is an edit the policy decides on. The
path is resolved again right before writing (after any approval wait) and the write is
refused if it now leads elsewhere. FIFOs, devices and sockets are never read or replaced.

``list_dir`` lists a directory (optionally a few levels deep), skipping ``.git``,
dependency and cache directories and ``.gitignore``d entries below the top level (the
top level shows everything, but the walk does not descend into those).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field

from tools.approval import ApprovalRequest
from tools.context import ToolContext
from tools.diffs import diff_stats, make_diff, shown
from tools.ignore import IgnoreRules, skip_dir
from tools.paths import SpecialFileError, hard_links, looks_like_private_key
from tools.registry import (
    FileDiff,
    Location,
    Tool,
    ToolAnnotations,
    ToolDenied,
    ToolError,
    ToolResult,
)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadFileArgs(_Args):
    path: str = Field(description="File path: relative to the workspace root, or absolute")
    offset: int = Field(default=1, ge=1, description="First line to return (1-based)")
    limit: int | None = Field(
        default=None, ge=1, le=20_000, description="How many lines (default 2000)"
    )


async def read_file(args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.resolve(args.path, "read")
    name = ctx.display(path)
    ctx.check_path_denied("read", path)
    try:
        text = await ctx.files.read_text(path, max_bytes=ctx.limits.read_max_bytes)
    except FileNotFoundError:
        raise ToolError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ToolError(f"{name} is a directory; use list_dir") from None
    except SpecialFileError as exc:
        raise ToolError(f"{name} is a {exc.kind}, not a regular file; not read") from None
    reason = ctx.sensitive_reason(path)
    if reason is None and looks_like_private_key(text[:4096].encode()):
        reason = "contains a private key"
    if reason is None and (links := hard_links(path)) > 1:
        reason = f"it has {links} hard links; another name for it may be outside the workspace"
    await ctx.authorize(
        ApprovalRequest(
            tool="read_file",
            kind="read",
            action="read",
            title=f"Read {name}",
            paths=(path,),
            risk=f"sensitive file: {reason}" if reason else None,
        )
    )
    if not text:
        return ToolResult(text=f"{name}: (empty file)", locations=(Location(path, 1),))
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    total = len(lines)
    if args.offset > total:
        raise ToolError(f"offset {args.offset} is past the end of {name} ({total} lines)")
    limit = args.limit or ctx.limits.read_default_lines
    out: list[str] = []
    budget = ctx.limits.read_max_chars
    width = ctx.limits.line_max_chars
    last = args.offset - 1
    for number in range(args.offset, min(total, args.offset + limit - 1) + 1):
        line = lines[number - 1].removesuffix("\r")
        if len(line) > width:
            line = line[:width] + f" [... line cut: {len(line) - width:,} more characters]"
        entry = f"{number:>6}\t{line}"
        budget -= len(entry) + 1
        if budget < 0 and out:
            break
        out.append(entry)
        last = number
    if reason:
        out.insert(0, f"[sensitive file ({reason}): key-shaped secrets are redacted]")
    if last < total:
        out.append(f"[lines {args.offset}-{last} of {total}; continue with offset={last + 1}]")
    return ToolResult(
        text="\n".join(out),
        locations=(Location(path, args.offset),),
    )


class WriteFileArgs(_Args):
    path: str = Field(description="File to create or replace")
    content: str = Field(description="The complete new content of the file")


async def approve_and_write(
    ctx: ToolContext,
    tool: str,
    title: str,
    raw: str,
    path: Path,
    diff: FileDiff,
    content: str,
) -> tuple[int, int]:
    """The end of every edit: ask the approver with the diff, then resolve ``raw`` again
    (the wait may have seen a directory swapped for a symlink) and write; returns the
    lines added and removed."""
    await ctx.authorize(
        ApprovalRequest(
            tool=tool,
            kind="edit",
            action="write",
            title=title,
            paths=(path,),
            risk="edits a file",
            diff=diff,
        )
    )
    ctx.recheck(raw, "write", path)
    await ctx.files.write_text(path, content)
    return diff_stats(diff.unified)


async def write_file(args: WriteFileArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.resolve(args.path, "write")
    name = ctx.display(path)
    reason = ctx.sensitive_reason(path)
    if reason:
        raise ToolDenied(f"refusing to write {name}: {reason}")
    ctx.check_path_denied("write", path)
    ctx.check_path_denied("read", path)  # the diff would show the old content
    if len(args.content.encode()) > ctx.limits.write_max_bytes:
        raise ToolError(f"content is over the {ctx.limits.write_max_bytes:,}-byte write limit")
    old: str | None
    try:
        old = await ctx.files.read_text(path, max_bytes=ctx.limits.read_max_bytes)
    except FileNotFoundError:
        old = None
    except IsADirectoryError:
        raise ToolError(f"{name} is a directory") from None
    except SpecialFileError as exc:
        raise ToolError(f"{name} is a {exc.kind}, not a regular file; not replaced") from None
    except ToolError:  # binary or too large: replaced without a text diff
        old = ""
    diff = make_diff(path, name, old, args.content)
    title = f"{'Create' if old is None else 'Overwrite'} {name}"
    added, removed = await approve_and_write(
        ctx, "write_file", title, args.path, path, diff, args.content
    )
    verb = "Created" if old is None else "Updated"
    return ToolResult(
        text=f"{verb} {name} (+{added} -{removed} lines)\n"
        + shown(diff.unified, ctx.limits.diff_max_chars),
        diff=diff,
        locations=(Location(path, 1),),
    )


class ListDirArgs(_Args):
    path: str = Field(default=".", description="Directory to list")
    depth: int = Field(default=1, ge=1, le=5, description="How many levels to descend")


class DirEntry(BaseModel):
    path: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int | None = None


class ListDirOutput(BaseModel):
    entries: list[DirEntry]
    truncated: bool


def _walk(ctx: ToolContext, top: Path, depth: int) -> tuple[list[DirEntry], bool]:
    entries: list[DirEntry] = []
    stack: list[tuple[Path, int, IgnoreRules]] = [(top, 1, IgnoreRules().child(top, ""))]
    while stack:
        directory, level, rules = stack.pop()
        with os.scandir(directory) as it:
            items = sorted(it, key=lambda e: e.name, reverse=True)
        for item in items:
            full = Path(item.path)
            rel = full.relative_to(top).as_posix()
            is_dir = item.is_dir(follow_symlinks=False)
            hidden = (is_dir and skip_dir(item.name)) or rules.ignored(rel, item.name, is_dir)
            if hidden and level > 1:
                continue
            if ctx.policy.path_denied("read", full, ctx.roots):
                continue
            if len(entries) >= ctx.limits.list_max_entries:
                return entries, True
            if item.is_symlink():
                entries.append(DirEntry(path=rel, type="symlink"))
            elif is_dir:
                entries.append(DirEntry(path=rel + "/", type="dir"))
                if level < depth and not hidden:
                    stack.append((full, level + 1, rules.child(full, rel)))
            elif item.is_file(follow_symlinks=False):
                entries.append(DirEntry(path=rel, type="file", size=item.stat().st_size))
            else:
                entries.append(DirEntry(path=rel, type="other"))
    return entries, False


async def list_dir(args: ListDirArgs, ctx: ToolContext) -> ToolResult:
    path = ctx.resolve(args.path, "read")
    name = ctx.display(path)
    ctx.check_path_denied("read", path)
    if not path.is_dir():
        raise ToolError(f"{name} is not a directory" if path.exists() else f"{name}: not found")
    entries, truncated = await anyio.to_thread.run_sync(_walk, ctx, path, args.depth)
    entries.sort(key=lambda e: e.path)
    lines = [
        e.path
        + (f"  ({e.size:,} bytes)" if e.size is not None else "")
        + (" -> symlink" if e.type == "symlink" else "")
        for e in entries
    ]
    count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    header = f"{name} ({count}{', truncated at the limit' if truncated else ''})"
    return ToolResult(
        text="\n".join([header, *lines]),
        structured=ListDirOutput(entries=entries, truncated=truncated).model_dump(),
        locations=(Location(path),),
    )


FILE_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="read_file",
        description="Read a text file with line numbers. Use offset/limit for long files.",
        args=ReadFileArgs,
        fn=read_file,
        toolset="files",
        annotations=ToolAnnotations(
            read_only=True, destructive=False, idempotent=True, kind="read"
        ),
    ),
    Tool(
        name="write_file",
        description="Create a file or replace its whole content. Prefer patch for edits.",
        args=WriteFileArgs,
        fn=write_file,
        toolset="files",
        annotations=ToolAnnotations(destructive=True, idempotent=True, kind="edit"),
    ),
    Tool(
        name="list_dir",
        description="List a directory (optionally a few levels deep), skipping .git and caches.",
        args=ListDirArgs,
        fn=list_dir,
        toolset="files",
        output=ListDirOutput,
        annotations=ToolAnnotations(
            read_only=True, destructive=False, idempotent=True, kind="read"
        ),
    ),
)
