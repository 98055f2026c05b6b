"""One ``hermes-mcp serve`` with no flag, as real processes (issue 18's Must show): it
answers an MCP client (``mcp.Client``, ``auto`` and ``legacy``) and, in another run, an
ACP client (the SDK's), and garbage as the first line gets a JSON-RPC parse error, a
non-zero exit, and nothing else on stdout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.testing import FakeProvider, reply
from tests.keys import KEY_A, seen
from tests.routing import HERMES, Home

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        fp.set_default(KEY_A, reply("hello from the fake"))
        yield fp


def home_for(tmp_path: Path, fake: FakeProvider) -> Home:
    """No config file: OPENAI_API_KEY at the fake (zero-config)."""
    home = Home(tmp_path / "home")
    home.path.mkdir()
    home.env["OPENAI_API_KEY"] = KEY_A
    home.env["HERMES_MCP_OPENAI_BASE_URL"] = fake.openai_base_url
    return home


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_serve_with_no_flag_answers_an_mcp_client(
    tmp_path: Path, fake: FakeProvider, mode: str
) -> None:
    from mcp import Client, StdioServerParameters

    home = home_for(tmp_path, fake)
    (tmp_path / "hello.txt").write_text("hi there\n")
    params = StdioServerParameters(
        command=HERMES, args=["serve", "--workspace", str(tmp_path)], env=home.process_env
    )
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:
            assert client.server_info is not None and client.server_info.name == "hermes-mcp"
            tools = await client.list_tools()
            assert "read_file" in {tool.name for tool in tools.tools}
            result = await client.call_tool("read_file", {"path": "hello.txt"})
            assert not result.is_error
            text = "".join(getattr(part, "text", "") for part in result.content)
            assert "hi there" in seen(text)


class RecordingClient:
    """The ACP client side: records session updates, denies every permission."""

    def __init__(self) -> None:
        self.updates: list[Any] = []

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append(update)

    async def request_permission(self, *args: Any, **kwargs: Any) -> Any:
        from acp.schema import DeniedOutcome, RequestPermissionResponse

        return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))

    def on_connect(self, conn: Any) -> None:
        pass


async def test_serve_with_no_flag_answers_an_acp_client(tmp_path: Path, fake: FakeProvider) -> None:
    import acp
    from acp.schema import AgentMessageChunk

    home = home_for(tmp_path, fake)
    client = RecordingClient()
    with anyio.fail_after(60):
        async with acp.spawn_agent_process(
            client,  # type: ignore[arg-type]
            HERMES,
            "serve",
            env=home.process_env,
            cwd=str(tmp_path),
        ) as (conn, _process):
            init = await conn.initialize(protocol_version=acp.PROTOCOL_VERSION)
            assert init.protocol_version == acp.PROTOCOL_VERSION
            session = await conn.new_session(cwd=str(tmp_path))
            done = await conn.prompt(session_id=session.session_id, prompt=[acp.text_block("hi")])
            assert done.stop_reason == "end_turn"
    said = "".join(
        u.content.text
        for u in client.updates
        if isinstance(u, AgentMessageChunk) and hasattr(u.content, "text")
    )
    assert said == "hello from the fake"


@pytest.mark.parametrize(
    ("first", "code"),
    [(b"garbage\n", -32700), (b'{"jsonrpc": "2.0", "id": 3, "method": "hello"}\n', -32600)],
)
async def test_garbage_first_line_is_a_json_rpc_error_and_a_non_zero_exit(
    tmp_path: Path, first: bytes, code: int
) -> None:
    home = Home(tmp_path)
    with anyio.fail_after(30):
        proc = await anyio.run_process(
            [HERMES, "serve"], input=first + b'{"jsonrpc": "2.0", "id": 4, "method": "ping"}\n',
            env=home.process_env, check=False,
        )  # fmt: skip
    out, err = seen(proc.stdout.decode()), seen(proc.stderr.decode())
    assert proc.returncode == 2
    (line,) = out.splitlines()  # nothing else on stdout
    response = json.loads(line)
    assert response["jsonrpc"] == "2.0" and response["error"]["code"] == code
    assert response["id"] == (3 if code == -32600 else None)
    assert "expected an MCP or ACP client" in err
