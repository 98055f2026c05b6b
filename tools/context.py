"""The context every tool call receives.

A :class:`ToolContext` carries the workspace roots (resolved; the first one is where
relative paths and commands start), the policy and the approver, the file and terminal
back-ends, a progress reporter, the SQLite database (for ``memory``), the session id and
its plan (for ``todo``), and the limits. It is immutable; the agent makes one per
session and derives one per call with :meth:`ToolContext.for_call` (which shares the
session's plan and remembered approvals).

Confinement can be widened two ways: ``extra_paths`` (set by the entry point), and
allow rules with an absolute pattern (``read:~/notes/**`` makes that tree readable).
Private network destinations for ``web_fetch`` are allowed by
``allow_private_network`` or by a ``fetch:`` allow rule.

Cancellation is the caller's: the agent runs each call inside its turn's cancel scope.
Tools do not poll for it; back-ends clean up in shielded ``finally`` blocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from hermes_mcp.config import Config, config_path, home_dir
from hermes_mcp.errors import ToolDenied, ToolError
from hermes_mcp.log import get_logger
from hermes_mcp.state import Database
from tools import paths
from tools.approval import ApprovalRequest, Approver, Decision, NonInteractiveApprover
from tools.backends import FileBackend, LocalFiles, LocalTerminal, TerminalBackend
from tools.policy import Policy

ProgressReporter = Callable[[str], Awaitable[None]]

_log = get_logger("hermes_mcp.tools")


@dataclass(frozen=True)
class Limits:
    read_max_bytes: int = 10 * 1024 * 1024  # read_file / patch refuse bigger files
    read_default_lines: int = 2000
    read_max_chars: int = 200_000  # text one read_file returns
    line_max_chars: int = 2000  # longer lines are cut in read_file and search output
    write_max_bytes: int = 10 * 1024 * 1024
    diff_max_chars: int = 20_000  # diff text shown to the model (the full diff is kept)
    terminal_output_bytes: int = 64 * 1024
    terminal_max_timeout_s: float = 1800.0
    fetch_max_bytes: int = 2 * 1024 * 1024
    fetch_max_chars: int = 100_000
    fetch_timeout_s: float = 30.0
    search_file_max_bytes: int = 4 * 1024 * 1024  # bigger files are skipped by search
    list_max_entries: int = 1000


@dataclass(frozen=True)
class ToolContext:
    roots: tuple[Path, ...]
    policy: Policy = field(default_factory=Policy)
    approver: Approver = field(default_factory=NonInteractiveApprover)
    files: FileBackend = field(default_factory=LocalFiles)
    terminal: TerminalBackend = field(default_factory=LocalTerminal)
    progress: ProgressReporter | None = None
    db: Database | None = None
    session_id: str = "default"
    call_id: str | None = None
    extra_paths: tuple[Path, ...] = ()
    allow_private_network: bool = False
    state_dir: Path | None = field(default_factory=home_dir)
    config_file: Path | None = field(default_factory=config_path)  # sensitive wherever it is
    terminal_env: Mapping[str, str] | None = None  # merged (scrubbed) over the back-end's
    limits: Limits = field(default_factory=Limits)
    plans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    remembered: dict[tuple[str, str], bool] = field(default_factory=dict)
    approval_timeout_s: float = 300.0  # no answer in time is a denial that says so
    parent_call_id: str | None = None

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("a ToolContext needs at least one workspace root")
        object.__setattr__(self, "roots", tuple(paths.realpath(r) for r in self.roots))
        object.__setattr__(self, "extra_paths", tuple(paths.realpath(p) for p in self.extra_paths))

    @classmethod
    def from_config(
        cls, config: Config, roots: Sequence[Path], *, file: str | None = None, **kwargs: Any
    ) -> ToolContext:
        """A context whose policy is the config's ``[policy]`` (rules checked, ConfigError)."""
        return cls(tuple(roots), policy=Policy.from_section(config.policy, file), **kwargs)

    def for_call(self, call_id: str) -> ToolContext:
        return dataclasses.replace(self, call_id=call_id)

    @property
    def cwd(self) -> Path:
        return self.roots[0]

    def resolve(self, raw: str, action: str = "read", *, base: Path | None = None) -> Path:
        """Resolve and confine a path argument (see ``tools/paths.py``)."""
        try:
            return paths.resolve(raw, self.roots, self.extra_paths, base=base)
        except ToolError:
            if not raw or "\0" in raw:
                raise
            expanded = Path(raw).expanduser()
            outside = paths.realpath((base or self.cwd) / expanded)
            if self._allowed_outside(action, outside):
                return outside
            raise

    def recheck(self, raw: str, action: str, path: Path) -> None:
        """Right before acting on ``path`` — resolved from ``raw`` before an approval
        wait, during which anything may have replaced a directory with a symlink —
        resolve ``raw`` again; a ToolError if it now leads elsewhere or out of the roots."""
        try:
            again = self.resolve(raw, action)
        except ToolError as exc:
            raise ToolError(f"{raw!r} changed on disk: {exc}; nothing was written") from None
        if again != path:
            raise ToolError(
                f"{raw!r} changed on disk: it now resolves to {again}, not {path}; "
                "nothing was written"
            )

    def _allowed_outside(self, action: str, path: Path) -> bool:
        return any(
            rule.category in (action, "path")
            and rule.pattern.startswith("/")
            and rule.matches_path(path, self.roots)
            for rule in self.policy.allow
        )

    def sensitive(self) -> paths.SensitiveFiles:
        return paths.SensitiveFiles(self.state_dir, self.config_file)

    def sensitive_reason(self, path: Path) -> str | None:
        return self.sensitive().reason(path)

    def display(self, path: Path) -> str:
        return paths.display(path, self.roots)

    def check_path_denied(self, action: str, path: Path) -> None:
        rule = self.policy.path_denied(action, path, self.roots)
        if rule is not None:
            raise ToolDenied(f"{self.display(path)}: denied by policy (deny rule {rule.text!r})")

    async def report(self, text: str) -> None:
        if self.progress is not None:
            await self.progress(text)

    def refuse_if_denied(self, request: ApprovalRequest) -> None:
        """Apply only the deny rules (before work such as a DNS lookup is done)."""
        verdict = self.policy.evaluate(dataclasses.replace(request, risk=None), self.roots)
        if verdict.outcome == "deny":
            raise ToolDenied(f"{request.title}: denied by policy ({verdict.reason})")

    async def authorize(self, request: ApprovalRequest) -> None:
        """Let the action through or raise ToolError: deny rules, then allow rules and the
        mode, then the approver (whose "always" answers are remembered for the session)."""
        request = dataclasses.replace(
            request,
            call_id=self.call_id,
            parent_call_id=self.parent_call_id,
        )
        verdict = self.policy.evaluate(request, self.roots)
        if verdict.outcome != "ask":
            log = _log.debug if request.risk is None and verdict.outcome == "allow" else _log.info
            log("tool_policy", tool=request.tool, outcome=verdict.outcome, why=verdict.reason)
            if verdict.outcome == "deny":
                raise ToolDenied(f"{request.title}: denied by policy ({verdict.reason})")
            return
        if verdict.risk:
            risk = f"{request.risk}; {verdict.risk}" if request.risk else verdict.risk
            request = dataclasses.replace(request, risk=risk)
        remembered = self.remembered.get(request.memo_key)
        if remembered is not None:
            decision = Decision(remembered, "denied earlier in this session")
        else:
            decision = await self._ask(request)
            if decision.remember:
                self.remembered[request.memo_key] = decision.allowed
        _log.info("tool_approval", tool=request.tool, allowed=decision.allowed, risk=request.risk)
        if not decision.allowed:
            why = f": {decision.reason}" if decision.reason else ""
            raise ToolDenied(f"{request.title}: not approved{why}. The action was not taken.")

    async def _ask(self, request: ApprovalRequest) -> Decision:
        """The approver's answer; no answer within ``approval_timeout_s`` is a denial."""
        timeout = self.approval_timeout_s
        try:
            with anyio.move_on_after(timeout) as waited:
                return await self.approver.approve(request)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as exc:
            return Decision.deny(f"the approval request failed: {exc}")
        if waited.cancelled_caught:
            _log.info("tool_approval_timeout", tool=request.tool, timeout_s=timeout)
        return Decision.deny(f"no answer within {timeout:g} s (policy.approval_timeout_s)")
