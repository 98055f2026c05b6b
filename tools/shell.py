"""Shell commands as ``sh`` reads them: the simple commands, their words and what the
analysis could not account for, for the policy's terminal rules.

The command is parsed with the maintained ``tree-sitter-bash`` grammar, not split into
tokens: a ``#`` inside a word is part of the word (``git status a#; id`` is two
commands), quotes are removed as the shell removes them, and operators, pipelines,
lists, negation and compound statements (``if``, ``while``, ``for``, ``case``, ``{ }``,
subshells) are walked down to their simple commands.

Each simple command is also *unwrapped*: prefix assignments (``x=1 rm``), a path on the
command word (``/bin/rm``) and the words that run the rest of the line as a command
(``command``, ``builtin``, ``exec``, ``env``, ``nohup``, ``nice``, ``time``,
``timeout``, ``setsid``, ``stdbuf``, ``sudo``, ``doas``, ``busybox``) are looked
through, and ``sh``/``bash``/``dash``/``zsh``/``ksh -c 'STRING'`` is parsed in turn, so
``sh -c 'rm x'`` shows the ``rm`` command.

A command is **accounted for** when every part of it is literal text the analysis read:
anything else — parameter, command or arithmetic expansion (``$x``, ``$(...)``,
backticks), process substitution, here-documents, ``$'...'`` strings, function
definitions, words that run other words as commands the analysis cannot see
(``eval``, ``xargs``, ``source``/``.``, ``find -exec``, ``su``, ``watch``...),
or a parse error — makes it unaccounted, and the policy sends it to the approver.
Shell globs (``*``, ``?``, ``[``) are expanded by :func:`bounded_glob`, which stops
after looking at ``GLOB_BUDGET`` directory entries (a ``/*/*/*/*/*`` would otherwise
walk the whole disk on the event loop): a glob over budget, and brace expansion, leave
the word's paths unchecked.

What no analysis of the text can see: what a program does with its arguments
(``python -c``, ``perl -e``, ``make``, a script the model wrote), so terminal deny
rules stop the commands they name, not everything with the same effect.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

GLOB_BUDGET = 5000  # directory entries one glob may look at
_MAX_DEPTH = 3  # how deep ``sh -c 'sh -c ...'`` is followed
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"})
_CHDIR = frozenset({"cd", "pushd", "popd"})
# Words that run other words as a command in a way this analysis does not follow.
_OPAQUE = frozenset(
    {"eval", "xargs", "source", ".", "su", "watch", "parallel", "script", "flock", "trap"}
    | {"fc", "alias", "enable", "exec-in", "chroot", "unshare", "nsenter", "runuser"}
)
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# Wrappers that run the rest of the words, with the options that take a value.
_WRAPPERS: dict[str, frozenset[str]] = {
    "command": frozenset(),
    "builtin": frozenset(),
    "exec": frozenset({"-a"}),
    "nohup": frozenset(),
    "setsid": frozenset(),
    "time": frozenset({"-f", "-o"}),
    "nice": frozenset({"-n"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "timeout": frozenset({"-s", "-k"}),
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "--unset", "--chdir"}),
    "busybox": frozenset(),
}
_LITERAL_WORDS = frozenset({"word", "number", "raw_string", "string", "concatenation"})
_IGNORED = frozenset({"comment", "heredoc_start", "file_descriptor"})
_CONTAINERS = frozenset(
    {
        "program", "list", "pipeline", "negated_command", "subshell", "compound_statement",
        "if_statement", "elif_clause", "else_clause", "while_statement", "do_group",
        "case_statement", "case_item", "for_statement",
    }
)  # fmt: skip
_GLOB = frozenset("*?[")
_LABELS = {
    "simple_expansion": "parameter expansion",
    "expansion": "parameter expansion",
    "command_substitution": "command substitution",
    "process_substitution": "process substitution",
    "arithmetic_expansion": "arithmetic expansion",
    "ansi_c_string": "a $'...' string",
    "translated_string": 'a $"..." string',
    "heredoc_redirect": "a here-document",
    "function_definition": "a function definition",
}


def _label(node: Node) -> str:
    text = _text(node)
    text = text if len(text) <= 40 else text[:40] + "…"
    return f"{_LABELS.get(node.type, node.type.replace('_', ' '))} ({text})"


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[str, ...]  # the words as the shell passes them (assignments excluded)
    effective: tuple[str, ...]  # after unwrapping wrappers, the command word's basename
    assignments: tuple[str, ...] = ()


@dataclass
class Analysis:
    commands: list[SimpleCommand] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # words that may name paths
    unaccounted: list[str] = field(default_factory=list)  # why, per construct
    globbed: list[str] = field(default_factory=list)  # words the shell would expand
    plain: bool = True  # no redirection, subshell or compound statement
    changes_directory: bool = False

    @property
    def accounted(self) -> bool:
        return not self.unaccounted


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bash.language()))


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="surrogateescape")


def _unescape(text: str, specials: str | None = None) -> str:
    """Backslash removal: every ``\\x`` is ``x`` (outside quotes), or only before
    ``specials`` (inside double quotes); a backslash-newline is removed."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "\n":
                i += 2
                continue
            if specials is None or nxt in specials:
                out.append(nxt)
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out)


class _Walker:
    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.result = Analysis()

    def unaccounted(self, why: str) -> None:
        if why not in self.result.unaccounted:
            self.result.unaccounted.append(why)

    def word(self, node: Node) -> str | None:
        """The literal value of a word node, or ``None`` (noted) when it expands."""
        kind = node.type
        if kind in ("word", "number"):
            text = _text(node)
            if any(c in _GLOB for c in text) or ("{" in text and "}" in text):
                self.result.globbed.append(text)
            return _unescape(text)
        if kind == "raw_string":
            return _text(node)[1:-1]
        if kind == "string":
            parts = []
            for child in node.named_children:
                if child.type != "string_content":
                    self.unaccounted(_label(child))
                    return None
                parts.append(_unescape(_text(child), '$`"\\'))
            return "".join(parts)
        if kind == "concatenation":
            values = [self.word(c) for c in node.named_children]
            if any(v is None for v in values):
                return None
            joined = "".join(v for v in values if v is not None)
            if "{" in _text(node) and "}" in _text(node):
                self.result.globbed.append(_text(node))
            return joined
        self.unaccounted(_label(node))
        return None

    def statement(self, node: Node) -> None:
        kind = node.type
        if node.is_error or node.is_missing:
            self.unaccounted("a part the shell grammar cannot parse")
        elif kind in _IGNORED or not node.is_named:
            return
        elif kind in _CONTAINERS:
            if kind not in ("program", "list", "pipeline", "negated_command"):
                self.result.plain = False
            for child in node.children:
                if child.is_named and child.type in _LITERAL_WORDS | {"variable_name"}:
                    if child.type != "variable_name":
                        self.word(child)  # for/case values: checked for expansions
                    continue
                self.statement(child)
        elif kind == "command":
            self.command(node)
        elif kind == "redirected_statement":
            self.result.plain = False
            for child in node.children:
                self.statement(child) if child.type != "file_redirect" else self.redirect(child)
        elif kind == "file_redirect":
            self.result.plain = False
            self.redirect(node)
        elif kind == "variable_assignment":
            self.assignment(node)
        elif kind == "test_command":
            self.result.plain = False
            self.test_words(node)
        else:
            self.unaccounted(_label(node))

    def test_words(self, node: Node) -> None:
        for child in node.named_children:
            if child.type in _LITERAL_WORDS:
                value = self.word(child)
                if value is not None:
                    self.result.paths.append(value)
            elif child.type == "test_operator":
                continue
            elif child.type.endswith("_expression") or child.type == "parenthesized_expression":
                self.test_words(child)
            else:
                self.unaccounted(_label(child))

    def redirect(self, node: Node) -> None:
        operator = next((_text(c) for c in node.children if not c.is_named), "")
        destination = node.child_by_field_name("destination")
        if destination is None:
            self.unaccounted("a redirection without a target")
            return
        value = self.word(destination)
        if value is None:
            return
        if operator in (">&", "<&") and (value.isdigit() or value == "-"):
            return  # descriptor duplication, not a file
        self.result.paths.append(value)

    def assignment(self, node: Node) -> str | None:
        value_node = node.child_by_field_name("value")
        name = _text(node.child_by_field_name("name") or node)
        if value_node is None:
            return f"{name}="
        value = self.word(value_node)
        if value is None:
            return None
        self.result.paths.append(value)
        return f"{name}={value}"

    def command(self, node: Node) -> None:
        assignments: list[str] = []
        words: list[str] = []
        for child in node.named_children:
            if child.type == "variable_assignment":
                text = self.assignment(child)
                if text is not None:
                    assignments.append(text)
            elif child.type == "command_name":
                inner = child.named_children
                value = self.word(inner[0]) if len(inner) == 1 else None
                if len(inner) != 1:
                    self.unaccounted(_label(child))
                if value is not None:
                    words.append(value)
            elif child.type in ("file_redirect", "herestring_redirect"):
                self.result.plain = False
                if child.type == "file_redirect":
                    self.redirect(child)
                else:
                    self.unaccounted("a here-string")
            elif child.type in _LITERAL_WORDS:
                value = self.word(child)
                if value is not None:
                    words.append(value)
            else:
                self.word(child)  # notes why it is not literal
        for word in words:
            if not word.startswith("-"):
                self.result.paths.append(word)
            elif "=" in word:
                self.result.paths.append(word.split("=", 1)[1])
        if words:
            self.result.commands.append(
                SimpleCommand(tuple(words), self.unwrap(words), tuple(assignments))
            )

    def unwrap(self, words: list[str]) -> tuple[str, ...]:
        """The words that actually run, wrappers looked through; nested shells parsed."""
        rest = list(words)
        while rest:
            head = os.path.basename(rest[0]) if "/" in rest[0] else rest[0]
            rest[0] = head
            if head in _CHDIR:
                self.result.changes_directory = True
            if head in _OPAQUE or (head == "find" and _FIND_EXEC & set(rest)):
                self.unaccounted(f"{head} runs words as a command this check does not follow")
                return tuple(rest)
            if head in _SHELLS:
                self.nested_shell(rest)
                return tuple(rest)
            takes_value = _WRAPPERS.get(head)
            if takes_value is None:
                return tuple(rest)
            if head == "command" and any(w in ("-v", "-V") for w in rest[1:2]):
                return tuple(rest)  # a lookup, runs nothing
            i = 1
            while i < len(rest):
                word = rest[i]
                if head == "env" and ("=" in word and not word.startswith("-")):
                    i += 1
                elif head == "env" and (word == "-S" or word.startswith("--split-string")):
                    self.unaccounted("env -S splits a string into a command")
                    return tuple(rest)
                elif word == "--":
                    i += 1
                    break
                elif word.startswith("-") and len(word) > 1:
                    i += 2 if word in takes_value else 1
                elif head == "timeout" and not any(c.isalpha() for c in word.rstrip("smhd")):
                    i += 1  # the duration
                    break
                elif head == "nice" and word.lstrip("-").isdigit():
                    i += 1
                else:
                    break
            rest = rest[i:]
        return tuple(rest)

    def nested_shell(self, words: list[str]) -> None:
        script: str | None = None
        for i, word in enumerate(words[1:], start=1):
            if word.startswith("-") and not word.startswith("--") and "c" in word:
                script = next((w for w in words[i + 1 :] if not w.startswith("-")), None)
                break
            if not word.startswith("-") and not word.startswith("+"):
                return  # a script file or nothing to run from text
        if script is None:
            self.unaccounted("a shell reading commands from standard input")
            return
        if self.depth >= _MAX_DEPTH:
            self.unaccounted("shell commands nested too deep")
            return
        inner = analyse(script, self.depth + 1)
        self.result.commands.extend(inner.commands)
        self.result.paths.extend(inner.paths)
        self.result.globbed.extend(inner.globbed)
        self.result.unaccounted.extend(inner.unaccounted)
        self.result.changes_directory |= inner.changes_directory
        self.result.plain = self.result.plain and inner.plain


def analyse(command: str, depth: int = 0) -> Analysis:
    """The simple commands, path words and unaccounted parts of ``command``."""
    walker = _Walker(depth)
    tree = _parser().parse(command.encode("utf-8", errors="surrogateescape"))
    walker.statement(tree.root_node)
    if tree.root_node.has_error and not walker.result.unaccounted:
        walker.unaccounted("a part the shell grammar cannot parse")
    return walker.result


def bounded_glob(pattern: str, budget: int = GLOB_BUDGET) -> list[str] | None:
    """The paths the absolute glob ``pattern`` expands to as ``sh`` would (a leading
    ``.`` matched only explicitly), or ``None`` when that takes looking at more than
    ``budget`` directory entries. Work is linear in the entries looked at."""
    parts = pattern.split("/")
    found = ["/"] if pattern.startswith("/") else [""]
    seen = 0
    for part in parts[1:] if pattern.startswith("/") else parts:
        if not part:
            continue
        if not any(c in _GLOB for c in part):
            found = [os.path.join(base, _unescape(part)) for base in found]
            continue
        grown: list[str] = []
        for base in found:
            try:
                with os.scandir(base or ".") as entries:
                    for entry in entries:
                        seen += 1
                        if seen > budget:
                            return None
                        if entry.name.startswith(".") and not part.startswith("."):
                            continue
                        if fnmatch.fnmatchcase(entry.name, part):
                            grown.append(os.path.join(base, entry.name))
            except OSError:
                continue
        found = grown
    return [f for f in found if os.path.lexists(f)]


def split_command(command: str) -> tuple[list[list[str]], bool]:
    """The command's simple commands (as word lists, nested ``sh -c`` ones included) and
    whether it is plain: fully accounted for, without redirection or compound
    statements."""
    found = analyse(command)
    return [list(c.words) for c in found.commands], found.plain and found.accounted


def changes_directory(command: str) -> bool:
    """Whether ``cd``, ``pushd`` or ``popd`` runs somewhere in ``command``."""
    return analyse(command).changes_directory
