"""``terminal``: exit codes, output caps, and no process left behind after a timeout,
a cancellation or a command that leaves background jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.tools_helpers import REGISTRY, alive, call, make_ctx, wait_gone
from tools import CommandOutcome, Limits, ToolResult


def _pid(path: Path) -> int:
    return int(path.read_text().strip())


@pytest.mark.anyio
async def test_output_and_exit_code(tmp_path: Path) -> None:
    result = await call(make_ctx(tmp_path), "terminal", command="echo out; echo err >&2; exit 7")
    assert not result.is_error  # a failing command is a result, not a tool error
    assert result.text == "out\nerr\n[exit code 7]"
    assert result.structured is not None and result.structured["exit_code"] == 7


@pytest.mark.anyio
async def test_runs_in_cwd_inside_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = await call(make_ctx(tmp_path), "terminal", command="pwd", cwd="sub")
    assert result.text.splitlines()[0] == str(tmp_path / "sub")


@pytest.mark.anyio
async def test_stdin_is_empty_so_prompts_do_not_hang(tmp_path: Path) -> None:
    result = await call(make_ctx(tmp_path), "terminal", command="read line; echo got:$?")
    assert "got:1" in result.text


@pytest.mark.anyio
async def test_output_over_the_cap_is_truncated_and_marked(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, limits=Limits(terminal_output_bytes=1000))
    command = "echo FIRST; head -c 200000 /dev/zero | tr '\\0' x; echo; echo LAST"
    result = await call(ctx, "terminal", command=command)
    assert result.text.startswith("FIRST\n")
    assert "LAST\n[exit code 0]" in result.text
    assert "[... output truncated: 199,0" in result.text  # ~199 KB omitted, marked
    assert len(result.text) < 1200
    assert result.structured is not None and result.structured["omitted_bytes"] > 199_000


@pytest.mark.anyio
async def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    command = "sleep 30 & echo $! > child.pid; echo $$ > shell.pid; wait"
    with anyio.fail_after(30):
        result = await call(make_ctx(tmp_path), "terminal", command=command, timeout_s=1)
    assert result.is_error and "timed out after 1 s" in result.text
    assert result.structured is not None and result.structured["exit_code"] is None
    for pidfile in ("shell.pid", "child.pid"):
        pid = _pid(tmp_path / pidfile)
        await wait_gone(pid)
        assert not alive(pid)


@pytest.mark.anyio
async def test_a_cancelled_call_leaves_no_process(tmp_path: Path) -> None:
    started = anyio.Event()

    async def progress(text: str) -> None:
        if "started" in text:
            started.set()

    ctx = make_ctx(tmp_path, progress=progress)
    command = "sleep 60 & echo $! > child.pid; echo $$ > shell.pid; echo started; wait"
    finished: list[ToolResult] = []

    async def run() -> None:
        finished.append(await REGISTRY.call("terminal", {"command": command}, ctx))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await started.wait()
            tg.cancel_scope.cancel()
    assert finished == []  # the cancellation propagated out of the call
    for pidfile in ("shell.pid", "child.pid"):
        pid = _pid(tmp_path / pidfile)
        await wait_gone(pid)
        assert not alive(pid)


@pytest.mark.anyio
async def test_background_jobs_do_not_outlive_the_command(tmp_path: Path) -> None:
    # The job keeps stdout open; the call must still return when the shell exits.
    result = await call(make_ctx(tmp_path), "terminal", command="sleep 60 & echo $! > job.pid")
    assert result.text == "[exit code 0]"
    pid = _pid(tmp_path / "job.pid")
    await wait_gone(pid)
    assert not alive(pid)


@pytest.mark.anyio
async def test_output_streams_to_the_progress_reporter_redacted(tmp_path: Path) -> None:
    seen: list[str] = []

    async def progress(text: str) -> None:
        seen.append(text)

    key = "sk-ant-" + "a1b2c3d4" * 4
    ctx = make_ctx(tmp_path, progress=progress)
    result = await call(ctx, "terminal", command=f"echo token={key}")
    assert key not in result.text and "token=[REDACTED]" in result.text
    assert key not in "".join(seen) and "token=[REDACTED]" in "".join(seen)


class _ChunkedTerminal:
    """A terminal back-end that delivers fixed output chunks, split where it likes."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    async def run(self, command: str, **kwargs: Any) -> CommandOutcome:
        on_output = kwargs["on_output"]
        for chunk in self.chunks:
            await on_output(chunk)
        return CommandOutcome(0, "".join(self.chunks), 0, False)


@pytest.mark.anyio
async def test_a_secret_split_across_output_chunks_is_redacted_whole(tmp_path: Path) -> None:
    key = "sk-ant-" + "a1b2c3d4" * 4
    block = "-----BEGIN RSA PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUFFS\nU1RVVldYWVo=\n"
    chunks = [
        f"start\ntoken={key[:10]}",
        f"{key[10:]}\n",
        block[:40],
        block[40:] + "-----END RSA PRIVATE KEY-----\n",
        "done, no newline",
    ]
    seen: list[str] = []

    async def progress(text: str) -> None:
        seen.append(text)

    ctx = make_ctx(tmp_path, progress=progress, terminal=_ChunkedTerminal(chunks))
    result = await call(ctx, "terminal", command="x")
    streamed = "".join(seen)
    for secret in (key, key[10:], "QUJDREVGR0hJSktMTU5PUFFS", "U1RVVldYWVo="):
        assert secret not in streamed and secret not in result.text
    assert streamed == "start\ntoken=[REDACTED]\n[REDACTED]\n\ndone, no newline"
    assert all(text.endswith("\n") for text in seen[:-1])  # whole lines, then the rest
