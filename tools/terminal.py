"""``terminal``: one shell command, with a timeout and an output cap.

**Not a sandbox.** The command runs with the user's rights and environment — less every
credential variable and every registered secret (``tools/environment.py``); what keeps
it in check is the policy (deny rules, allow rules, the approver in ``ask`` and
``accept_edits`` modes) — see ``tools/policy.py``. The working directory must be inside
the workspace; the command itself can reach anything the user can.

The back-end (``ctx.terminal``) runs it in its own process group and, on timeout or
cancellation, kills the whole group, so no child survives the call. The result gives
the exit code (a non-zero exit is a result, not a tool error; a timeout is an error),
the output — first and last parts kept when over the cap, with the gap marked — and is
redacted like every tool result. Output is also streamed to the progress reporter, one
complete line at a time, each line redacted (so a secret split across two reads of the
pipe is redacted whole); the unfinished last line is sent when the command ends. A line
longer than ``PARTIAL_LINE_MAX`` that has not ended is sent in pieces, each cut where no
secret (registered, or key-shaped) spans the cut, and held back far enough that a
secret still arriving is never split between two progress events.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hermes_mcp.log import longest_secret, redact, secret_spans
from tools.approval import ApprovalRequest
from tools.context import ToolContext
from tools.environment import scrubbed_environment
from tools.registry import Tool, ToolAnnotations, ToolError, ToolResult

# Keep commands from waiting on a pager or a credential prompt that nobody will answer.
_QUIET_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "TERM": "dumb"}


_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")
PARTIAL_LINE_MAX = 16 * 1024  # a longer unfinished line is sent in pieces
_HOLD_BACK = 1024  # at least this much of an unfinished line waits for more text


def safe_cut(text: str) -> int:
    """Where an unfinished line may be cut for sending: at least ``_HOLD_BACK`` (or the
    longest registered secret) before its end, and not inside a redacted span; 0 when
    no such place exists (all of it waits)."""
    cut = len(text) - max(_HOLD_BACK, longest_secret() + 1)
    for start, end in secret_spans(text):
        if start < cut < end or (start < cut and end == len(text)):
            cut = start
    return max(cut, 0)


class ProgressLines:
    """Output chunks to progress text, redacted one complete line at a time: a secret
    split across two chunks is whole when it is redacted. The unfinished last line
    waits for its end (or :meth:`flush`); a very long one is sent up to its last
    place no secret spans (:func:`safe_cut`). The lines of a PEM private key block are
    dropped up to its END line."""

    def __init__(self) -> None:
        self.partial = ""
        self.in_key = False

    def feed(self, chunk: str) -> str:
        text = self.partial + chunk
        cut = text.rfind("\n") + 1
        if not cut and len(text) > PARTIAL_LINE_MAX:
            cut = safe_cut(text)
        self.partial = text[cut:]
        *done, last = text[:cut].split("\n")
        return "".join([*(self._line(line + "\n") for line in done), self._line(last)])

    def flush(self) -> str:
        text, self.partial = self.partial, ""
        return self._line(text)

    def _line(self, line: str) -> str:
        if not line:
            return ""
        if self.in_key:
            end = _PEM_END.search(line)
            if end is None:
                return ""
            self.in_key = False
            line = line[end.end() :]
        begins = list(_PEM_BEGIN.finditer(line))
        if begins and not _PEM_END.search(line, begins[-1].end()):
            self.in_key = True  # redact() cuts this line at the BEGIN; drop the next ones
        text = redact(line)
        return text + "\n" if line.endswith("\n") and not text.endswith("\n") else text


class TerminalArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, description="Shell command (run with /bin/sh -c)")
    cwd: str = Field(default=".", description="Working directory, inside the workspace")
    timeout_s: float = Field(default=120.0, gt=0, le=1800, description="Kill it after this")


class TerminalOutput(BaseModel):
    exit_code: int | None
    signal: str | None = None
    timed_out: bool
    omitted_bytes: int
    output: str


async def terminal(args: TerminalArgs, ctx: ToolContext) -> ToolResult:
    cwd = ctx.resolve(args.cwd, "read")
    if not cwd.is_dir():
        raise ToolError(f"cwd {ctx.display(cwd)} is not a directory")
    await ctx.authorize(
        ApprovalRequest(
            tool="terminal",
            kind="execute",
            action="terminal",
            title=f"Run `{args.command}`",
            paths=(cwd,),
            command=args.command,
            risk="runs a shell command (not sandboxed)",
        )
    )
    # Overrides for the back-end's (scrubbed) environment; a context's own base
    # environment is scrubbed the same way before it is passed.
    env = {} if ctx.terminal_env is None else scrubbed_environment(ctx.terminal_env)
    env.update(_QUIET_ENV)

    lines = ProgressLines()

    async def forward(chunk: str) -> None:
        text = lines.feed(chunk)
        if text:
            await ctx.report(text)

    timeout = min(args.timeout_s, ctx.limits.terminal_max_timeout_s)
    outcome = await ctx.terminal.run(
        args.command,
        cwd=cwd,
        time_limit=timeout,
        output_limit=ctx.limits.terminal_output_bytes,
        env=env,
        on_output=forward if ctx.progress is not None else None,
    )
    if ctx.progress is not None and (rest := lines.flush()):
        await ctx.report(rest)
    if outcome.timed_out:
        status = f"[timed out after {timeout:g} s: the command and its children were killed]"
    elif outcome.signal is not None:
        status = f"[killed by signal {outcome.signal}]"
    elif outcome.exit_code is not None and outcome.exit_code < 0:
        status = f"[killed by signal {-outcome.exit_code}]"
    else:
        status = f"[exit code {outcome.exit_code}]"
    output = outcome.output.rstrip("\n")
    structured = TerminalOutput(
        exit_code=outcome.exit_code,
        signal=outcome.signal,
        timed_out=outcome.timed_out,
        omitted_bytes=outcome.omitted_bytes,
        output=outcome.output,
    )
    return ToolResult(
        text=f"{output}\n{status}" if output else status,
        is_error=outcome.timed_out,
        structured=structured.model_dump(),
    )


TERMINAL_TOOLS: tuple[Tool[Any], ...] = (
    Tool(
        name="terminal",
        description=(
            "Run a shell command in the workspace and return its output and exit code. "
            "Not sandboxed; may need the user's approval. Non-interactive (stdin is empty)."
        ),
        args=TerminalArgs,
        fn=terminal,
        toolset="terminal",
        output=TerminalOutput,
        annotations=ToolAnnotations(destructive=True, open_world=True, kind="execute"),
    ),
)
