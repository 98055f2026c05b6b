"""A model's Python script run in Monty (``pydantic-monty``), its host functions answered here.

Monty is a Python interpreter written in Rust, run in a worker process of its own. A
script has no file system, network, environment or process access: ``open()`` and
``pathlib`` raise ``PermissionError``, ``os.environ`` / ``os.getenv`` are not supported,
``socket`` and ``subprocess`` do not exist, nor do ``__import__``, ``globals()`` or dunder
attributes; the worker starts with an empty environment. The only way out is a host
function: each call suspends the script, :func:`run_script` answers it with
``call(name, kwargs)`` and resumes the script with the value (or an exception the
script can catch).

Limits: ``timeout_s`` is wall time for the whole script, host calls included, except
the time ``call`` spends waiting for a person (the caller extends :attr:`Clock.scope`);
Monty's own clock (sandbox execution only) and a memory cap stop a runaway script from
inside, uncatchably. A cancelled run kills its worker at once. One pool per run: about
4 ms, and nothing is shared between scripts.

Not covered: a bug in Monty's interpreter is an escape into a process with our user's
rights (not our environment: the worker's is empty). Monty's pool can abort the host
interpreter at exit when one of its threads wakes the event loop during finalisation
(CPython 3.11 ends such a thread with ``pthread_exit``); a short settle after the pool
closes lets those wake-ups land while the loop still runs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from hermes_mcp.log import get_logger

if TYPE_CHECKING:
    import pydantic_monty as monty

_log = get_logger("hermes_mcp.tools")

MEMORY_BYTES = 256 * 1024 * 1024
SETTLE_S = 0.01  # see the module docstring: Monty's late wake-ups of the event loop


class HostCallError(Exception):
    """A host function's failure, raised in the script as ``exc_type`` with ``message``."""

    def __init__(self, exc_type: str, message: str) -> None:
        super().__init__(message)
        self.exc_type = exc_type


class Stop(Exception):
    """Ends the script at once, uncatchably: its message is the run's error."""


HostCall = Callable[[str, dict[str, Any]], Awaitable[str]]


@dataclass
class Output:
    """What the script printed, up to ``cap`` characters (the rest is counted)."""

    cap: int
    parts: list[str] = field(default_factory=list)
    size: int = 0
    dropped: int = 0

    def write(self, _stream: str, text: str) -> None:
        room = self.cap - self.size
        if room <= 0:
            self.dropped += len(text)
            return
        kept = text[:room]
        self.parts.append(kept)
        self.size += len(kept)
        self.dropped += len(text) - len(kept)

    def text(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[output cut: {self.dropped} more characters]"
        return out


@dataclass
class Outcome:
    output: str
    error: str | None  # None: the script ran to its end
    calls: int
    value: str | None = None  # repr of the script's last expression, when not None


@dataclass
class Clock:
    """The run's deadline; :meth:`paused` keeps time spent waiting for a person out."""

    scope: anyio.CancelScope
    waited: float = 0.0
    now: Callable[[], float] = time.monotonic

    async def paused(self, wait: Awaitable[Any]) -> Any:
        """Await ``wait`` with no deadline; the deadline then moves by the time it took."""
        started, deadline = self.now(), self.scope.deadline
        self.scope.deadline = math.inf  # a person may take longer than the script may
        try:
            return await wait
        finally:
            spent = self.now() - started
            self.waited += spent
            self.scope.deadline = deadline + spent if math.isfinite(deadline) else deadline


def plain(value: Any, where: str = "") -> Any:
    """A script's argument as JSON data (tuples become lists); TypeError otherwise."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        raise TypeError(
            f"argument {where or 'value'} is not JSON data (str, int, float, bool, None, "
            f"list, dict): {type(value).__name__}"
        ) from None


async def run_script(
    code: str,
    functions: Collection[str],
    call: HostCall,
    *,
    timeout_s: float,
    max_calls: int,
    output_cap: int,
    clock: Clock | None = None,
) -> Outcome:
    """Run ``code``; each call of a name in ``functions`` goes to ``call``. Cancellation
    propagates (the worker is killed); every other ending is an :class:`Outcome`."""
    import pydantic_monty as monty  # a quarter of a second: only when a script runs

    out = Output(output_cap)
    calls = 0
    scope = clock.scope if clock is not None else anyio.CancelScope()
    scope.deadline = anyio.current_time() + timeout_s
    error: str | None = None
    value: str | None = None

    async def answer(snap: monty.AsyncFunctionSnapshot) -> monty.AsyncSnapshot:
        nonlocal calls
        name = snap.function_name
        if snap.is_os_function:
            return await snap.resume_not_handled()  # Monty's own refusal
        if name not in functions:
            message = f"name {name!r} is not defined"
            return await snap.resume({"exc_type": "NameError", "message": message})
        if snap.args:
            message = f"{name}() takes keyword arguments only, e.g. {name}(path=...)"
            return await snap.resume({"exc_type": "TypeError", "message": message})
        if calls >= max_calls:
            raise Stop(f"the script made more than {max_calls} calls (agent.code_max_calls)")
        try:
            kwargs = {k: plain(v, k) for k, v in snap.kwargs.items()}
        except TypeError as exc:
            return await snap.resume({"exc_type": "TypeError", "message": str(exc)})
        calls += 1
        try:
            text = await call(name, kwargs)
        except HostCallError as exc:
            return await snap.resume({"exc_type": exc.exc_type, "message": str(exc)})  # type: ignore[typeddict-item]
        return await snap.resume({"return_value": text})

    limits: monty.ResourceLimits = {
        "max_feed_duration_secs": timeout_s,
        "max_turn_duration_secs": timeout_s,
        "max_memory": MEMORY_BYTES,
        "max_suspensions": 4 * max_calls + 1000,
        "max_total_sleep_secs": timeout_s,
    }
    stubs = dict.fromkeys(functions, _never)
    try:
        with scope:
            try:
                async with (
                    monty.AsyncMonty(min_processes=1, max_processes=1) as pool,
                    pool.checkout(script_name="script.py", limits=limits) as session,
                ):
                    snap = await session.feed_start(
                        code, external_lookup=stubs, print_callback=out.write
                    )
                    while not isinstance(snap, monty.MontyComplete):
                        if isinstance(snap, monty.AsyncFunctionSnapshot):
                            snap = await answer(snap)
                        elif isinstance(snap, monty.AsyncNameLookupSnapshot):
                            snap = await snap.resume_auto()
                        else:  # a future: the script awaited something we never gave it
                            raise Stop("the script awaited a future; call tools directly")
                    result = snap.output
                    if result is not None:
                        value = repr(result)
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(SETTLE_S)
        if scope.cancelled_caught:
            error = f"the script ran past agent.code_timeout_s ({timeout_s:g} s) and was stopped"
    except Stop as exc:
        error = str(exc)
    except (monty.MontySyntaxError, monty.MontyRuntimeError) as exc:
        error = exc.display()
    except monty.MontyCrashedError as exc:
        error = f"the sandbox stopped: {exc}"
    except monty.MontyError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except FileNotFoundError as exc:  # no monty binary
        _log.error("sandbox_unavailable", error=str(exc))
        error = f"the sandbox is not available: {exc}"
    return Outcome(out.text(), error, calls, value)


def _never(**_kwargs: Any) -> None:  # pragma: no cover - answered by run_script
    raise RuntimeError("host functions are answered by run_script")
