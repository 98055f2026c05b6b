"""Confinement: ``../``, absolute paths and symlinks out of the workspace are refused by
every tool that takes a path; sensitive files are refused for writes, flagged for reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tools_helpers import RecordingApprover, call, make_ctx
from tools.paths import sensitive_reason


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "inside.txt").write_text("inside\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    (root / "link_file").symlink_to(outside / "secret.txt")
    (root / "link_dir").symlink_to(outside)
    return root


ESCAPES = ["../outside/secret.txt", "{outside}/secret.txt", "link_file", "link_dir/secret.txt"]


def _escape(raw: str, root: Path) -> str:
    return raw.format(outside=root.parent / "outside")


def _calls(path: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("read_file", {"path": path}),
        ("write_file", {"path": path, "content": "pwned\n"}),
        ("patch", {"path": path, "edits": [{"old_text": "top", "new_text": "pwned"}]}),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("raw", ESCAPES)
async def test_file_tools_refuse_paths_out_of_the_workspace(workspace: Path, raw: str) -> None:
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(workspace, mode="auto", approver=approver)
    for name, args in _calls(_escape(raw, workspace)):
        result = await call(ctx, name, **args)
        assert result.is_error, (name, raw)
        assert "outside the workspace" in result.text
        assert "top secret" not in result.text
    assert (workspace.parent / "outside" / "secret.txt").read_text() == "top secret\n"
    assert approver.requests == []  # refused before anyone is asked


@pytest.mark.anyio
async def test_symlink_escape_is_named_as_such(workspace: Path) -> None:
    result = await call(make_ctx(workspace), "read_file", path="link_file")
    assert "through a symlink" in result.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("list_dir", {"path": "../outside"}),
        ("list_dir", {"path": "link_dir"}),
        ("search_files", {"pattern": "secret", "path": "/"}),
        ("search_files", {"pattern": "secret", "path": "link_dir"}),
        ("terminal", {"command": "pwd", "cwd": "../outside"}),
        ("terminal", {"command": "pwd", "cwd": "link_dir"}),
    ],
)
async def test_directory_arguments_are_confined_too(
    workspace: Path, name: str, args: dict[str, Any]
) -> None:
    result = await call(make_ctx(workspace), name, **args)
    assert result.is_error and "outside the workspace" in result.text


@pytest.mark.anyio
async def test_search_does_not_follow_links_out(workspace: Path) -> None:
    result = await call(make_ctx(workspace), "search_files", pattern="secret|inside")
    assert "inside.txt:1" in result.text
    assert "top secret" not in result.text


@pytest.mark.anyio
async def test_absolute_paths_inside_the_workspace_work(workspace: Path) -> None:
    result = await call(make_ctx(workspace), "read_file", path=str(workspace / "inside.txt"))
    assert not result.is_error and "inside" in result.text


@pytest.mark.anyio
async def test_extra_paths_and_absolute_allow_rules_widen_confinement(workspace: Path) -> None:
    outside = workspace.parent / "outside"
    ctx = make_ctx(workspace, extra_paths=(outside,))
    result = await call(ctx, "read_file", path=str(outside / "secret.txt"))
    assert not result.is_error and "top secret" in result.text
    ctx = make_ctx(workspace, allow=(f"read:{outside}/**",))
    assert not (await call(ctx, "read_file", path=str(outside / "secret.txt"))).is_error
    written = await call(ctx, "write_file", path=str(outside / "new.txt"), content="x")
    assert written.is_error and "outside the workspace" in written.text  # read rule only


@pytest.mark.parametrize(
    "name",
    [".env", ".env.local", "id_rsa", "id_ed25519", "server.pem", "tls.key", ".netrc"],
)
def test_sensitive_names(tmp_path: Path, name: str) -> None:
    assert sensitive_reason(tmp_path / name) is not None


def test_sensitive_places(tmp_path: Path) -> None:
    assert sensitive_reason(tmp_path / ".ssh" / "config") is not None
    assert sensitive_reason(tmp_path / ".aws" / "credentials") is not None
    assert sensitive_reason(tmp_path / "state" / "state.db", tmp_path / "state") is not None
    assert sensitive_reason(tmp_path / ".env.example") is None
    assert sensitive_reason(tmp_path / "src" / "env.py") is None


@pytest.mark.anyio
@pytest.mark.parametrize("name", [".env", "deploy/id_rsa", "hermes-state/config.toml"])
async def test_sensitive_files_are_refused_for_writes_in_every_mode(
    tmp_path: Path, name: str
) -> None:
    root = tmp_path / "ws"
    target = root / name
    target.parent.mkdir(parents=True)
    target.write_text("KEY=1\n")
    # the state dir lives inside the workspace here, to show it is refused even so
    ctx = make_ctx(root, mode="auto", allow=("write:**",), state_dir=root / "hermes-state")
    for tool, args in [
        ("write_file", {"path": name, "content": "x"}),
        ("patch", {"path": name, "edits": [{"old_text": "KEY=1", "new_text": "KEY=2"}]}),
    ]:
        result = await call(ctx, tool, **args)
        assert result.is_error and "refusing" in result.text
    assert target.read_text() == "KEY=1\n"


@pytest.mark.anyio
async def test_sensitive_reads_are_flagged_and_need_approval(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx\nDEBUG=1\n")
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(tmp_path, mode="accept_edits", approver=approver)
    result = await call(ctx, "read_file", path=".env")
    assert not result.is_error
    assert "sensitive file" in result.text
    assert "sk-proj-abc" not in result.text and "[REDACTED]" in result.text
    assert "DEBUG=1" in result.text
    assert [r.risk for r in approver.requests] == ["sensitive file: sensitive file name (.env*)"]


@pytest.mark.anyio
async def test_private_key_content_is_sensitive_whatever_the_name(tmp_path: Path) -> None:
    key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    (tmp_path / "notes.txt").write_text(key)
    approver = RecordingApprover(allowed=False)
    result = await call(
        make_ctx(tmp_path, mode="ask", approver=approver), "read_file", path="notes.txt"
    )
    assert result.is_error and "b3BlbnNzaC1rZXk" not in result.text
    assert approver.requests[0].risk == "sensitive file: contains a private key"
