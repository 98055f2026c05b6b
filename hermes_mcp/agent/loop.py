"""The agent loop: system prompt + conversation + tools → model (streaming) → tool calls
→ again, until an answer, a budget, an error or a cancellation ends the turn.

One :class:`Agent` is one configuration (model interface, tools, budgets, workspace);
it runs any number of turns in any number of sessions. A turn:

1. records the user's message, reloads the session's conversation;
2. streams a model call, emitting ``model_switch`` for each route the router left,
   then the deltas, then ``usage``; the assistant message is stored once complete;
3. runs the tool calls: consecutive read-only calls concurrently, the others one at a
   time, in the model's order; each result is stored as it returns;
4. repeats until the model answers without a tool call (``end_turn``), its output is
   cut (``max_tokens``), refused (``refusal``: a content filter, or a surfaced
   ``content_policy`` failure), a budget is reached, a model request fails (``error``:
   the router's ``NoRouteError`` or a ``StreamBroken``, reported in ``turn_end`` with the
   provider and class, never as assistant text), or the turn is cancelled.

Cancellation is an anyio cancel scope around the whole turn (:meth:`Agent.turn` hands
it out as ``Turn.cancel()``); the wall-time budget is a deadline inside it. Tool calls
and delegated children run in task groups inside that scope, so nothing of a cancelled
turn outlives it. A tool call cut short gets a placeholder result in the session, so
the next turn's conversation stays valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import BaseModel

from hermes_mcp.agent.budget import Budget, explain
from hermes_mcp.agent.delegation import delegate_tool
from hermes_mcp.agent.events import (
    Emit,
    Event,
    PlanUpdate,
    StopReason,
    TextDelta,
    ThoughtDelta,
    ToolCallEnd,
    ToolCallProgress,
    ToolCallStart,
    TurnEnd,
    UsageUpdate,
)
from hermes_mcp.agent.model import ChatModel, model_switches
from hermes_mcp.agent.prompt import Prompt, prompt_text
from hermes_mcp.agent.prompts import system_prompt
from hermes_mcp.agent.store import INTERRUPTED, SessionNotFound, SessionStore
from hermes_mcp.agent.turn import Turn
from hermes_mcp.config import Config
from hermes_mcp.errors import ConfigError, FailureClass, NoRouteError, ProviderError, StateError
from hermes_mcp.llm import types as llm
from hermes_mcp.log import get_logger, redact, redact_value
from tools import TOOLSETS, ToolContext, ToolRegistry, ToolResult, build_registry

log = get_logger("hermes_mcp.agent")


_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


def _schema(args: type[BaseModel]) -> dict[str, Any]:
    schema = _SCHEMAS.get(args)
    if schema is None:
        schema = _SCHEMAS[args] = args.model_json_schema()
    return schema


def tool_defs(registry: ToolRegistry) -> tuple[llm.ToolDef, ...]:
    return tuple(
        llm.ToolDef(t.name, t.description, t.input_schema or _schema(t.args)) for t in registry
    )


@dataclass
class TurnState:
    """One turn's bookkeeping (shared with the ``delegate_task`` tool of that turn)."""

    session_id: str
    emit: Emit
    budget: Budget
    context: ToolContext
    started: float = field(default_factory=time.monotonic)
    turn: int = 0  # 0 until the turn is recorded
    messages: list[llm.Message] = field(default_factory=list)
    unanswered: dict[str, llm.ToolCall] = field(default_factory=dict)
    text: str = ""
    stop: StopReason | None = None
    message: str | None = None
    error: dict[str, Any] | None = None
    served: str | None = None

    def finish(self, reason: StopReason, message: str | None = None) -> None:
        if self.stop is None:
            self.stop, self.message = reason, message

    def end(self) -> TurnEnd:
        return TurnEnd(
            stop_reason=self.stop or "error",
            session_id=self.session_id,
            text=self.text,
            message=self.message,
            usage=self.budget.usage,
            cost_usd=self.budget.cost_usd,
            iterations=self.budget.iterations,
            duration_s=time.monotonic() - self.started,
            model=self.served,
            error=self.error,
        )


class Agent:
    """Runs turns: ``async with agent.turn(prompt) as turn: async for event in turn``.

    ``model`` is the router (or anything with its ``stream``); ``context`` the tool
    context of the workspace, whose ``approver`` answers every risky action of this
    agent and of the children it delegates to; ``toolsets`` default to
    ``config.agent.toolsets``; ``model_name`` overrides ``[model] default`` (the
    fallbacks still follow); ``depth`` is 0 for an agent talking to a user.
    """

    def __init__(
        self,
        model: ChatModel,
        store: SessionStore,
        context: ToolContext,
        *,
        config: Config,
        toolsets: Sequence[str] | None = None,
        registry: ToolRegistry | None = None,
        model_name: str | None = None,
        depth: int = 0,
    ) -> None:
        self.model = model
        self.store = store
        self.context = context
        self.config = config
        self.toolsets = tuple(config.agent.toolsets if toolsets is None else toolsets)
        unknown = set(self.toolsets).difference(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolset(s): {', '.join(sorted(unknown))}")
        if registry is None:
            registry = build_registry(t for t in self.toolsets if t != "delegation")
        self.registry = registry
        self.model_name = model_name
        self.depth = depth
        self._session_locks: dict[str, anyio.Lock] = {}

    @property
    def can_delegate(self) -> bool:
        return "delegation" in self.toolsets and self.depth < self.config.delegation.max_depth

    def child(
        self,
        *,
        toolsets: Sequence[str] | None,
        model: str | None,
        context: ToolContext,
        timeout_s: float | None = None,
    ) -> Agent:
        """The agent of a delegated task: one level deeper, at most this agent's tools,
        its own budget (``timeout_s`` shortens its time limit)."""
        wanted = self.toolsets if toolsets is None else tuple(toolsets)
        unknown = set(wanted).difference(TOOLSETS)
        if unknown:
            raise ValueError(f"unknown toolset(s): {', '.join(sorted(unknown))}")
        missing = set(wanted).difference(self.toolsets)
        if missing:
            raise ValueError(
                f"toolset(s) not available to the delegating agent: {', '.join(sorted(missing))}"
            )
        config = self.config
        if timeout_s is not None and timeout_s < config.agent.max_duration_s:
            agent = config.agent.model_copy(update={"max_duration_s": timeout_s})
            config = config.model_copy(update={"agent": agent})
        return Agent(
            self.model,
            self.store,
            context,
            config=config,
            toolsets=wanted,
            registry=self.registry.by_toolsets(wanted),
            model_name=model or self.model_name,
            depth=self.depth + 1,
        )

    async def open_session(
        self, session_id: str | None = None, *, title: str = "", parent_id: str | None = None
    ) -> str:
        """A new session (``session_id`` None), or check that ``session_id`` exists."""
        if session_id is None:
            return await self.store.create(
                cwd=str(self.context.cwd), title=title, parent_id=parent_id
            )
        if await self.store.get(session_id) is None:
            raise SessionNotFound(f"no stored session {session_id!r}")
        return session_id

    @asynccontextmanager
    async def turn(
        self, prompt: Prompt, *, session_id: str | None = None, buffer: int = 64
    ) -> AsyncIterator[Turn]:
        """Start a turn in a task of its own and hand out its :class:`Turn`.

        The events go through a memory stream of ``buffer`` events: a consumer that
        stops reading holds the turn back. Leaving the block before ``turn_end`` cancels
        the turn. Raises ``SessionNotFound`` for an unknown ``session_id``.
        """
        sid = await self.open_session(session_id, title=prompt_text(prompt))
        send, receive = anyio.create_memory_object_stream[Event](buffer)
        handle = Turn(sid, receive)

        async def emit(event: Event) -> None:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(event)  # suppressed: nobody is listening any more

        async def drive() -> None:
            with send:
                await self.run_turn(prompt, session_id=sid, emit=emit, cancel_scope=handle.scope)

        async with anyio.create_task_group() as tg:
            tg.start_soon(drive)
            try:
                yield handle
            finally:
                handle.cancel()
                receive.close()

    def _session_lock(self, session_id: str) -> anyio.Lock:
        lock = self._session_locks.get(session_id)
        if lock is None:
            lock = self._session_locks[session_id] = anyio.Lock()
        return lock

    async def run_turn(
        self,
        prompt: Prompt,
        *,
        session_id: str,
        emit: Emit,
        cancel_scope: anyio.CancelScope | None = None,
    ) -> TurnEnd:
        """Run one turn in an existing session; every event goes to ``emit``, the last
        one a ``TurnEnd``, which is also returned. Never raises for a failure (it ends
        the turn with ``error``); cancellation from outside propagates after the turn's
        state is saved."""
        scope = cancel_scope if cancel_scope is not None else anyio.CancelScope()
        context = dataclasses.replace(self.context, session_id=session_id)
        st = TurnState(session_id, emit, Budget.from_section(self.config.agent), context)
        try:
            with scope:
                # One turn at a time per session (in this process): two interleaved turns
                # would store a history no provider accepts.
                async with self._session_lock(session_id):
                    with anyio.move_on_after(st.budget.max_duration_s) as deadline:
                        st.turn = await self.store.begin_turn(session_id, prompt_text(prompt))
                        st.messages = await self.store.history(session_id)
                        await self._loop(st)
                if deadline.cancelled_caught:
                    st.finish("max_duration", explain("max_duration", st.budget))
            if scope.cancelled_caught:
                st.finish("cancelled", "the turn was cancelled")
        except Exception as exc:
            log.exception("turn.failed", session_id=session_id)
            st.finish("error", redact(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            st.finish("cancelled", "the turn was cancelled")  # cancelled from outside
            with anyio.CancelScope(shield=True):
                await self._settle(st)
        end = st.end()
        await emit(end)
        return end

    async def _settle(self, st: TurnState) -> None:
        """Store what an interrupted turn leaves behind, and the turn's end."""
        log.info(
            "turn.end",
            session_id=st.session_id,
            depth=self.depth,
            stop_reason=st.stop,
            iterations=st.budget.iterations,
            duration_s=round(time.monotonic() - st.started, 3),
        )
        if not st.turn:
            return
        try:
            for call in st.unanswered.values():
                message = llm.Message.tool(call.id, call.name, f"{INTERRUPTED} ({st.stop})")
                await self.store.append_tool(st.session_id, st.turn, message)
            await self.store.end_turn(
                st.session_id,
                st.turn,
                st.stop or "error",
                st.message,
                st.budget.usage,
                st.budget.cost_usd,
            )
        except StateError as exc:
            log.error("turn.not_saved", session_id=st.session_id, error=str(exc))

    def _registry_for(self, st: TurnState) -> ToolRegistry:
        if not self.can_delegate:
            return self.registry
        registry = ToolRegistry(self.registry)
        registry.register(delegate_tool(self, st))
        return registry

    async def _loop(self, st: TurnState) -> None:
        registry = self._registry_for(st)
        tools = tool_defs(registry)
        system = llm.Message.system(
            system_prompt(self.context.cwd, registry.names, delegated=self.depth > 0)
        )
        while True:
            if not st.budget.next_iteration():
                st.finish("max_iterations", explain("max_iterations", st.budget))
                return
            result = await self._complete(st, llm.ChatRequest((system, *st.messages), tools))
            if result is None:
                return
            completion = result.completion
            assistant = llm.Message.assistant(completion.text, completion.tool_calls)
            await self.store.append_assistant(st.session_id, st.turn, assistant, result)
            st.messages.append(assistant)
            st.unanswered = {call.id: call for call in completion.tool_calls}
            st.budget.add(completion.usage, result.cost_usd)
            st.served = f"{result.provider}:{result.model}"
            await st.emit(
                UsageUpdate(
                    completion.usage,
                    result.cost_usd,
                    result.provider,
                    result.model,
                    result.credential,
                )
            )
            if completion.finish_reason == "length":
                st.text = completion.text
                st.finish("max_tokens", "stopped: the answer reached the model's output limit")
                return
            if completion.finish_reason == "content_filter":
                st.finish("refusal", f"{st.served} refused to answer (content filter)")
                return
            if not completion.tool_calls:
                st.text = completion.text
                st.finish("end_turn")
                return
            if st.budget.over_cost:
                st.finish("max_cost", explain("max_cost", st.budget))
                return
            await self._run_tools(st, registry, completion.tool_calls)
            if st.budget.over_cost:  # delegated children spend too
                st.finish("max_cost", explain("max_cost", st.budget))
                return

    async def _complete(self, st: TurnState, request: llm.ChatRequest) -> llm.Result | None:
        """One streamed model call; ``None`` (the turn ended in error) when it failed."""
        try:
            async with self.model.stream(request, model=self.model_name) as stream:
                for switch in model_switches(stream.attempts):
                    await st.emit(switch)
                async for delta in stream:
                    if isinstance(delta, llm.TextDelta) and delta.text:
                        await st.emit(TextDelta(delta.text))
                    elif isinstance(delta, llm.ThinkingDelta) and delta.text:
                        await st.emit(ThoughtDelta(delta.text))
                result = stream.result
        except NoRouteError as exc:
            st.error = exc.to_json()["error"]
            refused = exc.failure_class is FailureClass.CONTENT_POLICY
            st.finish("refusal" if refused else "error", exc.message)
            return None
        except ProviderError as exc:  # StreamBroken: after the first token, never replayed
            cls = exc.failure_class.value
            st.error = {"provider": exc.provider, "class": cls, "message": exc.message}
            st.error["retry_at"] = None
            st.finish("error", f"{exc.provider}: {cls}: {exc.message}")
            return None
        except ConfigError as exc:  # e.g. a model override naming an unknown provider
            st.error = {"provider": None, "class": "config", "message": str(exc)}
            st.error["retry_at"] = None
            st.finish("error", str(exc))
            return None
        if result is None:
            raise RuntimeError("the model stream ended without a result")
        return result

    async def _run_tools(
        self, st: TurnState, registry: ToolRegistry, calls: Sequence[llm.ToolCall]
    ) -> None:
        for batch in _batches(registry, calls):
            if len(batch) == 1:
                await self._call(st, registry, batch[0])
                continue
            async with anyio.create_task_group() as tg:
                for call in batch:
                    tg.start_soon(self._call, st, registry, call)

    async def _call(self, st: TurnState, registry: ToolRegistry, call: llm.ToolCall) -> None:
        tool = registry.get(call.name)
        kind = tool.annotations.kind if tool is not None else "other"
        # Events leave the process (the edges, `run --json`): arguments are scrubbed of
        # key-shaped strings there; the tool itself gets them as the model wrote them.
        arguments = redact_value(call.arguments)
        await st.emit(ToolCallStart(call.id, call.name, redact(_title(call)), kind, arguments))

        async def progress(text: str) -> None:
            await st.emit(ToolCallProgress(call.id, text))

        ctx = dataclasses.replace(st.context, call_id=call.id, progress=progress)
        result = await registry.call(call.name, call.arguments, ctx)
        message = llm.Message.tool(call.id, call.name, result.text)
        await self.store.append_tool(st.session_id, st.turn, message, result)
        st.unanswered.pop(call.id, None)
        st.messages.append(message)
        await st.emit(
            ToolCallEnd(
                call.id,
                call.name,
                "failed" if result.is_error else "completed",
                result.text,
                result.diff,
                result.locations,
            )
        )
        plan = _plan(call.name, result)
        if plan is not None:
            await st.emit(plan)


def _batches(registry: ToolRegistry, calls: Sequence[llm.ToolCall]) -> list[list[llm.ToolCall]]:
    """Runs of consecutive read-only calls (run together), every other call alone."""
    batches: list[list[llm.ToolCall]] = []
    previous_read_only = False
    for call in calls:
        tool = registry.get(call.name)
        read_only = tool is not None and tool.annotations.read_only
        if read_only and previous_read_only:
            batches[-1].append(call)
        else:
            batches.append([call])
        previous_read_only = read_only
    return batches


def _title(call: llm.ToolCall) -> str:
    for key in ("command", "path", "url", "pattern", "glob"):
        value = call.arguments.get(key)
        if isinstance(value, str) and value:
            return f"{call.name}: {value[:80]}"
    tasks = call.arguments.get("tasks")
    if call.name == "delegate_task" and isinstance(tasks, list):
        return f"delegate_task: {len(tasks)} task{'s' if len(tasks) != 1 else ''}"
    return call.name


def _plan(name: str, result: ToolResult) -> PlanUpdate | None:
    if name != "todo" or result.is_error or result.structured is None:
        return None
    entries = result.structured.get("entries")
    return PlanUpdate(tuple(entries)) if isinstance(entries, list) else None
