"""``read_file``, ``write_file``, ``list_dir`` against a real temporary workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools_helpers import call, make_ctx
from tools import Limits


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
