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

The pattern is RE2 syntax (``tools/linear_re.py``): matching is linear in the text, so
no pattern can hang the search. A file is matched as ``read_file`` shows it: one with a
match is searched again with its secrets redacted, so a search cannot rebuild a
redacted key prefix by prefix. Files are opened without following a link in any
component, and a file with several hard links is not searched (counted as sensitive).

The walk and the matching run in a worker thread in batches of files, so a cancelled
search stops at the next batch and never blocks the event loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hermes_mcp.log import redact
from tools.context import Limits, ToolContext
from tools.ignore import IgnoreRules, skip_dir
from tools.linear_re import LinearPattern, PatternError, compile_pattern
from tools.paths import (
    glob_regex,
    is_within,
    looks_like_private_key,
    open_directory,
    open_regular,
    read_at_most,
    realpath,
)
from tools.registry import Location, Tool, ToolAnnotations, ToolError, ToolResult

BATCH = 400


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str | None = Field(
        default=None, description="Regex (RE2 syntax: no backreferences) to find in contents"
    )
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
    ctx: ToolContext, top: Path, glob: LinearPattern | None, by_name: bool
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


class _Opener:
    """:func:`tools.paths.open_beneath` with the last directory's descriptor kept: the
    walk yields a directory's files together, so each directory is reached from ``/``
    (no link followed in any component) once, not once per file."""

    def __init__(self) -> None:
        self.directory: str | None = None
        self.fd = -1

    def open(self, path: str) -> int:
        directory, _, name = path.rpartition("/")
        if directory != self.directory:
            self.close()
            self.fd = open_directory(Path(directory or "/"))
            self.directory = directory
        return open_regular(name, follow_symlinks=False, dir_fd=self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.directory = -1, None


def _grep(
    regex: LinearPattern, path: str, shown: str, room: int, limits: Limits, opener: _Opener
) -> list[Match] | None:
    """The matches in the regular file at the resolved ``path``; ``None`` when it holds a
    private key or has several hard links (not searched, like a sensitive file).

    The regex runs on the file's bytes; a file with a match is searched again as
    ``read_file`` would show it — secrets redacted — so a search can never find (one
    prefix at a time) what reading the file hides."""
    try:
        fd = opener.open(path)
    except (OSError, ToolError):
        return []
    try:
        info = os.fstat(fd)
        if info.st_size > limits.search_file_max_bytes:
            return []
        if info.st_nlink > 1:
            return None
        data = read_at_most(fd, limits.search_file_max_bytes + 1)
    except OSError:
        return []
    finally:
        os.close(fd)
    if len(data) > limits.search_file_max_bytes:
        return []
    if looks_like_private_key(data[:4096]):
        return None
    if b"\0" in data[:8192] or regex.search(data) is None:
        return []
    text = data.decode("utf-8", errors="replace")
    shown_text = redact(text)
    if shown_text != text:
        data = shown_text.encode("utf-8")
    found: list[Match] = []
    last_line_end = -1
    line, pos = 1, 0
    for m in regex.finditer(data):
        if m.start() <= last_line_end:
            continue  # one match per line
        line += data.count(b"\n", pos, m.start())
        pos = m.start()
        begin = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        last_line_end = end
        snippet = data[begin:end].decode("utf-8", errors="replace").rstrip("\r")
        found.append(Match(path=shown, line=line, text=snippet[: limits.line_max_chars]))
        if len(found) >= room:
            break
    return found


def _batch(
    files: Iterator[tuple[str, str, str]],
    regex: LinearPattern | None,
    room: int,
    prefix: str,
    ctx: ToolContext,
    opener: _Opener,
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
            found = _grep(regex, real, prefix + rel, room - len(out), ctx.limits, opener)
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
        try:
            regex = compile_pattern(
                args.pattern, case_sensitive=args.case_sensitive, multiline=True, binary=True
            )
        except PatternError as exc:
            raise ToolError(f"invalid regex {args.pattern!r}: {exc}") from None
    glob = args.glob.strip().removeprefix("./") if args.glob else None
    by_name = glob is not None and "/" not in glob
    files = _files(ctx, top, glob_regex(glob) if glob else None, by_name)
    prefix = "" if name == "." else name.rstrip("/") + "/"
    matches: list[Match] = []
    cap = args.max_results
    done = False
    skipped = 0
    opener = _Opener()
    try:
        while not done and len(matches) <= cap:
            room = cap + 1 - len(matches)
            batch, done, more = await anyio.to_thread.run_sync(
                _batch, files, regex, room, prefix, ctx, opener
            )
            matches.extend(batch)
            skipped += more
    finally:
        opener.close()
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
