"""The MCP client's pieces without a process: raw JSON Schema tools in the registry, the
``mcp:`` policy category, ``[mcp_servers]`` config errors, specs from the config and from
ACP's ``mcpServers`` shapes, and the mapping of MCP tools and results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from acp.schema import EnvVariable, HttpHeader, HttpMcpServer, McpServerStdio, SseMcpServer

from hermes_mcp.config import load_settings
from hermes_mcp.errors import ConfigError
from hermes_mcp.log import redact
from hermes_mcp.mcp_client import from_acp, mapping, server_name, specs_from_acp, specs_from_config
from hermes_mcp.mcp_client.mapping import to_result, tool_annotations, tool_name
from tests.keys import FALLBACK_KEY, LITERAL_KEY
from tests.tools_helpers import make_ctx
from tools import ApprovalRequest, Policy, Tool, ToolRegistry, ToolResult
from tools.registry import RawArguments

SCHEMA = {
    "type": "object",
    "properties": {
        "a": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["a"],
    "additionalProperties": False,
}


async def _echo(args: RawArguments, ctx: Any) -> ToolResult:
    return ToolResult(json.dumps(args.values(), sort_keys=True))


def raw_tool(
    name: str = "srv__echo", toolset: str = "mcp", schema: Any = SCHEMA
) -> Tool[RawArguments]:
    return Tool(name, "echo", RawArguments, _echo, toolset, input_schema=schema)


# -- the registry ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_raw_schema_tool_checks_its_arguments_and_names_each_bad_field(
    tmp_path: Path,
) -> None:
    registry = ToolRegistry([raw_tool()])
    ctx = make_ctx(tmp_path)
    ok = await registry.call("srv__echo", {"a": 1, "tags": ["x"]}, ctx)
    assert (ok.is_error, ok.text) == (False, '{"a": 1, "tags": ["x"]}')
    bad = await registry.call("srv__echo", {"tags": ["x", 2], "zz": 1}, ctx)
    assert bad.is_error
    assert bad.text.startswith("invalid arguments for srv__echo: ")
    assert "'a' is a required property" in bad.text
    assert "tags.1: 2 is not of type 'string'" in bad.text
    assert "'zz' was unexpected" in bad.text
    assert registry.get("srv__echo").json_schema() == SCHEMA  # type: ignore[union-attr]
    assert registry.by_toolsets(["mcp"]).names == ["srv__echo"]


def test_raw_schema_tools_need_an_open_toolset_a_namespaced_name_and_a_valid_schema() -> None:
    with pytest.raises(ValueError, match="open toolset"):
        raw_tool(toolset="files")
    with pytest.raises(ValueError, match="'<server>__<tool>' name"):
        raw_tool(name="echo")
    with pytest.raises(ValueError, match="invalid input schema"):
        raw_tool(schema={"type": "object", "properties": {"a": {"type": 12}}})
    registry = ToolRegistry([raw_tool()])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(raw_tool())


@pytest.mark.anyio
async def test_a_schema_reference_is_never_fetched(tmp_path: Path) -> None:
    remote = {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/a.json"}}}
    registry = ToolRegistry([raw_tool(schema=remote)])
    result = await registry.call("srv__echo", {"a": 1}, make_ctx(tmp_path))
    assert result.is_error and "cannot be checked: Unresolvable: http://127.0.0.1:9" in result.text


# -- the policy --------------------------------------------------------------------------


def _request(tool: str, risk: str | None = "calls a tool") -> ApprovalRequest:
    return ApprovalRequest(tool=tool, kind="other", action="mcp", title=tool, risk=risk)


def test_mcp_rules_match_namespaced_tool_names_and_read_only_calls_are_routine(
    tmp_path: Path,
) -> None:
    roots = [tmp_path]
    policy = Policy("ask", allow=["mcp:github__get_*"], deny=["mcp:github__delete_*"])
    assert policy.evaluate(_request("github__get_issue"), roots).outcome == "allow"
    assert policy.evaluate(_request("github__create_issue"), roots).outcome == "ask"
    assert policy.evaluate(_request("github__delete_repo"), roots).outcome == "deny"
    assert policy.evaluate(_request("github__delete_repo", risk=None), roots).outcome == "deny"
    assert policy.evaluate(_request("other__list", risk=None), roots).outcome == "allow"
    assert Policy("auto").evaluate(_request("x__y"), roots).outcome == "allow"
    assert Policy("accept_edits").evaluate(_request("x__y"), roots).outcome == "ask"
    read = ApprovalRequest(
        tool="github__get_x",
        kind="read",
        action="read",
        title="t",
        paths=(tmp_path / "f",),
        risk="r",
    )
    assert not Policy("ask", allow=["mcp:github__*"]).allow[0].matches(read, roots)


# -- the config --------------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path, env={"HERMES_MCP_HOME": str(tmp_path)})


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[mcp_servers.a]\ncommand = "x"\ncomand = "y"\n', "mcp_servers.a.comand", "unknown key"),
        ('[mcp_servers.a]\nargs = ["x"]\n', "mcp_servers.a", "set either command"),
        (
            '[mcp_servers.a]\ncommand = "x"\nurl = "http://h"\n',
            "mcp_servers.a",
            "set either command",
        ),
        (
            '[mcp_servers.a]\nurl = "http://h"\nenv = {A = "1"}\n',
            "mcp_servers.a",
            "args, env and cwd",
        ),
        (
            '[mcp_servers.a]\ncommand = "x"\nheaders = {A = "1"}\n',
            "mcp_servers.a",
            "headers and transport are for a url",
        ),
        ('[mcp_servers.a]\nurl = "ftp://h"\n', "mcp_servers.a", "http:// or https://"),
        (
            '[mcp_servers.a]\ncommand = "x"\ntimeout_s = 0\n',
            "mcp_servers.a.timeout_s",
            "greater than 0",
        ),
        ('[mcp_servers."a b"]\ncommand = "x"\n', "mcp_servers.a b", "server name"),
        ('[mcp_servers.a__b]\ncommand = "x"\n', "mcp_servers.a__b", "without '__'"),
    ],
)
def test_mcp_servers_config_errors_name_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    assert str(tmp_path / "config.toml") in str(raised.value)
    assert f"{key}:" in str(raised.value) and message in str(raised.value)


def test_specs_from_config_resolve_env_references_and_keep_problems_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERMES_TEST_MCP_HEADER", FALLBACK_KEY)
    monkeypatch.delenv("HERMES_TEST_MCP_UNSET", raising=False)
    settings = _load(
        tmp_path,
        "\n".join(
            [
                "[mcp_servers.web]",
                'url = "https://mcp.example/mcp"',
                'headers = {Authorization = "env:HERMES_TEST_MCP_HEADER", X-Plain = "v"}',
                "tools = ['search']",
                "timeout_s = 5",
                "[mcp_servers.local]",
                'command = "srv"',
                'env = {GH_TOKEN = "env:HERMES_TEST_MCP_UNSET"}',
                "[mcp_servers.rel]",
                'command = "srv"',
                'cwd = "sub"',
                "[mcp_servers.off]",
                'command = "srv"',
                "enabled = false",
            ]
        )
        + "\n",
    )
    web, local, rel = specs_from_config(settings.config, str(settings.source), cwd=tmp_path)
    assert (web.transport, web.url, web.tools, web.timeout_s) == (
        "http",
        "https://mcp.example/mcp",
        ("search",),
        5,
    )
    assert web.headers == {"Authorization": FALLBACK_KEY, "X-Plain": "v"}
    assert redact(f"sent {FALLBACK_KEY}") == "sent [REDACTED]"
    assert FALLBACK_KEY not in repr(web)
    assert local.problem is not None and "mcp_servers.local.env.GH_TOKEN" in local.problem
    assert "HERMES_TEST_MCP_UNSET is not set" in local.problem
    assert (rel.problem, rel.cwd) == (None, tmp_path / "sub")


# -- ACP's mcpServers --------------------------------------------------------------------


def test_acp_server_shapes_become_specs() -> None:
    stdio = McpServerStdio(
        name="My Tools",
        command="/usr/bin/srv",
        args=["--x"],
        env=[
            EnvVariable(name="API_KEY", value=LITERAL_KEY),
            EnvVariable(name="MODE", value="fast"),
        ],
    )
    http = HttpMcpServer(
        type="http",
        name="web",
        url="http://127.0.0.1:9/mcp",
        headers=[HttpHeader(name="Authorization", value="Bearer abcdefabcdefabcdef")],
    )
    sse = SseMcpServer(type="sse", name="web", url="http://127.0.0.1:9/sse", headers=[])
    a, b, c = specs_from_acp([stdio, http, sse])
    assert (a.name, a.transport, a.command, a.args, dict(a.env), a.source) == (
        "My_Tools",
        "stdio",
        "/usr/bin/srv",
        ("--x",),
        {"API_KEY": LITERAL_KEY, "MODE": "fast"},
        "editor",
    )
    assert redact(LITERAL_KEY) == "[REDACTED]" and redact("fast") == "fast"
    assert (b.name, b.transport, dict(b.headers)) == (
        "web",
        "http",
        {"Authorization": "Bearer abcdefabcdefabcdef"},
    )
    assert (c.name, c.transport, c.url) == ("web-2", "sse", "http://127.0.0.1:9/sse")
    json_shape = from_acp({"name": "j", "command": "srv", "args": [], "env": []})
    assert (json_shape.transport, json_shape.command) == ("stdio", "srv")
    acp_kind = from_acp({"type": "acp", "name": "inner", "id": "x"})
    assert acp_kind.problem is not None and "'acp' is not supported" in acp_kind.problem
    assert server_name("  a..b__c  ") == "a_b_c" and server_name("☃") == "server"


# -- mapping ---------------------------------------------------------------------------


def test_tool_names_annotations_and_results_map_to_ours() -> None:
    assert tool_name("gh", "issues.list") == "gh__issues_list"
    assert len(tool_name("s", "x" * 100)) == 64
    hinted = types.Tool(
        name="get",
        input_schema={"type": "object"},
        annotations=types.ToolAnnotations(read_only_hint=True, title="Get it"),
    )
    plain = types.Tool(name="put", input_schema={"type": "object"})
    assert (
        tool_annotations(hinted).read_only,
        tool_annotations(hinted).kind,
        tool_annotations(hinted).title,
    ) == (True, "read", "Get it")
    assert (tool_annotations(plain).read_only, tool_annotations(plain).destructive) == (False, True)

    result = types.CallToolResult(
        content=[
            types.TextContent(type="text", text="found"),
            types.ResourceLink(type="resource_link", name="spec", uri="file:///spec.md"),
            types.EmbeddedResource(
                type="resource",
                resource=types.TextResourceContents(uri="file:///a.txt", text="inside"),
            ),
            types.AudioContent(type="audio", data="AAAA", mime_type="audio/wav"),
        ],
        structured_content={"n": 1},
    )
    mapped = to_result(result)
    assert mapped.text.splitlines() == [
        "found",
        "[resource link: spec <file:///spec.md>]",
        "[resource file:///a.txt]",
        "inside",
        "[audio: audio/wav, 3 bytes, not played]",
    ]
    assert (mapped.is_error, mapped.structured) == (False, {"n": 1})
    only_structured = to_result(types.CallToolResult(content=[], structured_content={"n": 2}))
    assert only_structured.text == '{"n": 2}'
    failed = to_result(
        types.CallToolResult(content=[types.TextContent(type="text", text="no")], is_error=True)
    )
    assert (failed.is_error, failed.text, failed.structured) == (True, "no", None)


def test_huge_structured_content_is_left_out_and_said() -> None:
    big = {"rows": ["x" * 1000] * 200}
    mapped = to_result(
        types.CallToolResult(
            content=[types.TextContent(type="text", text="rows")], structured_content=big
        )
    )
    assert mapped.structured is None
    assert mapped.text.startswith("rows\n[structured content of ") and mapped.text.endswith(
        " characters left out]"
    )


def test_the_readme_example_is_a_valid_config() -> None:
    import re
    import tomllib

    from hermes_mcp.config import parse_config

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[mcp_servers." in b]
    config = parse_config(tomllib.loads(block), "README.md")
    github, search = config.mcp_servers.values()
    assert (github.command, github.tools, github.timeout_s) == (
        "npx",
        ["get_issue", "create_issue"],
        120,
    )
    assert (search.url, search.transport, search.startup_timeout_s) == (
        "https://mcp.example.com/mcp",
        "http",
        30,
    )


def test_mcp_and_tool_rules_match_either_spelling_of_a_name() -> None:
    roots = [Path("/w")]
    aliases = mapping.spellings("evil", "files.delete")
    assert aliases == ("evil__files.delete",) and mapping.spellings("evil", "ok") == ()
    call = ApprovalRequest(
        tool="evil__files_delete",
        kind="other",
        action="mcp",
        title="evil__files_delete",
        risk="calls",
        aliases=aliases,
    )
    for rules in (["mcp:evil__files.delete"], ["mcp:evil__files_delete"], ["tool:evil__*.delete"]):
        assert Policy("auto", deny=rules).evaluate(call, roots).outcome == "deny", rules
    assert Policy("auto", deny=["mcp:evil__files.list"]).evaluate(call, roots).outcome == "allow"


def test_the_id_of_an_over_long_answer_is_read_from_its_ends() -> None:
    from hermes_mcp.jsonrpc_lines import TooLong
    from hermes_mcp.mcp_client.stdio import id_of, parse

    def line(head: bytes, tail: bytes) -> TooLong:
        return TooLong(10**8, head, tail)

    assert id_of(line(b'{"jsonrpc":"2.0","id":5,"result":{"content":[', b"")) == 5
    assert id_of(line(b'{"jsonrpc": "2.0", "id": "a\\"b", "result"', b"")) == 'a"b'
    assert id_of(line(b'{"result":{"x":{"id":9', b'xx"}]},"jsonrpc":"2.0","id":7}\n')) == 7
    # An "id" inside the result is not the response's.
    assert id_of(line(b'{"result":{"id":9,', b'"text":"x","id":3}}')) is None
    assert id_of(line(b'{"jsonrpc":"2.0","method":"x","params":{', b"}}")) is None
    failed = parse(line(b'{"jsonrpc":"2.0","id":5,"result":', b""), 4096)
    assert not isinstance(failed, Exception) and failed is not None
    error = failed.message
    assert isinstance(error, types.JSONRPCError) and error.id == 5
    assert "over max_line_bytes = 4096" in error.error.message
    assert isinstance(parse(line(b"{", b"}"), 4096), ValueError)
