"""JSON (and JSONC) parsed with positions, so that one member can be set or removed by a
textual edit that leaves every other byte of the file alone: other keys, their order,
indentation, and in JSONC files the comments and trailing commas.

``parse(text, jsonc=False)`` is strict RFC 8259 JSON (the format of Claude Desktop's and
Cursor's files). ``jsonc=True`` also accepts ``//`` and ``/* */`` comments and trailing
commas (VS Code's and Zed's settings files). Anything else is a :class:`JsonSyntaxError`
naming the line and column. :func:`set_member` and :func:`remove_member` return the new
text; :mod:`hermes_mcp.install.merge` checks every result by parsing it again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class JsonSyntaxError(ValueError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"line {line} column {column}: {message}")
        self.line, self.column = line, column


@dataclass
class Node:
    """A value and where it is: ``text[start:end]``. Objects keep their members in order
    (duplicates included), arrays their items."""

    kind: str  # object | array | scalar
    start: int
    end: int
    value: Any = None  # scalars only
    members: list[Member] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)

    def get(self, key: str) -> list[Member]:
        return [m for m in self.members if m.key == key]

    def to_python(self) -> Any:
        if self.kind == "object":
            return {m.key: m.value.to_python() for m in self.members}
        if self.kind == "array":
            return [item.to_python() for item in self.items]
        return self.value


@dataclass
class Member:
    key: str
    key_start: int
    value: Node


class _Parser:
    def __init__(self, text: str, jsonc: bool) -> None:
        self.text, self.jsonc, self.pos = text, jsonc, 0

    def fail(self, message: str, pos: int | None = None) -> JsonSyntaxError:
        return JsonSyntaxError(message, self.text, self.pos if pos is None else pos)

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif ch == "/" and text.startswith("//", self.pos):
                if not self.jsonc:
                    raise self.fail("comments are not allowed in this JSON file")
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            elif ch == "/" and text.startswith("/*", self.pos):
                if not self.jsonc:
                    raise self.fail("comments are not allowed in this JSON file")
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def value(self, depth: int = 0) -> Node:
        if depth > 500:
            raise self.fail("nested too deeply")
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("expected a value, found the end of the file")
        ch, start = self.text[self.pos], self.pos
        if ch == "{":
            return self.container(start, "}", depth)
        if ch == "[":
            return self.container(start, "]", depth)
        if ch == '"':
            text, end = self.string()
            return Node("scalar", start, end, text)
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            number = match.group()
            parsed = float(number) if any(c in number for c in ".eE") else int(number)
            return Node("scalar", start, self.pos, parsed)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Node("scalar", start, self.pos, literal)
        raise self.fail(f"unexpected character {ch!r}")

    def string(self) -> tuple[str, int]:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            raise self.fail(
                "a string that is not valid JSON (unterminated, or a raw control character)"
            )
        self.pos = match.end()
        return json.loads(match.group()), self.pos

    def container(self, start: int, close: str, depth: int) -> Node:
        node = Node("object" if close == "}" else "array", start, start)
        self.pos += 1
        expect_item = True  # at the start, or just after a comma
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail(f"expected {close!r}, found the end of the file", start)
            ch = self.text[self.pos]
            if ch == close:
                has_items = bool(node.members or node.items)
                if expect_item and has_items and not self.jsonc:
                    raise self.fail("trailing comma")
                self.pos += 1
                node.end = self.pos
                return node
            if not expect_item:
                raise self.fail(f"expected ',' or {close!r}")
            if close == "}":
                if ch != '"':
                    raise self.fail("expected a key in double quotes")
                key_start = self.pos
                key, _ = self.string()
                self.skip()
                if not self.text.startswith(":", self.pos):
                    raise self.fail("expected ':' after the key")
                self.pos += 1
                node.members.append(Member(key, key_start, self.value(depth + 1)))
            else:
                node.items.append(self.value(depth + 1))
            self.skip()
            expect_item = self.text.startswith(",", self.pos)
            if expect_item:
                self.pos += 1


def parse(text: str, *, jsonc: bool = False) -> Node:
    """The document's root value; :class:`JsonSyntaxError` unless ``text`` is one value."""
    parser = _Parser(text, jsonc)
    root = parser.value()
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the end of the document")
    return root


# --- edits -------------------------------------------------------------------------


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_indent(text: str, pos: int) -> str:
    """The leading whitespace of the line that holds ``pos``."""
    start = _line_start(text, pos)
    match = re.compile(r"[ \t]*").match(text, start)
    return match.group() if match else ""


def indent_unit(text: str) -> str:
    """The file's indentation step: the shallowest indented line, else two spaces."""
    steps = [m.group(1) for m in re.finditer(r"^([ \t]+)\S", text, re.M)]
    return min(steps, key=len) if steps else "  "


def render(value: Any, indent: str, unit: str) -> str:
    """``value`` as JSON laid out from column ``indent`` with ``unit`` per level: objects
    one member per line, arrays of scalars on one line (as people write ``args``)."""
    if isinstance(value, dict) and value:
        inner = indent + unit
        members = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {render(v, inner, unit)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(members) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        inner = indent + unit
        items = [f"{inner}{render(v, inner, unit)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _skip_trivia(text: str, pos: int, *, same_line: bool) -> int:
    """Past spaces and comments from ``pos`` (on this line only when ``same_line``)."""
    while pos < len(text):
        if text[pos] in " \t\r" or (text[pos] == "\n" and not same_line):
            pos += 1
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            pos = len(text) if end < 0 else end + 2
        else:
            break
    return pos


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply non-overlapping edits; edits at one position land in the listed order. New
    text takes the file's line endings (``\r\n`` when the file uses them)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    ordered = sorted(enumerate(edits), key=lambda e: (e[1][0], e[0]), reverse=True)
    for _, (start, end, new) in ordered:
        new = new.replace("\n", newline) if newline != "\n" else new
        text = text[:start] + new + text[end:]
    return text


def set_member(text: str, obj: Node, key: str, value: Any) -> str:
    """``text`` with ``obj[key] = value``: the member's value replaced in place when it
    exists, else a new member after the last one (before the closing brace of an empty
    object), indented like its siblings; a comment after the last member stays on its
    line, and a trailing comma stays a trailing comma."""
    unit = indent_unit(text)
    existing = obj.get(key)
    if existing:
        member = existing[-1]
        new = render(value, _line_indent(text, member.key_start), unit)
        return _apply(text, [(member.value.start, member.value.end, new)])
    one_line = "\n" not in text[obj.start : obj.end]
    pair = json.dumps(key, ensure_ascii=False) + ": "
    if not obj.members:
        outer = _line_indent(text, obj.start)
        indent = outer + unit
        inner = pair + render(value, indent, unit)
        if one_line:
            return _apply(text, [(obj.start, obj.end, f"{{\n{indent}{inner}\n{outer}}}")])
        close = obj.end - 1
        if text[_line_start(text, close) : close].strip():  # "}" after other text
            return _apply(text, [(close, close, f"\n{indent}{inner}\n{outer}")])
        return _apply(
            text, [(_line_start(text, close), _line_start(text, close), f"{indent}{inner}\n")]
        )
    last = obj.members[-1]
    after_value = _skip_trivia(text, last.value.end, same_line=False)
    trailing_comma = text.startswith(",", after_value)
    if one_line:
        inner = pair + json.dumps(value, ensure_ascii=False)
        if trailing_comma:
            return _apply(text, [(after_value + 1, after_value + 1, f" {inner},")])
        return _apply(text, [(last.value.end, last.value.end, f", {inner}")])
    indent = _line_indent(text, last.key_start)
    if text[_line_start(text, last.key_start) : last.key_start].strip():
        indent = _line_indent(text, obj.start) + unit  # members share a line with "{"
    inner = pair + render(value, indent, unit)
    anchor = after_value + 1 if trailing_comma else last.value.end
    line_end = _skip_trivia(text, anchor, same_line=True)  # a comment keeps its line
    if text.startswith("\r\n", line_end - 1):
        line_end -= 1  # before a \r\n, not inside it
    edits = [] if trailing_comma else [(last.value.end, last.value.end, ",")]
    edits.append((line_end, line_end, f"\n{indent}{inner}{',' if trailing_comma else ''}"))
    return _apply(text, edits)


def remove_member(text: str, obj: Node, key: str) -> str:
    """``text`` without the member ``key`` of ``obj`` and one comma next to it; a member
    on lines of its own takes those lines with it. Comments stay."""
    index = next(i for i, m in enumerate(obj.members) if m.key == key)
    member = obj.members[index]
    start, end = member.key_start, member.value.end
    edits: list[tuple[int, int, str]] = []
    after = _skip_trivia(text, end, same_line=False)
    if text.startswith(",", after):
        end = after + 1
    elif index > 0:  # the last member: the comma before it goes instead
        comma = _skip_trivia(text, obj.members[index - 1].value.end, same_line=False)
        if text.startswith(",", comma):
            if not text[comma + 1 : start].strip() and "\n" not in text[comma:start]:
                start = comma  # inline: ', "key": value' goes as one piece
            else:
                edits.append((comma, comma + 1, ""))
    line_start = _line_start(text, start)
    rest = end
    while rest < len(text) and text[rest] in " \t\r":
        rest += 1
    if not text[line_start:start].strip() and (rest == len(text) or text[rest] == "\n"):
        start, end = line_start, min(rest + 1, len(text))
    elif text[start - 1 : start] in (" ", "\t"):
        while text[start - 1 : start] in (" ", "\t"):
            start -= 1  # ', "key": value' inline: the space before it goes too
    elif text.startswith(" ", end):
        end += 1  # '{"key": value, ...': the space after it
    edits.append((start, end, ""))
    return _apply(text, edits)
