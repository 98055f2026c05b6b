"""The policy: ``[policy]`` mode, allow and deny rules, and how they decide a request.

Rule syntax — ``<category>:<pattern>``:

=============  ==========================================================================
``read:G``     reading paths matching the path glob ``G`` (read_file, list_dir, search)
``write:G``    writing paths matching ``G`` (write_file, patch)
``path:G``     both of the above
``terminal:C`` terminal commands matching the command glob ``C`` (``*`` is any text,
               spaces included): ``terminal:git status*``, ``terminal:pytest *``
``fetch:U``    web_fetch of URLs matching ``U`` (``fetch:http://127.0.0.1:*``), part by
               part on the parsed URL (``tools/urls.py``); a pattern without ``://``
               matches the host (``fetch:*.internal.example``)
``tool:N``     every call of the tool named ``N`` (``tool:web_fetch``)
``mcp:N``      calls of other MCP servers' tools named ``N`` (``<server>__<tool>``):
               ``mcp:github__*``; a tool its server annotates read-only is routine.
               ``N`` matches the registered name (``evil__files_delete``: characters a
               model API refuses become ``_``, 64 at most) and the server's own
               spelling (``evil__files.delete``), as the ``tools = [...]`` list takes it
=============  ==========================================================================

Path globs are gitignore-like and case-insensitive: ``*`` and ``?`` stay inside one
path segment, ``**`` crosses them, a pattern starting with ``/`` or ``~`` is absolute,
other patterns are relative to a workspace root, and a pattern without ``/`` matches a
name at any depth (``.env*``, ``node_modules``). A path matches when it or any of its
parent directories does, so ``read:secrets`` covers everything below ``secrets/``.

Commands are analysed as ``sh`` parses them (``tools/shell.py``). Deciding a request, in
order:

1. a matching **deny** rule refuses it, whatever the mode. For a terminal command a
   terminal rule is matched against every simple command, as written and unwrapped
   (``/bin/rm``, ``env rm``, ``x=1 rm``, ``sh -c 'rm …'``), and a read/write/path rule
   refuses it when it names a path the rule covers (words, ``--opt=value`` values,
   assignments, redirection targets, globs expanded within a budget);
2. when deny rules exist, a terminal command the analysis cannot fully account for
   (expansions, substitutions, here-documents, ``eval``/``xargs``/``find -exec``...,
   a parse error) goes to the approver in every mode, ``auto`` included; with path
   deny rules, so does one that changes directory or whose globs are too large to
   expand;
3. a routine action (``risk is None``: reading inside the workspace, a public fetch) is
   allowed;
4. a matching **allow** rule allows it. A terminal allow rule only matches a command
   fully accounted for, without redirection or compound statements, whose every simple
   command (prefix assignments included) matches a rule;
5. mode ``auto`` allows everything else; ``accept_edits`` allows writes inside the
   workspace; everything left — every command in ``ask`` and ``accept_edits`` — goes
   to the approver.

Terminal rules guard against mistakes and the commands they name; what a program does
with its arguments (``python -c``) is beyond any reading of the command text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from hermes_mcp.config import PolicySection
from hermes_mcp.errors import ConfigError
from tools.approval import ApprovalRequest
from tools.linear_re import LinearPattern
from tools.paths import glob_regex, is_within
from tools.shell import Analysis, analyse, bounded_glob, changes_directory, split_command  # noqa: F401 (re-exported)
from tools.urls import ParsedUrl, UrlPattern, canonical_host

Category = Literal["read", "write", "path", "terminal", "fetch", "tool", "mcp"]
CATEGORIES: tuple[Category, ...] = ("read", "write", "path", "terminal", "fetch", "tool", "mcp")
_PATH_CATEGORIES = ("read", "write", "path")


@lru_cache(maxsize=256)
def _url_pattern(pattern: str) -> UrlPattern:
    return UrlPattern.parse(pattern)


def _text_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), flags | re.DOTALL)


def _normalize(command: str) -> str:
    return " ".join(command.split())


def normalize_host(host: str) -> str:
    """A host as rules and address checks see it (:func:`tools.urls.canonical_host`):
    lower-case, one trailing dot removed, IP addresses in canonical form."""
    return canonical_host(host)


@dataclass(frozen=True)
class Rule:
    category: Category
    pattern: str
    text: str
    regex: re.Pattern[str] | LinearPattern

    @classmethod
    def parse(cls, text: str) -> Rule:
        category, sep, pattern = text.partition(":")
        if not sep or category not in CATEGORIES:
            raise ValueError(
                f"rule {text!r} must be '<category>:<pattern>' with category one of "
                + ", ".join(CATEGORIES)
            )
        if not pattern.strip():
            raise ValueError(f"rule {text!r} has an empty pattern")
        cat: Category = category
        if cat in _PATH_CATEGORIES:
            pattern = os.path.expanduser(pattern.strip()).rstrip("/") or "/"
            if pattern.startswith("./"):
                pattern = pattern[2:]
            # case-insensitive, as macOS's file system; the config's own glob, so ``re``
            regex = glob_regex(pattern, re.IGNORECASE, linear=False)
        elif cat == "terminal":
            pattern = _normalize(pattern)
            regex = _text_regex(pattern)
        elif cat == "fetch":
            pattern = pattern.strip()
            UrlPattern.parse(pattern)  # raises ValueError on a malformed pattern
            regex = _text_regex(pattern, re.IGNORECASE)
        else:
            regex = _text_regex(pattern.strip())
        return cls(cat, pattern, text, regex)

    def matches_path(self, path: Path, roots: Sequence[Path]) -> bool:
        if self.pattern.startswith("/"):
            parts = path.as_posix().split("/")  # ["", "etc", "shadow"]
            first = 1
        else:
            rel = next((path.relative_to(r) for r in roots if is_within(path, r)), None)
            subject = (rel if rel is not None else path.relative_to(path.anchor)).as_posix()
            if subject in ("", "."):
                return False
            parts = subject.split("/")
            first = 0
            if "/" not in self.pattern:
                return any(self.regex.fullmatch(name) for name in parts)
        return any(self.regex.fullmatch("/".join(parts[: n + 1])) for n in range(first, len(parts)))

    def matches_name(self, *names: str) -> bool:
        """A ``tool:``/``mcp:`` rule against a tool's names (any of its spellings)."""
        return any(self.regex.fullmatch(name) is not None for name in names)

    def matches_command(self, command: str) -> bool:
        return self.regex.fullmatch(_normalize(command)) is not None

    def matches_url(self, url: str, addresses: Sequence[str] = ()) -> bool:
        """Whether the parsed, normalised URL matches (see ``tools/urls.py``): scheme,
        host, port and path each on their own; or, given the addresses the host resolves
        to, whether one of them matches the host pattern."""
        parsed = ParsedUrl.parse(url)
        return parsed is not None and _url_pattern(self.pattern).matches(parsed, addresses)

    def matches(self, request: ApprovalRequest, roots: Sequence[Path]) -> bool:
        if self.category == "tool":
            return self.matches_name(request.tool, *request.aliases)
        if self.category == "mcp":
            return request.action == "mcp" and self.matches_name(request.tool, *request.aliases)
        if self.category in _PATH_CATEGORIES:
            if request.action not in (
                ("read", "write") if self.category == "path" else (self.category,)
            ):
                return False
            return any(self.matches_path(p, roots) for p in request.paths)
        if self.category == "terminal":
            return request.action == "terminal" and self.matches_command(request.command or "")
        return request.action == "fetch" and self.matches_url(request.url or "", request.addresses)


def command_paths(command: str, cwd: Path) -> list[Path]:
    """Paths a command names: its words (and ``--opt=value`` values), redirection
    targets, assignment values and the words of nested ``sh -c`` commands, ``~``
    expanded, resolved from ``cwd``; a glob is expanded within a budget (see
    ``tools/shell.py``), one over budget is left out."""
    return _paths(analyse(command), cwd)[0]


def _paths(found: Analysis, cwd: Path) -> tuple[list[Path], list[str]]:
    """The resolved paths of an analysed command, and the globbed words that could not
    be expanded within the budget (or are brace expansions)."""
    globbed = set(found.globbed)
    out: list[Path] = []
    unchecked: list[str] = []
    for value in found.paths:
        if not value:
            continue
        joined = os.path.join(cwd, os.path.expanduser(value))
        if value in globbed:
            matches = None if "{" in value else bounded_glob(joined)
            if matches is None:
                unchecked.append(value)
                continue
            out.extend(Path(os.path.realpath(m)) for m in matches)
        else:
            out.append(Path(os.path.realpath(joined)))
    return out, unchecked


@dataclass(frozen=True)
class Verdict:
    outcome: Literal["allow", "deny", "ask"]
    reason: str
    risk: str | None = None  # for "ask": what the approver should be told besides


class Policy:
    def __init__(
        self,
        mode: Literal["ask", "accept_edits", "auto"] = "ask",
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
    ) -> None:
        self.mode = mode
        self.allow = [Rule.parse(r) for r in allow]
        self.deny = [Rule.parse(r) for r in deny]

    @classmethod
    def from_section(cls, section: PolicySection, file: str | None = None) -> Policy:
        """Build from ``[policy]``; a bad rule is a ConfigError naming its key."""
        for key in ("allow", "deny"):
            for i, text in enumerate(getattr(section, key)):
                try:
                    Rule.parse(text)
                except ValueError as exc:
                    raise ConfigError(str(exc), file=file, key=f"policy.{key}[{i}]") from None
        return cls(section.mode, section.allow, section.deny)

    def path_denied(self, action: str, path: Path, roots: Sequence[Path]) -> Rule | None:
        """The deny rule covering ``path`` for ``action`` (read or write), if any."""
        for rule in self.deny:
            if rule.category in (action, "path") and rule.matches_path(path, roots):
                return rule
        return None

    def _command_verdict(self, request: ApprovalRequest, roots: Sequence[Path]) -> Verdict | None:
        """The deny rules on a command: refused when a terminal rule matches one of its
        simple commands (as written, or unwrapped: ``/bin/rm``, ``env rm``,
        ``sh -c 'rm'``) or when it names a path a path rule covers; sent to the approver
        when deny rules exist and the command cannot be fully checked."""
        if not self.deny:
            return None
        command = request.command or ""
        found = analyse(command)
        texts = [command]
        for simple in found.commands:
            texts += [" ".join(simple.words), " ".join(simple.effective)]
            if simple.assignments:
                texts.append(" ".join((*simple.assignments, *simple.words)))
        for rule in self.deny:
            if rule.category == "terminal" and any(rule.matches_command(t) for t in texts):
                return Verdict("deny", f"deny rule {rule.text!r}")
        path_rules = [r for r in self.deny if r.category in _PATH_CATEGORIES]
        unchecked: list[str] = []
        if path_rules:
            cwd = request.paths[0] if request.paths else Path.cwd()
            paths, globs = _paths(found, cwd)
            for path in paths:
                for rule in path_rules:
                    if rule.matches_path(path, roots):
                        reason = f"the command names {path}, covered by deny rule {rule.text!r}"
                        return Verdict("deny", reason)
            if found.changes_directory:
                unchecked.append("it changes directory")
            if globs:
                unchecked.append(
                    "it uses globs too large to check or braces (" + ", ".join(globs[:3]) + ")"
                )
        if not found.accounted:
            unchecked.insert(0, "it uses " + "; ".join(found.unaccounted[:3]))
        if not unchecked:
            return None
        why = f"the command cannot be checked against deny rules: {unchecked[0]}"
        return Verdict("ask", why, risk=why)

    def _command_allowed(self, command: str) -> Rule | None:
        found = analyse(command)
        rules = [r for r in self.allow if r.category == "terminal"]
        if not found.plain or not found.accounted or not found.commands or not rules:
            return None
        matched: Rule | None = None
        for simple in found.commands:
            text = " ".join((*simple.assignments, *simple.words))
            matched = next((r for r in rules if r.matches_command(text)), None)
            if matched is None:
                return None
        return matched

    def evaluate(self, request: ApprovalRequest, roots: Sequence[Path]) -> Verdict:
        for rule in self.deny:
            if rule.category != "terminal" and rule.matches(request, roots):
                return Verdict("deny", f"deny rule {rule.text!r}")
        if request.action == "terminal":
            verdict = self._command_verdict(request, roots)
            if verdict is not None:
                return verdict
        if request.risk is None:
            return Verdict("allow", "routine")
        for rule in self.allow:
            if rule.category != "terminal" and rule.matches(request, roots):
                return Verdict("allow", f"allow rule {rule.text!r}")
        if request.action == "terminal":
            allowed = self._command_allowed(request.command or "")
            if allowed is not None:
                return Verdict("allow", f"allow rule {allowed.text!r}")
        if self.mode == "auto":
            return Verdict("allow", "policy mode 'auto'")
        inside = all(any(is_within(p, r) for r in roots) for p in request.paths)
        if self.mode == "accept_edits" and request.action == "write" and inside:
            return Verdict("allow", "policy mode 'accept_edits'")
        return Verdict("ask", f"policy mode {self.mode!r}")
