"""Local commands as a :class:`~tools.backends.base.TerminalBackend`.

:class:`LocalTerminal` runs ``/bin/sh -c COMMAND`` in its own session and process group
(``start_new_session``), stdin from ``/dev/null``, stderr merged into stdout, with the
scrubbed environment (no credential variables, no registered secret) and the call's
overrides. When the command exits, times out or is cancelled, the whole group is
signalled (SIGTERM, then SIGKILL after a grace period), so no child it started outlives
the call — background jobs included. Output beyond the limit is dropped from the middle:
the first and last halves are kept (errors tend to be at the end) and the gap is marked.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

import anyio
import anyio.abc

from tools.backends.base import (
    CommandOutcome,
    OutputCallback,
    StartedCallback,
    TerminalStarted,
)
from tools.environment import harden_process, scrubbed_environment

KILL_GRACE_S = 0.5  # SIGTERM, then SIGKILL: a cancelled turn ends within a second
DRAIN_GRACE_S = 1.0


class _CappedOutput:
    def __init__(self, limit: int) -> None:
        self.head_limit = limit - limit // 2
        self.tail_limit = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_limit:
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.tail_limit)]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def render(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        if not self.omitted:
            return head + self.tail.decode("utf-8", errors="replace")
        marker = f"\n[... output truncated: {self.omitted:,} bytes omitted ...]\n"
        return head + marker + self.tail.decode("utf-8", errors="replace")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _end_group(process: anyio.abc.Process, grace: float) -> None:
    """Stop the command's process group: SIGTERM, a grace period, then SIGKILL."""
    if process.returncode is None:
        _signal_group(process.pid, signal.SIGTERM)
        with anyio.move_on_after(grace):
            await process.wait()
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


class LocalTerminal:
    """Commands as local processes. ``base_env`` is the environment they start from
    (this process's when ``None``); it is scrubbed of credentials (see
    ``tools/environment.py``) before a call's ``env`` overrides are merged over it."""

    def __init__(
        self,
        shell: str = "/bin/sh",
        kill_grace: float = KILL_GRACE_S,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self.shell = shell
        self.kill_grace = kill_grace
        self.base_env = base_env

    async def run(
        self,
        command: str,
        *,
        cwd: Path,
        time_limit: float,
        output_limit: int,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
        on_start: StartedCallback | None = None,
    ) -> CommandOutcome:
        output = _CappedOutput(output_limit)
        harden_process()
        environment = scrubbed_environment(self.base_env)
        environment.update(env or {})
        process = await anyio.open_process(
            [self.shell, "-c", command],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        drained = anyio.Event()
        exited = False

        async def pump() -> None:
            assert process.stdout is not None
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            async for chunk in process.stdout:
                output.add(chunk)
                if on_output is not None:
                    text = decoder.decode(chunk)  # a character split across chunks stays whole
                    if text:
                        await on_output(text)
            if on_output is not None and (rest := decoder.decode(b"", final=True)):
                await on_output(rest)
            drained.set()

        terminal_id = f"local-{process.pid}"
        try:
            if on_start is not None:
                await on_start(TerminalStarted(terminal_id, command, process.pid))
            with anyio.move_on_after(time_limit) as deadline:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(pump)
                    await process.wait()
                    exited = True
                    # Reap what the command left running, then read what is still piped.
                    _signal_group(process.pid, signal.SIGKILL)
                    with anyio.move_on_after(DRAIN_GRACE_S):
                        await drained.wait()
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await _end_group(process, self.kill_grace)
                await process.aclose()
        timed_out = deadline.cancelled_caught and not exited
        code = None if timed_out else process.returncode
        return CommandOutcome(
            exit_code=code,
            output=output.render(),
            omitted_bytes=output.omitted,
            timed_out=timed_out,
            signal=signal_name(-code) if code is not None and code < 0 else None,
            terminal_id=terminal_id,
        )


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9; ``SIG<number>`` for a number without a name here."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"
