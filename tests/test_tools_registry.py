"""The registry: schemas, validation errors, failures as results, cancellation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict

from tests.tools_helpers import make_ctx
from tools import (
    TOOLSETS,
    Tool,
    ToolAnnotations,
    ToolError,
    ToolRegistry,
    ToolResult,
    build_registry,
    default_registry,
)

# One valid argument object per built-in tool: adding a tool means adding its example.
EXAMPLES: dict[str, dict[str, Any]] = {
    "read_file": {"path": "src/app.py", "offset": 10, "limit": 50},
    "write_file": {"path": "notes.md", "content": "# hi\n"},
    "list_dir": {"path": ".", "depth": 2},
    "patch": {"path": "a.py", "edits": [{"old_text": "x = 1", "new_text": "x = 2"}]},
    "search_files": {"pattern": "def \\w+", "glob": "*.py", "max_results": 10},
    "terminal": {"command": "git status", "cwd": ".", "timeout_s": 30},
    "web_fetch": {"url": "https://example.com/", "raw": False},
    "memory": {"action": "add", "content": "prefers tabs", "scope": "workspace"},
    "session_search": {"query": '"flaky build"', "limit": 5, "workspace_only": True},
    "todo": {"todos": [{"content": "write tests", "status": "in_progress"}]},
    "skills_list": {"query": "release"},
    "skill_view": {"name": "release", "path": "references/steps.md"},
    "skill_manage": {"action": "patch", "name": "release", "old_text": "a", "new_text": "b"},
}


def test_every_tool_has_an_example_and_a_known_toolset() -> None:
    registry = default_registry()
    assert set(registry.names) == set(EXAMPLES)
    assert {tool.toolset for tool in registry} <= set(TOOLSETS)
    assert "delegation" in TOOLSETS


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_schema_is_valid_json_schema_and_round_trips_through_pydantic(name: str) -> None:
    tool = default_registry().get(name)
    assert tool is not None
    schema = tool.json_schema()
    Draft202012Validator.check_schema(schema)
    assert json.loads(json.dumps(schema)) == schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False

    validator = Draft202012Validator(schema)
    example = EXAMPLES[name]
    validator.validate(example)
    parsed = tool.args.model_validate(example)
    dumped = parsed.model_dump(mode="json")
    validator.validate(dumped)  # what pydantic produces is valid for the schema
    assert tool.args.model_validate(dumped) == parsed  # and parses back to the same value

    wrong = {**example, "no_such_field": 1}
    assert not validator.is_valid(wrong)
    with pytest.raises(ValueError):
        tool.args.model_validate(wrong)

    output = tool.output_schema()
    if output is not None:
        Draft202012Validator.check_schema(output)


def test_toolsets_select_tools() -> None:
    assert set(build_registry(["files"]).names) == {
        "read_file",
        "write_file",
        "list_dir",
        "patch",
        "search_files",
    }
    assert build_registry(["planning"]).names == ["todo"]
    assert len(build_registry(["delegation"])) == 0
    with pytest.raises(ValueError, match="unknown toolset"):
        build_registry(["files", "fils"])


@pytest.mark.anyio
async def test_validation_error_names_the_field(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    registry = default_registry()
    result = await registry.call("read_file", {"path": "a", "offset": 0}, ctx)
    assert result.is_error
    assert "invalid arguments for read_file" in result.text
    assert "offset" in result.text
    result = await registry.call("read_file", {"pth": "a"}, ctx)
    assert "path: Field required" in result.text and "pth: unknown field" in result.text
    result = await registry.call("read_file", ["a"], ctx)
    assert result.is_error and "expected a JSON object" in result.text


@pytest.mark.anyio
async def test_unknown_tool_is_an_error_result(tmp_path: Path) -> None:
    result = await default_registry().call("rm_rf", {}, make_ctx(tmp_path))
    assert result.is_error and "unknown tool 'rm_rf'" in result.text and "read_file" in result.text


class _NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _tool(fn: Any, name: str = "t") -> Tool[_NoArgs]:
    return Tool(name=name, description="test", args=_NoArgs, fn=fn, toolset="files")


@pytest.mark.anyio
async def test_exceptions_become_error_results_and_output_is_redacted(tmp_path: Path) -> None:
    async def boom(args: _NoArgs, ctx: Any) -> ToolResult:
        raise RuntimeError("disk on fire")

    async def refuse(args: _NoArgs, ctx: Any) -> ToolResult:
        raise ToolError("nope, and here is why")

    async def leak(args: _NoArgs, ctx: Any) -> ToolResult:
        return ToolResult(
            text="key=sk-ant-REALLYSECRETVALUE1234567890", structured={"k": "AIza" + "x" * 35}
        )

    registry = ToolRegistry([_tool(boom, "boom"), _tool(refuse, "refuse"), _tool(leak, "leak")])
    ctx = make_ctx(tmp_path)
    result = await registry.call("boom", {}, ctx)
    assert result.is_error and "RuntimeError: disk on fire" in result.text
    result = await registry.call("refuse", {}, ctx)
    assert result.is_error and result.text == "nope, and here is why"
    result = await registry.call("leak", {}, ctx)
    assert "REALLYSECRET" not in result.text and "[REDACTED]" in result.text
    assert result.structured == {"k": "[REDACTED]"}


@pytest.mark.anyio
async def test_cancellation_propagates_out_of_call(tmp_path: Path) -> None:
    entered = anyio.Event()
    finished = False

    async def hang(args: _NoArgs, ctx: Any) -> ToolResult:
        entered.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    registry = ToolRegistry([_tool(hang)])

    async def run() -> None:
        nonlocal finished
        await registry.call("t", {}, make_ctx(tmp_path))
        finished = True

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await entered.wait()
            tg.cancel_scope.cancel()
    assert not finished


def test_registry_rejects_duplicates_and_unknown_toolsets() -> None:
    async def fn(args: _NoArgs, ctx: Any) -> ToolResult:
        return ToolResult("ok")

    registry = ToolRegistry([_tool(fn)])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(_tool(fn))
    with pytest.raises(ValueError, match="unknown toolset"):
        registry.register(
            Tool(
                name="x",
                description="",
                args=_NoArgs,
                fn=fn,
                toolset="nope",
                annotations=ToolAnnotations(),
            )
        )
