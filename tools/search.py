"""``search_files``: a regex over file contents, a glob over file names, or both.

The walk starts at ``path`` (the workspace root by default), never follows directory
symlinks, skips ``.git``, dependency and cache directories and ``.gitignore``d entries,
and skips files a ``read`` deny rule covers (a symlink is checked as its target too).
Only regular files are opened (never a FIFO or device). Contents are searched only in
text files (no NUL byte in the first 8 KiB, under the size limit) that are not
sensitive files — by name, by what a symlink resolves to, or by holding a PEM private
key in the first 4 KiB; those are counted in the result ("2 sensitive files not
searched"), their contents never shown. A sensitive file can still be found by name.
Results are capped (``max_results``) and the text says when the cap cut them.

The glob follows the policy's path globs: without ``/`` it matches file names at any
depth (``*.py``), with ``/`` it matches the path relative to ``path`` (``src/**/*.ts``).

The walk and the matching run in a worker thread in batches of files, so a cancelled
search stops at the next batch and never blocks the event loop.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.context import Limits, ToolContext
from tools.ignore import IgnoreRules, skip_dir
from tools.paths import (
    glob_regex,
    is_within,
    looks_like_private_key,
    open_regular,
    read_at_most,
    realpath,
)
from tools.registry import Location, Tool, ToolAnnotations, ToolError, ToolResult

BATCH = 400


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str | None = Field(default=None, description="Python regex to find in contents")
    glob: str | None = Field(default=None, description="File name glob, e.g. *.py or src/**/*.ts")
    path: str = Field(default=".", description="Directory to search")
    case_sensitive: bool = True
    max_results: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _something(self) -> SearchArgs:
        if not self.pattern and not self.glob:
            raise ValueError("give a pattern, a glob, or both")
        return self


class Match(BaseModel):
    path: str
    line: int | None = None
    text: str | None = None


class SearchOutput(BaseModel):
    matches: list[Match]
    truncated: bool
    sensitive_not_searched: int = 0


def _files(
    ctx: ToolContext, top: Path, glob: re.Pattern[str] | None, by_name: bool
) -> Iterator[tuple[str, str, str]]:
    """(absolute path, path relative to ``top``, resolved path) of every file to search,
    in name order: a directory's files, then its subdirectories. Strings, not Paths: this
    runs per file. A symlink counts as its target too: one leading out of the roots is
    skipped, and a read deny rule covering either path hides the file."""
    start = len(str(top).rstrip("/")) + 1
    stack: list[tuple[str, IgnoreRules]] = [(str(top), IgnoreRules().child(top, ""))]
    denies = bool(ctx.policy.deny)
    while stack:
        directory, rules = stack.pop()
        try:
            with os.scandir(directory) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[tuple[str, IgnoreRules]] = []
        for item in items:
            full, name = item.path, item.name
            rel = full[start:]
            real = full
            try:
                if item.is_dir(follow_symlinks=False):
                    if not skip_dir(name) and not rules.ignored(rel, name, True):
                        subdirs.append((full, rules.child(Path(full), rel)))
                    continue
                if (rules.patterns and rules.ignored(rel, name, False)) or not item.is_file():
                    continue  # is_file: FIFOs, devices and sockets are never opened
                if item.is_symlink():
                    real = str(realpath(full))
                    if not any(is_within(Path(real), root) for root in ctx.roots):
                        continue
            except OSError:
                continue
            if glob is not None and not glob.fullmatch(name if by_name else rel):
                continue
            if denies and any(
                ctx.policy.path_denied("read", Path(p), ctx.roots) for p in {full, real}
            ):
                continue
            yield full, rel, real
        stack.extend(reversed(subdirs))


def _grep(
    regex: re.Pattern[str], path: str, shown: str, room: int, limits: Limits
) -> list[Match] | None:
    """The matches in the regular file at the resolved ``path``; ``None`` when it holds a
    private key (not searched, like a sensitive file)."""
    try:
        fd = open_regular(path, follow_symlinks=False)
    except (OSError, ToolError):
        return []
    try:
        if os.fstat(fd).st_size > limits.search_file_max_bytes:
            return []
        data = read_at_most(fd, limits.search_file_max_bytes + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    if len(data) > limits.search_file_max_bytes:
        return []
    if looks_like_private_key(data[:4096]):
        return None
    if b"\0" in data[:8192]:
        return []
    text = data.decode("utf-8", errors="replace")
    found: list[Match] = []
    last_line_end = -1
    line, pos = 1, 0
    for m in regex.finditer(text):
        if m.start() <= last_line_end:
            continue  # one match per line
        line += text.count("\n", pos, m.start())
        pos = m.start()
        begin = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        last_line_end = end
        snippet = text[begin:end].rstrip("\r")
        found.append(Match(path=shown, line=line, text=snippet[: limits.line_max_chars]))
        if len(found) >= room:
            break
    return found


def _batch(
    files: Iterator[tuple[str, str, str]],
    regex: re.Pattern[str] | None,
    room: int,
    prefix: str,
    ctx: ToolContext,
) -> tuple[list[Match], bool, int]:
    """Up to BATCH files' matches, whether the walk is finished, and how many sensitive
    files were not searched: by name, or by what a symlink resolves to, or holding a
    private key. Their contents are never searched."""
    out: list[Match] = []
    skipped = 0
    sensitive = ctx.sensitive()
    for _ in range(BATCH):
        entry = next(files, None)
        if entry is None:
            return out, True, skipped
        path, rel, real = entry
        if regex is None:
            out.append(Match(path=prefix + rel))
        elif sensitive.reason(path) is not None or sensitive.reason(real) is not None:
            skipped += 1
        else:
            found = _grep(regex, real, prefix + rel, room - len(out), ctx.limits)
            if found is None:
                skipped += 1
            else:
                out.extend(found)
        if len(out) >= room:
            return out, False, skipped
    return out, False, skipped


async def search_files(args: SearchArgs, ctx: ToolContext) -> ToolResult:
    top = ctx.resolve(args.path, "read")
    name = ctx.display(top)
    ctx.check_path_denied("read", top)
    if not top.is_dir():
        raise ToolError(f"{name} is not a directory")
    regex = None
    if args.pattern:
        flags = re.MULTILINE | (0 if args.case_sensitive else re.IGNORECASE)
        try:
            regex = re.compile(args.pattern, flags)
        except re.error as exc:
            raise ToolError(f"invalid regex {args.pattern!r}: {exc}") from None
    glob = args.glob.strip().removeprefix("./") if args.glob else None
    by_name = glob is not None and "/" not in glob
    files = _files(ctx, top, glob_regex(glob) if glob else None, by_name)
    prefix = "" if name == "." else name.rstrip("/") + "/"
    matches: list[Match] = []
    cap = args.max_results
    done = False
    skipped = 0
    while not done and len(matches) <= cap:
        room = cap + 1 - len(matches)
        batch, done, more = await anyio.to_thread.run_sync(_batch, files, regex, room, prefix, ctx)
        matches.extend(batch)
        skipped += more
    truncated = len(matches) > cap
    matches = matches[:cap]
    lines = [f"{m.path}:{m.line}: {m.text}" if m.line is not None else m.path for m in matches]
    what = "matches" if regex is not None else "files"
    if not matches:
        summary = f"no {what} found under {name}"
    else:
        noun = what if len(matches) > 1 else {"matches": "match", "files": "file"}[what]
        summary = f"{len(matches)} {noun}" + (
            f" (capped at {cap}; narrow the pattern, glob or path)" if truncated else ""
        )
    if skipped:
        summary += f"; {skipped} sensitive file{'s' if skipped > 1 else ''} not searched"
    output = SearchOutput(matches=matches, truncated=truncated, sensitive_not_searched=skipped)
    return ToolResult(
        text="\n".join([*lines, summary]),
        structured=output.model_dump(),
        locations=tuple(Location(top / m.path[len(prefix) :], m.line) for m in matches[:50]),
    )


SEARCH_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="search_files",
        description=(
            "Search the workspace: a regex over file contents (path:line: text), a glob over "
            "file names, or both. Skips .git, dependency/cache dirs and .gitignored files."
        ),
        args=SearchArgs,
        fn=search_files,
        toolset="files",
        output=SearchOutput,
        annotations=ToolAnnotations(
            read_only=True, destructive=False, idempotent=True, kind="search"
        ),
    ),
)
