"""The JSON/JSONC span editor behind ``install``: every edit parses back to exactly the
intended document, and adding then removing our member gives back the original bytes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hermes_mcp.install.jsonc import JsonSyntaxError, parse, remove_member, set_member

ENTRY = {"command": "/opt/bin/hermes-mcp", "args": ["serve", "--protocol", "mcp"]}

LAYOUTS = [
    ("{}", False),
    ('{"a": 1}', False),
    ('{"servers": {}}', False),
    ('{"servers": {"x": {"command": "x"}}, "z": [1, 2]}', False),
    ('{\n  "servers": {\n    "x": {"command": "x"}\n  }\n}\n', False),
    ('{\n\t"servers": {\n\t\t"x": 1,\n\t\t"y": 2\n\t},\n\t"after": null\n}', False),
    ('{\n    "servers": {\n    }\n}', False),
    ('{\n  "servers": {\n    "x": 1, // keep me\n  },\n}\n', True),
    ('// top\n{\n  /* a */ "servers": {\n    "x": 1 // last\n  }\n}\n', True),
    ('{\n  "servers": { // open\n  }\n}', True),
    ('{\n  "theme": "dark",\n  "servers": {"x": 1,}\n}', True),
    ('{\r\n  "servers": {\r\n    "x": 1\r\n  }\r\n}\r\n', False),  # Windows line endings
]


@pytest.mark.parametrize(("text", "jsonc"), LAYOUTS)
def test_add_then_remove_is_the_original(text: str, jsonc: bool) -> None:
    root = parse(text, jsonc=jsonc)
    data: dict[str, Any] = root.to_python()
    found = root.get("servers")
    if found:
        added = set_member(text, found[0].value, "hermes", ENTRY)
        data["servers"]["hermes"] = ENTRY
    else:
        added = set_member(text, root, "servers", {"hermes": ENTRY})
        data["servers"] = {"hermes": ENTRY}
    again = parse(added, jsonc=jsonc)
    assert again.to_python() == data
    if not jsonc:
        assert json.loads(added) == data
    if "\r\n" in text:
        assert added.count("\n") == added.count("\r\n")  # ours take the file's endings
    for comment in re.findall(r"//[^\n]*|/\*.*?\*/", text, re.S):
        assert comment in added  # every comment stays
    if found:
        removed = remove_member(added, again.get("servers")[0].value, "hermes")
        # An emptied object may keep the lines our member opened in it; nothing else moves.
        assert re.sub(r"\{\s*\}", "{}", removed) == re.sub(r"\{\s*\}", "{}", text)
        assert removed == text or not found[0].value.members


@pytest.mark.parametrize(("text", "jsonc"), LAYOUTS)
def test_replacing_a_value_touches_only_that_value(text: str, jsonc: bool) -> None:
    root = parse(text, jsonc=jsonc)
    if not root.get("servers"):
        return
    servers = root.get("servers")[0].value
    first = set_member(text, servers, "hermes", {"command": "old"})
    second = set_member(first, parse(first, jsonc=jsonc).get("servers")[0].value, "hermes", ENTRY)
    assert parse(second, jsonc=jsonc).to_python()["servers"]["hermes"] == ENTRY
    assert second.replace(json.dumps(ENTRY["args"]), "").count('"hermes"') == 1


def test_removing_a_middle_member_and_an_inline_one() -> None:
    text = '{\n  "a": 1,\n  "b": 2,\n  "c": 3\n}'
    root = parse(text)
    assert remove_member(text, root, "b") == '{\n  "a": 1,\n  "c": 3\n}'
    assert remove_member(text, root, "a") == '{\n  "b": 2,\n  "c": 3\n}'
    inline = '{"a": 1, "b": 2, "c": 3}'
    root = parse(inline)
    assert remove_member(inline, root, "a") == '{"b": 2, "c": 3}'
    assert remove_member(inline, root, "b") == '{"a": 1, "c": 3}'
    assert remove_member(inline, root, "c") == '{"a": 1, "b": 2}'


@pytest.mark.parametrize(
    ("text", "jsonc", "where"),
    [
        ('{"a": 1,}', False, "line 1 column 9: trailing comma"),
        ("// c\n{}", False, "line 1 column 1: comments are not allowed"),
        ('{\n  "a": 1\n  "b": 2\n}', True, "line 3 column 3: expected ','"),
        ('{"a": "x\ny"}', False, "line 1 column 7"),
        ("{/* open", True, "unterminated /* comment"),
        ('{"a": 01}', False, "line 1 column 8"),
        ("", False, "found the end of the file"),
        ("{} {}", True, "unexpected text after the end"),
        ("{'a': 1}", True, "expected a key in double quotes"),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, jsonc: bool, where: str) -> None:
    with pytest.raises(JsonSyntaxError, match=where.replace("/*", r"/\*")):
        parse(text, jsonc=jsonc)


def test_values_parse_like_json() -> None:
    text = '{"s": "a\\n\\u00e9\\"", "n": [-1, 2.5, 1e3, 0], "t": true, "f": false, "z": null}'
    assert parse(text).to_python() == json.loads(text)
