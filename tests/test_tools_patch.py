"""``patch``: exact edits, clear refusals for absent or ambiguous search text, diffs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.tools_helpers import call, call_near_fifo, make_ctx
from tools import ApprovalRequest, Decision
from tools.diffs import unified_diff

SOURCE = "def a():\n    return 1\n\n\ndef b():\n    return 1\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text(SOURCE)
    return tmp_path


@pytest.mark.anyio
async def test_patch_applies_and_returns_a_unified_diff(root: Path) -> None:
    edit = {"old_text": "def a():\n    return 1", "new_text": "def a():\n    return 42"}
    result = await call(make_ctx(root), "patch", path="m.py", edits=[edit])
    assert not result.is_error
    assert (root / "m.py").read_text() == SOURCE.replace("return 1", "return 42", 1)
    assert result.text.startswith("Applied 1 edit to m.py (+1 -1 lines)")
    assert (
        "--- a/m.py\n+++ b/m.py\n@@ -1,5 +1,5 @@\n def a():\n-    return 1\n+    return 42\n"
        in result.text
    )
    assert result.diff is not None and result.diff.old_text == SOURCE
    assert result.locations[0].line == 1


@pytest.mark.anyio
async def test_missing_search_text_is_refused_clearly(root: Path) -> None:
    result = await call(
        make_ctx(root), "patch", path="m.py", edits=[{"old_text": "return 2", "new_text": "x"}]
    )
    assert result.is_error
    assert "old_text not found in m.py" in result.text and "No change made" in result.text
    assert (root / "m.py").read_text() == SOURCE


@pytest.mark.anyio
async def test_missing_text_with_other_indentation_gets_a_hint(root: Path) -> None:
    edit = {"old_text": "def b():\n  return 1", "new_text": "x"}
    result = await call(make_ctx(root), "patch", path="m.py", edits=[edit])
    assert result.is_error and "different whitespace starts at line 5" in result.text


@pytest.mark.anyio
async def test_ambiguous_search_text_is_refused_with_its_lines(root: Path) -> None:
    result = await call(
        make_ctx(root), "patch", path="m.py", edits=[{"old_text": "return 1", "new_text": "x"}]
    )
    assert result.is_error
    assert "old_text appears 2 times in m.py (lines 2, 6)" in result.text
    assert "replace_all" in result.text
    assert (root / "m.py").read_text() == SOURCE


@pytest.mark.anyio
async def test_replace_all(root: Path) -> None:
    edit = {"old_text": "return 1", "new_text": "return 0", "replace_all": True}
    result = await call(make_ctx(root), "patch", path="m.py", edits=[edit])
    assert not result.is_error and "(+2 -2 lines)" in result.text
    assert (root / "m.py").read_text().count("return 0") == 2


@pytest.mark.anyio
async def test_edits_are_all_or_nothing(root: Path) -> None:
    edits = [
        {"old_text": "def a():", "new_text": "def alpha():"},
        {"old_text": "def c():", "new_text": "def gamma():"},
    ]
    result = await call(make_ctx(root), "patch", path="m.py", edits=edits)
    assert result.is_error and result.text.startswith("edit 2: old_text not found")
    assert (root / "m.py").read_text() == SOURCE


@pytest.mark.anyio
async def test_sequential_edits_and_no_op_and_missing_file(root: Path) -> None:
    ctx = make_ctx(root)
    edits = [
        {"old_text": "def a():", "new_text": "def alpha():"},
        {"old_text": "def alpha():", "new_text": "def first():"},
    ]
    assert not (await call(ctx, "patch", path="m.py", edits=edits)).is_error
    assert (root / "m.py").read_text().startswith("def first():")
    same = await call(ctx, "patch", path="m.py", edits=[{"old_text": "x", "new_text": "x"}])
    assert same.is_error and "identical" in same.text
    missing = await call(ctx, "patch", path="nope.py", edits=[{"old_text": "a", "new_text": "b"}])
    assert missing.is_error and "use write_file" in missing.text
    empty = await call(ctx, "patch", path="m.py", edits=[{"old_text": "", "new_text": "b"}])
    assert empty.is_error and "edits.0.old_text" in empty.text


@pytest.mark.anyio
async def test_crlf_and_missing_final_newline_are_preserved(root: Path) -> None:
    (root / "w.txt").write_bytes(b"one\r\ntwo\r\nthree")
    result = await call(
        make_ctx(root), "patch", path="w.txt", edits=[{"old_text": "three", "new_text": "3"}]
    )
    assert (root / "w.txt").read_bytes() == b"one\r\ntwo\r\n3"
    assert "\\ No newline at end of file" in result.text


def test_trimmed_diff_matches_a_full_difflib_diff() -> None:
    import difflib

    old = "".join(f"line {n}\n" for n in range(1, 2001))
    new = old.replace("line 1000\n", "line one thousand\n").replace("line 1500\n", "")
    expected = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile="a/f",
            tofile="b/f",
        )
    )
    assert unified_diff("f", old, new) == expected


@pytest.mark.anyio
async def test_patch_refuses_a_fifo_without_blocking(root: Path) -> None:
    fifo = root / "pipe.py"
    os.mkfifo(fifo)
    edits = [{"old_text": "a", "new_text": "b"}]
    result = await call_near_fifo(make_ctx(root), "patch", fifo, path="pipe.py", edits=edits)
    assert result is not None, "patch blocked on a FIFO"
    assert result.is_error and "pipe.py is a FIFO, not a regular file" in result.text


@pytest.mark.anyio
async def test_patch_rechecks_the_path_after_approval(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "m.py").write_text(SOURCE)
    (outside / "m.py").write_text(SOURCE)

    class SwapApprover:  # the directory becomes a symlink out while the user decides
        async def approve(self, request: ApprovalRequest) -> Decision:
            shutil.rmtree(root / "sub")
            (root / "sub").symlink_to(outside)
            return Decision(True)

    edit = {"old_text": "def a():", "new_text": "def pwned():"}
    ctx = make_ctx(root, mode="ask", approver=SwapApprover())
    result = await call(ctx, "patch", path="sub/m.py", edits=[edit])
    assert result.is_error and "changed on disk" in result.text
    assert (outside / "m.py").read_text() == SOURCE
