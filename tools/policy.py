"""The policy: ``[policy]`` mode, allow and deny rules, and how they decide a request.

Rule syntax — ``<category>:<pattern>``:

=============  ==========================================================================
``read:G``     reading paths matching the path glob ``G`` (read_file, list_dir, search)
``write:G``    writing paths matching ``G`` (write_file, patch)
``path:G``     both of the above
``terminal:C`` terminal commands matching the command glob ``C`` (``*`` is any text,
               spaces included): ``terminal:git status*``, ``terminal:pytest *``
``fetch:U``    web_fetch of URLs matching ``U`` (``fetch:http://127.0.0.1:*``); a pattern
               without ``://`` matches the host (``fetch:*.internal.example``)
``tool:N``     every call of the tool named ``N`` (``tool:web_fetch``)
``mcp:N``      calls of other MCP servers' tools named ``N`` (``<server>__<tool>``):
               ``mcp:github__*``; a tool its server annotates read-only is routine
=============  ==========================================================================

Path globs are gitignore-like: ``*`` and ``?`` stay inside one path segment, ``**``
crosses them, a pattern starting with ``/`` or ``~`` is absolute, other patterns are
relative to a workspace root, and a pattern without ``/`` matches a name at any depth
(``.env*``, ``node_modules``). A path matches when it or any of its parent directories
does, so ``read:secrets`` covers everything below ``secrets/``.

Deciding a request, in order:

1. a matching **deny** rule refuses it, whatever the mode; for a terminal command, a
   read/write/path deny rule also refuses it when the command names a path the rule
   covers (best effort: tokens, ``--opt=value`` values and shell globs are checked; this
   guards against mistakes, it is not a sandbox);
2. a routine action (``risk is None``: reading inside the workspace, a public fetch) is
   allowed;
3. when a read/write/path deny rule exists, a terminal command whose paths cannot be
   checked — one whose raw text has ``$``, a backtick, ``<(``, ``>(`` or a line break,
   or that changes directory (``cd``, ``pushd``, ``popd``) — goes to the approver in
   every mode, ``auto`` included (redirection targets are words, and are checked);
4. a matching **allow** rule allows it. A terminal allow rule only matches a plain
   command: one whose raw text has no ``$`` (variables, ``$(...)``), backtick, process
   substitution (``<(``, ``>(``) or newline, and without redirection or subshells; a
   pipeline or ``&&``/``;`` list matches when every part matches a rule;
5. mode ``auto`` allows everything else; ``accept_edits`` allows writes inside the
   workspace; everything left — every command in ``ask`` and ``accept_edits`` — goes
   to the approver.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from hermes_mcp.config import PolicySection
from hermes_mcp.errors import ConfigError
from tools.approval import ApprovalRequest
from tools.paths import glob_regex, is_within

Category = Literal["read", "write", "path", "terminal", "fetch", "tool", "mcp"]
CATEGORIES: tuple[Category, ...] = ("read", "write", "path", "terminal", "fetch", "tool", "mcp")
_PATH_CATEGORIES = ("read", "write", "path")
_OPERATORS = frozenset({";", "&&", "||", "|", "&", ";;", "|&"})
_PUNCT = set("();<>|&")
# Text that makes a command's words differ from what the shell runs: expansions and
# substitutions (``$``, backticks, ``<(``/``>(``) and line breaks. Checked on the raw
# text, since shlex drops the quotes that would tell ``"$(x)"`` from ``'$(x)'``.
_NOT_PLAIN = ("$", "`", "<(", ">(", "\n", "\r")
_CHDIR = frozenset({"cd", "pushd", "popd"})
# Words that may precede the command word of a simple command.
_PREFIX_WORDS = frozenset(
    {"command", "builtin", "exec", "time", "nohup", "{", "!", "if", "then", "else", "elif"}
    | {"do", "while", "until"}
)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NESTED_DEPTH = 2  # how deep words that are commands themselves (sh -c '...') are parsed


def _text_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), flags | re.DOTALL)


def _normalize(command: str) -> str:
    return " ".join(command.split())


def normalize_host(host: str) -> str:
    """A host as rules and address checks see it: lower-case, one trailing dot removed
    (``LOCALHOST.`` is ``localhost``)."""
    host = host.lower()
    return host[:-1] if host.endswith(".") else host


@dataclass(frozen=True)
class Rule:
    category: Category
    pattern: str
    text: str
    regex: re.Pattern[str]

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
            regex = glob_regex(pattern)
        elif cat == "terminal":
            pattern = _normalize(pattern)
            regex = _text_regex(pattern)
        elif cat == "fetch":
            regex = _text_regex(pattern.strip(), re.IGNORECASE)
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

    def matches_command(self, command: str) -> bool:
        return self.regex.fullmatch(_normalize(command)) is not None

    def matches_url(self, url: str) -> bool:
        """Whether the URL, or the URL with its host normalised (:func:`normalize_host`),
        matches; a pattern without ``://`` is matched against the host and netloc."""
        parts = urlsplit(url)
        host = normalize_host(parts.hostname or "")
        hostport = parts.netloc.rpartition("@")[2]
        port = hostport.rpartition(":")[2] if not hostport.endswith("]") else ""
        port = f":{port}" if port.isdigit() else ""
        netloc = ("[" + host + "]" if ":" in host else host) + port
        if "://" in self.pattern:  # the normal form also drops user:password@
            normal = urlunsplit(parts._replace(netloc=netloc))
            return any(self.regex.fullmatch(u) for u in (url, normal))
        return any(self.regex.fullmatch(h) for h in (host, netloc, hostport, parts.netloc))

    def matches(self, request: ApprovalRequest, roots: Sequence[Path]) -> bool:
        if self.category == "tool":
            return self.regex.fullmatch(request.tool) is not None
        if self.category == "mcp":
            return request.action == "mcp" and self.regex.fullmatch(request.tool) is not None
        if self.category in _PATH_CATEGORIES:
            if request.action not in (
                ("read", "write") if self.category == "path" else (self.category,)
            ):
                return False
            return any(self.matches_path(p, roots) for p in request.paths)
        if self.category == "terminal":
            return request.action == "terminal" and self.matches_command(request.command or "")
        return request.action == "fetch" and self.matches_url(request.url or "")


def expands(command: str) -> bool:
    """Whether the shell may run other words than the command's text shows: ``$``,
    backticks, process substitution or a line break anywhere in the raw text."""
    return any(text in command for text in _NOT_PLAIN)


def split_command(command: str) -> tuple[list[list[str]], bool]:
    """The command's simple commands (as token lists) and whether it is plain: no
    ``$``, backtick, ``<(``, ``>(`` or line break in its raw text, no redirection or
    subshell. Unparseable commands are not plain."""
    plain = not expands(command)
    try:
        lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return [command.split()], False
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token and set(token) <= _PUNCT:
            if token in _OPERATORS:
                segments.append([])
                continue
            plain = False  # redirection or subshell
        segments[-1].append(token)
    return [s for s in segments if s], plain


def _nested(word: str, depth: int) -> list[list[str]]:
    """A word that looks like a command itself (``sh -c 'cd ~; cat x'``), split."""
    if depth >= _NESTED_DEPTH or not any(c.isspace() or c in _PUNCT for c in word):
        return []
    return split_command(word)[0]


def _changes_directory(segments: list[list[str]], depth: int) -> bool:
    for segment in segments:
        leading = True
        for word in segment:
            if leading:
                if set(word) <= _PUNCT or word in _PREFIX_WORDS or _ASSIGNMENT.match(word):
                    continue
                if word in _CHDIR:
                    return True
                leading = False
            if _changes_directory(_nested(word, depth), depth + 1):
                return True
    return False


def changes_directory(command: str) -> bool:
    """Whether ``cd``, ``pushd`` or ``popd`` is the command word of a simple command
    (nested command strings included), so later relative paths start elsewhere."""
    return _changes_directory(split_command(command)[0], 0)


def _segment_paths(segments: list[list[str]], cwd: Path, depth: int) -> list[Path]:
    out: list[Path] = []
    for segment in segments:
        for word in segment:
            if set(word) <= _PUNCT:
                continue
            out.extend(_segment_paths(_nested(word, depth), cwd, depth + 1))
            value = word.split("=", 1)[1] if "=" in word else word
            if not value or value.startswith("-"):
                continue
            candidate = os.path.join(cwd, os.path.expanduser(value))
            matches = glob.glob(candidate)[:100] if glob.has_magic(candidate) else [candidate]
            out.extend(Path(os.path.realpath(m)) for m in matches)
    return out


def command_paths(command: str, cwd: Path) -> list[Path]:
    """Paths a command names: its words (and ``--opt=value`` values), ``~`` and shell
    globs expanded, and the words of nested command strings (``sh -c '...'``)."""
    return _segment_paths(split_command(command)[0], cwd, 0)


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

    def _command_denied(self, request: ApprovalRequest, roots: Sequence[Path]) -> str | None:
        command = request.command or ""
        segments, _ = split_command(command)
        texts = [command, *(" ".join(s) for s in segments)]
        for rule in self.deny:
            if rule.category == "terminal" and any(rule.matches_command(t) for t in texts):
                return f"deny rule {rule.text!r}"
        if not any(r.category in _PATH_CATEGORIES for r in self.deny):
            return None
        cwd = request.paths[0] if request.paths else Path.cwd()
        for path in command_paths(command, cwd):
            for rule in self.deny:
                if rule.category in _PATH_CATEGORIES and rule.matches_path(path, roots):
                    return f"the command names {path}, covered by deny rule {rule.text!r}"
        return None

    def _command_unchecked(self, command: str) -> str | None:
        """Why a command's paths cannot be checked against the path deny rules, when
        there are any: it expands something, or it changes directory."""
        if not any(r.category in _PATH_CATEGORIES for r in self.deny):
            return None
        if expands(command):
            why = "it uses $, backticks, process substitution or a line break"
        elif changes_directory(command):
            why = "it changes directory"
        else:
            return None
        return f"the command's paths cannot be checked against deny rules: {why}"

    def _command_allowed(self, command: str) -> Rule | None:
        segments, plain = split_command(command)
        rules = [r for r in self.allow if r.category == "terminal"]
        if not plain or not segments or not rules:
            return None
        found: Rule | None = None
        for segment in segments:
            found = next((r for r in rules if r.matches_command(" ".join(segment))), None)
            if found is None:
                return None
        return found

    def evaluate(self, request: ApprovalRequest, roots: Sequence[Path]) -> Verdict:
        for rule in self.deny:
            if rule.category != "terminal" and rule.matches(request, roots):
                return Verdict("deny", f"deny rule {rule.text!r}")
        if request.action == "terminal":
            reason = self._command_denied(request, roots)
            if reason:
                return Verdict("deny", reason)
            unchecked = self._command_unchecked(request.command or "")
            if unchecked:
                return Verdict("ask", unchecked, risk=unchecked)
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
