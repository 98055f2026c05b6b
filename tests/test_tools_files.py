"""``read_file``, ``write_file``, ``list_dir`` against a real temporary workspace."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.tools_helpers import call, call_near_fifo, make_ctx
from tools import ApprovalRequest, Decision, Limits, LocalFiles, ToolError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    lines = "".join(f"line {n}\n" for n in range(1, 101))
    (tmp_path / "hundred.txt").write_text(lines)
    return tmp_path


@pytest.mark.anyio
async def test_read_numbers_lines_and_pages_with_offset_and_limit(root: Path) -> None:
    ctx = make_ctx(root)
    result = await call(ctx, "read_file", path="hundred.txt", offset=10, limit=3)
    assert result.text.splitlines() == [
        "    10\tline 10",
        "    11\tline 11",
        "    12\tline 12",
        "[lines 10-12 of 100; continue with offset=13]",
    ]
    assert result.locations[0].path == root / "hundred.txt" and result.locations[0].line == 10
    whole = await call(ctx, "read_file", path="hundred.txt")
    assert whole.text.splitlines()[-1] == "   100\tline 100"
    past = await call(ctx, "read_file", path="hundred.txt", offset=101)
    assert past.is_error and "past the end" in past.text and "100 lines" in past.text


@pytest.mark.anyio
async def test_read_caps(root: Path) -> None:
    (root / "long.txt").write_text("x" * 5000 + "\n")
    (root / "big.txt").write_text("y\n" * 6000)
    ctx = make_ctx(
        root, limits=Limits(line_max_chars=100, read_max_chars=1000, read_max_bytes=10_000)
    )
    long = await call(ctx, "read_file", path="long.txt")
    assert "[... line cut: 4,900 more characters]" in long.text
    budget = await call(ctx, "read_file", path="hundred.txt")
    assert len(budget.text) < 1200 and "continue with offset=" in budget.text
    big = await call(ctx, "read_file", path="big.txt")
    assert big.is_error and "12,000 bytes, over the 10,000-byte limit" in big.text


@pytest.mark.anyio
async def test_read_refuses_binary_and_reports_missing_files(root: Path) -> None:
    (root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    ctx = make_ctx(root)
    binary = await call(ctx, "read_file", path="img.png")
    assert binary.is_error and "looks binary (NUL bytes" in binary.text
    latin = await call(ctx, "read_file", path="latin1.txt")
    assert latin.is_error and "not UTF-8" in latin.text
    missing = await call(ctx, "read_file", path="nope.txt")
    assert missing.is_error and "no such file" in missing.text
    (root / "empty.txt").write_text("")
    assert (await call(ctx, "read_file", path="empty.txt")).text.endswith("(empty file)")


@pytest.mark.anyio
async def test_read_keeps_crlf_files_readable(root: Path) -> None:
    (root / "dos.txt").write_bytes(b"a\r\nb\r\n")
    result = await call(make_ctx(root), "read_file", path="dos.txt")
    assert result.text == "     1\ta\n     2\tb"


@pytest.mark.anyio
async def test_write_creates_and_replaces_with_a_diff(root: Path) -> None:
    ctx = make_ctx(root)
    created = await call(ctx, "write_file", path="pkg/new.py", content="a = 1\n")
    assert not created.is_error and created.text.startswith("Created pkg/new.py (+1 -0 lines)")
    assert (root / "pkg" / "new.py").read_text() == "a = 1\n"
    assert created.diff is not None and created.diff.old_text is None
    assert "--- /dev/null" in created.diff.unified
    (root / "pkg" / "new.py").chmod(0o750)
    updated = await call(ctx, "write_file", path="pkg/new.py", content="a = 2\n")
    assert updated.text.startswith("Updated pkg/new.py (+1 -1 lines)")
    assert updated.diff is not None and updated.diff.old_text == "a = 1\n"
    assert (root / "pkg" / "new.py").stat().st_mode & 0o777 == 0o750  # mode kept
    assert sorted(p.name for p in (root / "pkg").iterdir()) == ["new.py"]  # no temp file left


@pytest.mark.anyio
async def test_write_refuses_directories(root: Path) -> None:
    (root / "d").mkdir()
    result = await call(make_ctx(root), "write_file", path="d", content="x")
    assert result.is_error and "is a directory" in result.text


@pytest.mark.anyio
async def test_list_dir(root: Path) -> None:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("x")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "build").mkdir()
    (root / "build" / "out.o").write_text("o")
    (root / ".gitignore").write_text("build/\n")
    ctx = make_ctx(root)
    top = await call(ctx, "list_dir")
    names = [e["path"] for e in (top.structured or {})["entries"]]
    assert names == [".git/", ".gitignore", "build/", "hundred.txt", "node_modules/", "src/"]
    deep = await call(ctx, "list_dir", depth=3)
    paths = [e["path"] for e in (deep.structured or {})["entries"]]
    assert "src/pkg/mod.py" in paths
    assert not any(p.startswith((".git/H", "node_modules/d", "build/o")) for p in paths)
    capped = await call(make_ctx(root, limits=Limits(list_max_entries=2)), "list_dir")
    assert (capped.structured or {})["truncated"] is True and "truncated" in capped.text
    not_dir = await call(ctx, "list_dir", path="hundred.txt")
    assert not_dir.is_error and "not a directory" in not_dir.text


@pytest.mark.anyio
async def test_fifos_are_refused_without_blocking(root: Path) -> None:
    fifo = root / "pipe.txt"
    os.mkfifo(fifo)
    ctx = make_ctx(root)
    read = await call_near_fifo(ctx, "read_file", fifo, path="pipe.txt")
    assert read is not None, "read_file blocked on a FIFO"
    assert read.is_error and "pipe.txt is a FIFO, not a regular file" in read.text
    write = await call_near_fifo(ctx, "write_file", fifo, path="pipe.txt", content="x\n")
    assert write is not None, "write_file blocked on a FIFO"
    assert write.is_error and "is a FIFO" in write.text
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # left alone


@pytest.mark.anyio
async def test_a_directory_swapped_for_a_symlink_during_approval_is_not_written_through(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()

    class SwapApprover:  # something else acts while the user decides
        async def approve(self, request: ApprovalRequest) -> Decision:
            shutil.rmtree(root / "sub")
            (root / "sub").symlink_to(outside)
            return Decision(True)

    ctx = make_ctx(root, mode="ask", approver=SwapApprover())
    result = await call(ctx, "write_file", path="sub/new.txt", content="x\n")
    assert result.is_error and "changed on disk" in result.text
    assert list(outside.iterdir()) == []


@pytest.mark.anyio
async def test_local_writes_never_follow_a_symlinked_directory(tmp_path: Path) -> None:
    # The back-end gets resolved paths; a directory on the way that has become a symlink
    # since (after the tool's last check) is refused rather than followed.
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "sub").symlink_to(outside)
    for target in (root / "sub" / "new.txt", root / "sub" / "deeper" / "new.txt"):
        with pytest.raises(ToolError, match="changed on disk"):
            await LocalFiles().write_text(target, "x\n")
    assert list(outside.iterdir()) == []
    await LocalFiles().write_text(root / "made" / "new.txt", "ok\n")  # parents created
    assert (root / "made" / "new.txt").read_text() == "ok\n"
