"""Who answers ``run``'s approval requests (``tools.approval.Approver``).

On a terminal (stdin is a tty) the person is asked, on stderr (an edit with its diff,
so that ``y`` approves what was seen), and answers on stdin:
``y`` allows once, ``a`` (always) allows the same tool and target for the rest of the
session, anything else refuses. Questions are asked one at a time (delegated children
may ask concurrently). Without a terminal nobody is asked: each request is refused as
``NonInteractiveApprover`` refuses it, and the refusal is remembered with the exact
allow rule that would have let that action through, checked against the policy's own
rule matcher, so that the run can end with a one-line summary a person can act on.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio

from hermes_mcp.terminal_text import strip_controls
from tools.approval import ApprovalRequest, Decision, NonInteractiveApprover
from tools.paths import is_within
from tools.policy import Rule


def exact_rules(request: ApprovalRequest, roots: Sequence[Path]) -> list[str]:
    """The narrowest allow rules that let ``request`` through (empty if none can be
    written: a path or command with glob characters, say)."""
    candidates: list[str] = []
    if request.action in ("read", "write"):
        for path in request.paths:
            root = next((r for r in roots if is_within(path, r)), None)
            shown = path.relative_to(root).as_posix() if root is not None else str(path)
            candidates.append(f"{request.action}:{shown}")
    elif request.action == "terminal" and request.command:
        candidates.append(f"terminal:{' '.join(request.command.split())}")
    elif request.action == "fetch" and request.url:
        candidates.append(f"fetch:{request.url}")
    elif request.action == "mcp":  # another MCP server's tool, by its namespaced name
        candidates.append(f"mcp:{request.tool}")
    rules = []
    for text in candidates:
        if any(c in text.partition(":")[2] for c in "*?["):
            return []  # the rule would match more than this action
        try:
            rule = Rule.parse(text)
        except ValueError:
            return []
        if not rule.matches(request, roots):
            return []
        rules.append(text)
    return rules


class RefusingApprover:
    """Nobody can be asked: refuse (with the policy's hint) and remember what and why."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)
        self.refused: list[tuple[ApprovalRequest, list[str]]] = []
        self._inner = NonInteractiveApprover()

    async def approve(self, request: ApprovalRequest) -> Decision:
        self.refused.append((request, exact_rules(request, self.roots)))
        return await self._inner.approve(request)

    def summary(self) -> str | None:
        """One line: what was refused and the rules that would allow it."""
        if not self.refused:
            return None
        parts = []
        for request, rules in self.refused:
            allow = " or ".join(repr(r) for r in rules) if rules else "policy.mode or an allow rule"
            parts.append(f"{request.title} (allow: {allow})")
        unique = list(dict.fromkeys(parts))
        return (
            f"hermes-mcp: refused {len(self.refused)} action(s), nobody to ask: "
            + "; ".join(unique)
            + " — add the rule to [policy] allow, or run on a terminal to be asked"
        )


DIFF_LINES = 200  # a longer diff is cut, saying how much was left out


def shown_diff(unified: str, limit: int = DIFF_LINES) -> str:
    """An edit's unified diff as the terminal shows it: no control sequences (the text
    is the model's), indented, cut after ``limit`` lines saying how many more there are."""
    lines = strip_controls(unified).splitlines()
    shown = [f"    {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"    … {len(lines) - limit} more diff line(s) not shown")
    return "\n".join(shown) + "\n" if shown else ""


class TtyApprover:
    """Asks the person at the terminal: y / n / always."""

    def __init__(self, ask_in: TextIO, ask_out: TextIO) -> None:
        self._in = ask_in
        self._out = ask_out
        self._lock = anyio.Lock()

    async def approve(self, request: ApprovalRequest) -> Decision:
        async with self._lock:
            why = f" ({request.risk})" if request.risk else ""
            self._out.write(strip_controls(f"\nhermes-mcp wants to {request.title}{why}\n"))
            if request.diff is not None:  # "y" approves what the person has seen
                self._out.write(shown_diff(request.diff.unified))
            self._out.write("  allow? [y]es / [n]o / [a]lways for this session: ")
            self._out.flush()
            line = await anyio.to_thread.run_sync(self._in.readline, abandon_on_cancel=True)
        answer = line.strip().lower()
        if answer in ("a", "always"):
            return Decision.allow(remember=True)
        if answer in ("y", "yes"):
            return Decision.allow()
        return Decision.deny("refused at the terminal")

    def summary(self) -> str | None:
        return None  # the person saw every question


def approver_for_run(roots: Sequence[Path]) -> TtyApprover | RefusingApprover:
    """A terminal's approver when stdin is one, else the refusing one."""
    try:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        interactive = False
    if interactive:
        return TtyApprover(sys.stdin, sys.stderr)
    return RefusingApprover(roots)
