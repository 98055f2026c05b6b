"""``search_files``: regex over contents, glob over names, skips, caps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tools_helpers import call, call_near_fifo, make_ctx

FAKE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = {
        "src/app.py": "import os\n\ndef main():\n    return os.getcwd()\n",
        "src/util.py": "def helper():\n    pass\n",
        "src/web/page.ts": "export function main() {}\n",
        "README.md": "Run main() to start.\n",
        ".git/config": "def main(): in git internals\n",
        "node_modules/x/index.js": "function main() {}\n",
        "build/gen.py": "def main(): generated\n",
        "src/.gitignore": "*.tmp\n",
        "src/scratch.tmp": "def main(): scratch\n",
        ".env": "def main(): secret SECRET_VALUE\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "src" / "blob.bin").write_bytes(b"def main\0\0binary")
    return tmp_path


@pytest.mark.anyio
async def test_regex_over_contents_with_line_numbers(root: Path) -> None:
    result = await call(make_ctx(root), "search_files", pattern=r"def \w+\(")
    assert result.text.splitlines() == [
        "src/app.py:3: def main():",
        "src/util.py:1: def helper():",
        "2 matches; 1 sensitive file not searched",  # .env
    ]
    assert result.locations[0].path == root / "src" / "app.py"
    assert result.structured == {
        "matches": [
            {"path": "src/app.py", "line": 3, "text": "def main():"},
            {"path": "src/util.py", "line": 1, "text": "def helper():"},
        ],
        "truncated": False,
        "sensitive_not_searched": 1,
    }


@pytest.mark.anyio
async def test_skips_git_dependencies_ignored_binary_and_sensitive_files(root: Path) -> None:
    result = await call(make_ctx(root), "search_files", pattern="main")
    found = {m["path"] for m in (result.structured or {})["matches"]}
    assert found == {"src/app.py", "src/web/page.ts", "README.md"}
    assert "SECRET_VALUE" not in result.text


@pytest.mark.anyio
async def test_glob_over_names_and_paths(root: Path) -> None:
    ctx = make_ctx(root)
    by_name = await call(ctx, "search_files", glob="*.py")
    assert by_name.text.splitlines() == ["src/app.py", "src/util.py", "2 files"]
    by_path = await call(ctx, "search_files", glob="src/**/*.ts")
    assert by_path.text.splitlines() == ["src/web/page.ts", "1 file"]
    both = await call(ctx, "search_files", glob="*.ts", pattern="main")
    assert both.text.splitlines()[0] == "src/web/page.ts:1: export function main() {}"
    sub = await call(ctx, "search_files", glob="*.py", path="src")
    assert sub.text.splitlines()[0] == "src/app.py"
    env = await call(ctx, "search_files", glob=".env")
    assert env.text.splitlines()[0] == ".env"  # found by name, never by content


@pytest.mark.anyio
async def test_results_are_capped_and_say_so(root: Path) -> None:
    (root / "many.txt").write_text("hit\n" * 50)
    result = await call(make_ctx(root), "search_files", pattern="hit", max_results=5)
    lines = result.text.splitlines()
    assert lines[:5] == [f"many.txt:{n}: hit" for n in range(1, 6)]
    assert lines[5] == (
        "5 matches (capped at 5; narrow the pattern, glob or path); 1 sensitive file not searched"
    )
    assert (result.structured or {})["truncated"] is True


@pytest.mark.anyio
async def test_case_insensitive_and_one_match_per_line(root: Path) -> None:
    (root / "c.txt").write_text("MAIN main Main\n")
    result = await call(
        make_ctx(root), "search_files", pattern="main", case_sensitive=False, glob="c.txt"
    )
    assert result.text.splitlines() == ["c.txt:1: MAIN main Main", "1 match"]


@pytest.mark.anyio
async def test_read_deny_rules_hide_files(root: Path) -> None:
    ctx = make_ctx(root, deny=("read:src/util.py",))
    result = await call(ctx, "search_files", pattern="def")
    assert "util.py" not in result.text and "src/app.py" in result.text


@pytest.mark.anyio
async def test_bad_arguments(root: Path) -> None:
    ctx = make_ctx(root)
    bad = await call(ctx, "search_files", pattern="(unclosed")
    assert bad.is_error and "invalid regex" in bad.text
    neither = await call(ctx, "search_files", path="src")
    assert neither.is_error and "give a pattern, a glob, or both" in neither.text
    none = await call(ctx, "search_files", pattern="zzz_nothing")
    assert (
        not none.is_error and none.text == "no matches found under .; 1 sensitive file not searched"
    )


@pytest.mark.anyio
async def test_symlinks_and_private_key_contents_are_checked_like_read_file(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("API_TOKEN=hunter2-not-a-real-token\n")
    (tmp_path / "notes.txt").symlink_to(".env")  # a harmless name for a sensitive file
    (tmp_path / "backup.txt").write_text(FAKE_KEY)  # a private key under any name
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token.txt").write_text("TOPSECRET_VALUE\n")
    (tmp_path / "link.txt").symlink_to("secrets/token.txt")  # into a denied directory
    (tmp_path / "plain.txt").write_text("nothing here\n")
    ctx = make_ctx(tmp_path, deny=("read:secrets",))
    for pattern in ["hunter2", "b3BlbnNzaC1rZXkt", "TOPSECRET", "^[A-Za-z0-9]{20,}$"]:
        result = await call(ctx, "search_files", pattern=pattern)
        assert result.text == "no matches found under .; 3 sensitive files not searched", pattern
        assert (result.structured or {})["sensitive_not_searched"] == 3
    names = await call(ctx, "search_files", glob="*.txt")
    assert names.text.splitlines() == ["backup.txt", "notes.txt", "plain.txt", "3 files"]


@pytest.mark.anyio
async def test_a_fifo_gitignore_does_not_block_the_walk(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_text("x = 1\n")
    fifo = tmp_path / "sub" / ".gitignore"
    os.mkfifo(fifo)
    os.mkfifo(tmp_path / "sub" / "b.py")
    result = await call_near_fifo(make_ctx(tmp_path), "search_files", fifo, pattern="x", glob="*")
    assert result is not None, "search_files blocked on a FIFO"
    assert result.text.splitlines() == ["sub/a.py:1: x = 1", "1 match"]
