"""Background work: a turn or a delegation that outlives the request that started it.

An edge whose host cuts long calls (Claude Desktop stops a tool call at about 60 s)
starts the work as a :class:`Job` and polls it. Jobs run in a task group that outlives
every request (``runtime.task_group``), so a request ending, or being cancelled, does not
stop them; only :meth:`Job.cancel` (or the runtime closing) does.

A job knows, while it runs: its state, when it started, what it is doing now (the
model answering, the tool running, child *n* of *m*), its iterations so far, the model
that served the last call, and how many events it has recorded. When it ends it holds
its result: the ``TurnEnd`` of a turn, or the ``DelegationOutput`` of a delegation.

Finished jobs are kept for ``retention_s`` (``[mcp] job_retention_s``) so that a late
poll still finds the result, then forgotten: the table never only grows. Nothing here
knows a protocol.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc

from hermes_mcp.agent.delegation import delegate
from hermes_mcp.agent.events import (
    ChildUpdate,
    Event,
    ModelSwitch,
    TextDelta,
    ThoughtDelta,
    ToolCallEnd,
    ToolCallStart,
    TurnEnd,
    UsageUpdate,
)
from hermes_mcp.errors import UsageError
from hermes_mcp.llm.types import Attempt
from hermes_mcp.log import get_logger

if TYPE_CHECKING:
    from hermes_mcp.agent.prompt import Prompt
    from hermes_mcp.agent.session import Session
    from tools.delegation import DelegatedTask, DelegationOutput

JobKind = Literal["turn", "delegation"]
JobState = Literal["running", "completed", "failed", "cancelled"]

_log = get_logger("hermes_mcp.jobs")


class JobNotFound(UsageError):
    """No job has this id (never started here, or finished and forgotten)."""


@dataclass
class Activity:
    """What a piece of work is doing now, in words, updated from its events."""

    text: str = "starting"
    iterations: int = 0
    model: str | None = None
    tools_running: dict[str, str] = field(default_factory=dict)  # call id → tool name
    children: dict[int, str] = field(default_factory=dict)  # task index → status
    children_total: int = 0

    def update(self, event: Event) -> str | None:
        """Fold one event in; the new description when it changed (``None`` otherwise)."""
        before = self.text
        match event:
            case UsageUpdate():
                self.iterations += 1
                self.model = f"{event.provider}:{event.model}"
                self.text = f"{self.model} answered (model call {self.iterations})"
            case TextDelta() | ThoughtDelta():
                if self.model is not None and not self.text.startswith(self.model + " writing"):
                    self.text = f"{self.model} writing the answer"
            case ToolCallStart():
                self.tools_running[event.call_id] = event.name
                self.text = f"running {event.title or event.name}"
            case ToolCallEnd():
                self.tools_running.pop(event.call_id, None)
                self.text = f"{event.name} {event.status}; waiting for the model"
            case ModelSwitch():
                self.text = f"{event.action} {event.from_} → {event.to} ({event.reason})"
            case ChildUpdate():
                self._child(event)
            case TurnEnd():
                self.text = f"finished: {event.stop_reason}"
                self.iterations = max(self.iterations, event.iterations)
                self.model = event.model or self.model
            case _:
                pass  # a user message, a tool's progress, a plan: no new activity
        return self.text if self.text != before else None

    def _child(self, event: ChildUpdate) -> None:
        self.children[event.task] = event.status
        self.children_total = max(self.children_total, event.task + 1, len(self.children))
        n, m = event.task + 1, self.children_total
        match event.status, event.event:
            case "started", _:
                self.text = f"child {n} of {m} started: {event.goal[:80]}"
            case "done", _:
                done = sum(1 for s in self.children.values() if s == "done")
                self.text = f"child {n} of {m} done ({done} of {m} finished)"
            case _, ToolCallStart(title=title, name=name):
                self.text = f"child {n} of {m}: running {title or name}"
            case _, UsageUpdate(provider=provider, model=model):
                self.text = f"child {n} of {m}: {provider}:{model} answered"
            case _:
                pass


@dataclass
class RouteLog:
    """The route a piece of work's model calls took, as attempt records
    (``AttemptRecord``): every walk that was served (from its ``usage`` event), and
    the moves of a walk still under way (from ``model_switch``), each attempt once."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)  # the walk under way
    provider: str | None = None
    model: str | None = None
    credential: str | None = None  # fingerprint

    def add(self, event: Event) -> None:
        match event:
            case ModelSwitch(attempt=Attempt() as attempt):
                self.pending.append(attempt.to_json())
            case UsageUpdate():
                self.provider, self.model = event.provider, event.model
                self.credential = event.credential
                self.attempts.extend(a.to_json() for a in event.attempts)
                self.pending.clear()
            case _:
                pass  # only moves of the router and served calls are the route

    def records(self, failed_walk: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Every attempt once: the served walks, then the failed walk's full list when
        the turn ended in one (it holds the moves already seen), else the moves seen."""
        return [*self.attempts, *(failed_walk if failed_walk else self.pending)]


@dataclass
class Job:
    """One piece of background work; see the module docstring."""

    id: str
    kind: JobKind
    session_id: str
    started_at: float  # wall clock (time.time)
    state: JobState = "running"
    finished_at: float | None = None
    activity: Activity = field(default_factory=Activity)
    route: RouteLog = field(default_factory=RouteLog)
    watchers: list[Callable[[Event], None]] = field(default_factory=list)
    turn_end: TurnEnd | None = None
    delegation: DelegationOutput | None = None
    error: str | None = None
    seq: int = 0  # events recorded
    _started_mono: float = field(default_factory=time.monotonic)
    _ended_mono: float | None = None
    _done: anyio.Event = field(default_factory=anyio.Event)
    _changed: anyio.Event = field(default_factory=anyio.Event)
    _scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    _cancel_asked: bool = False
    _soft_cancel: Callable[[], bool] | None = None  # a turn's own cancel (keeps its turn_end)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def elapsed_s(self) -> float:
        end = self._ended_mono if self._ended_mono is not None else time.monotonic()
        return end - self._started_mono

    def record(self, event: Event) -> None:
        self.activity.update(event)
        self.route.add(event)
        for watch in list(self.watchers):
            watch(event)
        self.seq += 1
        self._poke()

    async def changed(self, timeout_s: float) -> None:
        """Return when something was recorded or the job ended, or after ``timeout_s``."""
        with anyio.move_on_after(timeout_s):
            await self._changed.wait()

    async def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the end (at most ``timeout_s``); whether it has ended."""
        if timeout_s is None:
            await self._done.wait()
            return True
        with anyio.move_on_after(timeout_s):
            await self._done.wait()
        return self.done

    def cancel(self) -> bool:
        """Ask the work to stop (a turn still ends with its ``turn_end``); whether it ran."""
        if self.done:
            return False
        self._cancel_asked = True
        if self._soft_cancel is None or not self._soft_cancel():
            self._scope.cancel()
        return True

    def status(self) -> dict[str, Any]:
        act = self.activity
        return {
            "job_id": self.id,
            "kind": self.kind,
            "session_id": self.session_id,
            "state": self.state,
            "elapsed_s": round(self.elapsed_s, 3),
            "activity": act.text,
            "iterations": act.iterations,
            "model": act.model,
            "events": self.seq,
        }

    def _poke(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _finish(self, state: JobState, error: str | None = None) -> None:
        self.state = state
        self.error = error
        self.finished_at = time.time()
        self._ended_mono = time.monotonic()
        self._done.set()
        self._poke()


Runner = Callable[[Job], Awaitable[None]]


class Jobs:
    """The jobs of one process, run in ``task_group`` (the runtime's)."""

    def __init__(
        self,
        task_group: anyio.abc.TaskGroup,
        *,
        retention_s: float = 3600.0,
        max_running: int = 16,
    ) -> None:
        self._tg = task_group
        self.retention_s = retention_s
        self.max_running = max_running
        self._jobs: dict[str, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> Job:
        self.prune()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(
                f"no job {job_id!r} (finished jobs are kept for {self.retention_s:g} s)"
            )
        return job

    def running(self) -> list[Job]:
        return [j for j in self._jobs.values() if not j.done]

    def start_turn(self, session: Session, prompt: Prompt) -> Job:
        """Run one turn of ``session`` in the background. SessionBusy (raised here, not
        later) when the session is already running one."""
        if session.busy:
            from hermes_mcp.agent.session import SessionBusy

            raise SessionBusy(
                f"session {session.id} is already running a turn: wait for it to end or cancel it"
            )

        async def run(job: Job) -> None:
            end = await session.run(prompt, self._emitter(job))
            job.turn_end = end
            state: JobState = "completed"
            if end.stop_reason == "cancelled":
                state = "cancelled"
            elif end.stop_reason == "error":
                state = "failed"
            job._finish(state, end.message if state == "failed" else None)

        job = self._start("turn", session.id, run)
        job.activity.text = f"waiting for {session.model or 'the model'}"
        job._soft_cancel = session.cancel
        return job

    def start_delegation(self, session: Session, tasks: Sequence[DelegatedTask]) -> Job:
        """Run ``tasks`` as delegated children of ``session`` in the background."""

        async def run(job: Job) -> None:
            job.activity.children_total = len(tasks)
            job.delegation = await delegate(session, tasks, emit=self._emitter(job))
            job._finish("completed")

        job = self._start("delegation", session.id, run)
        job.activity.text = f"starting {len(tasks)} sub-task(s)"
        return job

    def prune(self, now: float | None = None) -> int:
        """Forget finished jobs older than the retention time; how many went."""
        now = time.time() if now is None else now
        old = [
            job_id
            for job_id, job in self._jobs.items()
            if job.finished_at is not None and now - job.finished_at > self.retention_s
        ]
        for job_id in old:
            del self._jobs[job_id]
        return len(old)

    def cancel_all(self) -> None:
        for job in self.running():
            job.cancel()

    # -- inside ----------------------------------------------------------------------------

    @staticmethod
    def _emitter(job: Job) -> Callable[[Event], Awaitable[None]]:
        async def emit(event: Event) -> None:
            job.record(event)

        return emit

    def _start(self, kind: JobKind, session_id: str, runner: Runner) -> Job:
        self.prune()
        if len(self.running()) >= self.max_running:
            raise UsageError(
                f"{self.max_running} jobs are already running: wait for one or cancel one"
            )
        job = Job(
            id=f"job-{uuid.uuid4().hex[:16]}",
            kind=kind,
            session_id=session_id,
            started_at=time.time(),
        )
        self._jobs[job.id] = job
        self._tg.start_soon(self._run, job, runner, name=f"job {job.id}")
        return job

    async def _run(self, job: Job, runner: Runner) -> None:
        try:
            with job._scope:
                await runner(job)
        except Exception as exc:  # a job's failure is its result, never the runtime's
            _log.warning("job_failed", job=job.id, error=exc)
            if not job.done:
                job._finish("failed", f"{type(exc).__name__}: {exc}")
        finally:
            if not job.done:
                job._finish("cancelled", "cancelled" if job._cancel_asked else "stopped")
