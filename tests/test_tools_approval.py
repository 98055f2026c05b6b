"""The approver is asked for each risky action, and a denial blocks it through every
tool; a deny rule blocks it even in ``auto`` mode, without asking anyone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tools_helpers import LocalServer, RecordingApprover, call, http_server, make_ctx, respond


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with http_server({"/page": respond(200, b"internal page", "text/plain")}) as state:
        yield state


@dataclass
class Case:
    tool: str
    kind: str
    args: Callable[[LocalServer], dict[str, Any]]
    happened: Callable[[Path, LocalServer], bool]
    deny_rule: str


CASES = {
    "write_file": Case(
        "write_file",
        "edit",
        lambda s: {"path": "new.txt", "content": "hello"},
        lambda root, s: (root / "new.txt").exists(),
        "write:*.txt",
    ),
    "patch": Case(
        "patch",
        "edit",
        lambda s: {"path": "code.py", "edits": [{"old_text": "x = 1", "new_text": "x = 2"}]},
        lambda root, s: (root / "code.py").read_text() == "x = 2\n",
        "write:**/*.py",
    ),
    "terminal": Case(
        "terminal",
        "execute",
        lambda s: {"command": "touch ran.marker"},
        lambda root, s: (root / "ran.marker").exists(),
        "terminal:touch *",
    ),
    "web_fetch (loopback)": Case(
        "web_fetch",
        "fetch",
        lambda s: {"url": f"{s.base}/page"},
        lambda root, s: bool(s.hits),
        "fetch:http://127.0.0.1:*",
    ),
    "read_file (sensitive)": Case(
        "read_file",
        "read",
        lambda s: {"path": ".env"},
        lambda root, s: False,  # checked through the result text
        "read:.env",
    ),
}


def _prepare(root: Path) -> None:
    (root / "code.py").write_text("x = 1\n")
    (root / ".env").write_text("TOKEN_NAME=visible-value\n")


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_the_approver_is_asked_and_its_denial_blocks_the_action(
    tmp_path: Path, server: LocalServer, case: Case
) -> None:
    _prepare(tmp_path)
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    result = await call(ctx, case.tool, **case.args(server))
    assert result.is_error and "not approved" in result.text and "the user said no" in result.text
    assert not case.happened(tmp_path, server)
    assert "visible-value" not in result.text
    assert len(approver.requests) == 1
    request = approver.requests[0]
    assert (request.tool, request.kind) == (case.tool, case.kind)
    assert request.risk


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_an_approval_lets_the_action_through(
    tmp_path: Path, server: LocalServer, case: Case
) -> None:
    _prepare(tmp_path)
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    result = await call(ctx, case.tool, **case.args(server))
    assert not result.is_error, result.text
    assert case.happened(tmp_path, server) or "visible-value" in result.text
    assert len(approver.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_deny_rule_blocks_the_action_in_auto_mode_without_asking(
    tmp_path: Path, server: LocalServer, case: Case
) -> None:
    _prepare(tmp_path)
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(tmp_path, mode="auto", deny=(case.deny_rule,), approver=approver)
    result = await call(ctx, case.tool, **case.args(server))
    assert result.is_error and f"deny rule {case.deny_rule!r}" in result.text
    assert not case.happened(tmp_path, server)
    assert "visible-value" not in result.text
    assert approver.requests == []


@pytest.mark.anyio
async def test_edit_requests_carry_the_diff_for_the_editor(tmp_path: Path) -> None:
    _prepare(tmp_path)
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    await call(ctx, "patch", path="code.py", edits=[{"old_text": "x = 1", "new_text": "x = 2"}])
    diff = approver.requests[0].diff
    assert diff is not None and diff.old_text == "x = 1\n" and diff.new_text == "x = 2\n"
    assert diff.path == tmp_path / "code.py" and "+x = 2" in diff.unified
    assert approver.requests[0].paths == (tmp_path / "code.py",)


@pytest.mark.anyio
async def test_routine_actions_do_not_ask(tmp_path: Path) -> None:
    _prepare(tmp_path)
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    for tool, args in [
        ("read_file", {"path": "code.py"}),
        ("list_dir", {}),
        ("search_files", {"pattern": "x"}),
        ("todo", {}),
    ]:
        assert not (await call(ctx, tool, **args)).is_error
    assert approver.requests == []
