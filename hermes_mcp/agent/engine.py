"""The run engine: one turn of a :class:`~hermes_mcp.agent.session.Session` from the
user's prompt to ``turn_end`` (private: edges call ``session.turn()``, which the runtime
wires to :func:`run_turn`).

1. records the user's message (and its ``user_message`` event) and appends it to the
   session's conversation, held in memory (``conversation.py``: the database is read
   once, at the session's first turn);
2. streams a model call; each move of the router (rotation, fallback, skip) is
   announced as ``model_switch`` the moment it happens (``on_attempt``), before the next
   route's first token; then the deltas, then ``usage`` (with the serving model's
   context window and the session's running totals); the assistant message is stored
   once complete;
3. runs the tool calls: consecutive read-only calls concurrently, the others one at a
   time, in the model's order (``tool_calls.py``); each result is stored as it returns.
   Every started call ends with ``tool_call_end``: ``completed``, ``failed``,
   ``denied`` (the policy or the approver refused) or ``cancelled`` (the turn was
   cancelled or ran out of time); an ``execute_code`` script's calls go the same way,
   as children of its call;
4. repeats until the model answers without a tool call (``end_turn``), its output is
   cut (``max_tokens``), refused (``refusal``), a budget is reached, a model request
   fails (``error``, with every attempt of the walk in ``turn_end.error["attempts"]``),
   or the turn is cancelled.

Cancellation is an anyio cancel scope around the whole turn (``Turn.cancel()``); the
wall-time budget is a deadline inside it. Tool calls and delegated children run in task
groups inside that scope, so nothing of a cancelled turn outlives it. A tool call cut
short ends with status ``cancelled`` and gets a placeholder result in the session, so
the next turn's conversation stays valid.

Before each model call the conversation is compacted when the request would pass
``agent.compact_at`` of the window of the route that will serve it
(``compaction.py``): a ``compaction`` event says so; a conversation that cannot be made
to fit ends the turn with ``error`` (class ``context_overflow``) saying how to go on.
The system prompt carries the project's and the user's instructions (``AGENTS.md``)
and the memory notes (``prompts.py``).

Every event also goes to the turn's event log, stored with the turn's writes: that is
what ``SessionStore.replay`` gives back. Images in the prompt reach only a model whose
profile says vision: when no route of the chain does, the request leaves them out and
``turn_end.message`` says so. Every log line of a turn carries its ``session_id``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time

import anyio
import structlog

from hermes_mcp.agent import learning
from hermes_mcp.agent.budget import Budget, explain
from hermes_mcp.agent.compaction import elide_all, full_message, needs_compaction
from hermes_mcp.agent.conversation import summarizer
from hermes_mcp.agent.delegation import delegate_tool
from hermes_mcp.agent.events import (
    ContextCompacted,
    Emit,
    ModelSwitch,
    TextDelta,
    ThoughtDelta,
    TurnEnd,
    UsageUpdate,
)
from hermes_mcp.agent.history import fixed_tokens
from hermes_mcp.agent.model import reads_images, serving_window, switch_for
from hermes_mcp.agent.prompt import Prompt, as_parts, prompt_text
from hermes_mcp.agent.prompts import offered_skills, skills_section, system_prompt
from hermes_mcp.agent.session import Session
from hermes_mcp.agent.store import INTERRUPTED
from hermes_mcp.agent.tool_calls import code_tool_for, run_tools
from hermes_mcp.agent.transcript import user_message
from hermes_mcp.agent.turn_state import TurnState
from hermes_mcp.config import ModelRef
from hermes_mcp.errors import (
    ConfigError,
    FailureClass,
    NoRouteError,
    ProviderError,
    StateError,
    UsageError,
)
from hermes_mcp.llm import types as llm
from hermes_mcp.log import get_logger, redact
from tools import ToolRegistry

log = get_logger("hermes_mcp.agent")

NO_VISION = "images left out: no model in the chain reads images (vision)"


def tool_defs(registry: ToolRegistry) -> tuple[llm.ToolDef, ...]:
    """The tools as the model sees them, in name order: the same bytes on every call of
    a session whatever order the tools were registered in (a mounted server attaching
    late), so the prompt prefix stays cacheable."""
    return tuple(
        llm.ToolDef(t.name, t.description, t.json_schema())
        for t in sorted(registry, key=lambda t: t.name)
    )


async def cache_key(session: Session, session_id: str) -> str:
    """The provider-side prompt-cache key of a session: the same for every request of
    the session and of the tasks it delegates (a child's session names its parent), a
    hash so the session id itself never leaves."""
    root = session_id
    for _ in range(8):  # delegation depth is bounded far below this
        info = await session.store.get(root)
        if info is None or not info.parent_id:
            break
        root = info.parent_id
    return "hermes-" + hashlib.sha256(root.encode()).hexdigest()[:32]


async def run_turn(
    session: Session, prompt: Prompt, emit: Emit, scope: anyio.CancelScope
) -> TurnEnd:
    """One turn of ``session`` (see ``Session.run_turn``; the session has checked that no
    other turn runs)."""
    budget = Budget.from_section(session.config.agent)
    st = TurnState(session.id, emit, budget, session.context, totals=session.totals)
    with structlog.contextvars.bound_contextvars(session_id=st.session_id):
        try:
            with scope:
                with anyio.move_on_after(st.budget.max_duration_s) as deadline:
                    st.history = await session.conversation.history()
                    st.turn, user_id = await session.store.open_turn(st.session_id, prompt)
                    message = user_message(prompt_text(prompt), as_parts(prompt))
                    st.history.append(message, id=user_id, turn=st.turn)
                    await _loop(session, st)
                if deadline.cancelled_caught:
                    st.finish("max_duration", explain("max_duration", st.budget))
            if scope.cancelled_caught:
                st.finish("cancelled", "the turn was cancelled")
        except Exception as exc:
            log.exception("turn.failed")
            st.finish("error", redact(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            st.finish("cancelled", "the turn was cancelled")  # cancelled from outside
            end = st.end()
            with anyio.CancelScope(shield=True):
                await _settle(session, st, end)
            if st.stop not in ("end_turn", "max_tokens", "refusal", "max_iterations", "max_cost"):
                # Cut short (cancelled, out of time, a failure): memory may hold a message
                # the store did not take, or miss one it did. Read it again next turn.
                session.conversation.forget()
        await st.out(end)
        return end


async def _settle(session: Session, st: TurnState, end: TurnEnd) -> None:
    """Store what an interrupted turn leaves behind, and the turn's end."""
    log.info(
        "turn.end",
        depth=session.depth,
        stop_reason=st.stop,
        iterations=st.budget.iterations,
        duration_s=round(time.monotonic() - st.started, 3),
    )
    if not st.turn:
        return
    st.log.add(end)
    try:
        for call in st.unanswered.values():
            message = llm.Message.tool(call.id, call.name, f"{INTERRUPTED} ({st.stop})")
            entry = st.history.append(message, id=None, turn=st.turn)
            entry.id = await session.store.append_tool(st.session_id, st.turn, message)
        await session.store.end_turn(
            st.session_id,
            st.turn,
            st.stop or "error",
            end.message,
            st.budget.usage,
            st.budget.cost_usd,
            events=st.log.take(),
        )
    except StateError as exc:
        log.error("turn.not_saved", error=str(exc))


def _registry_for(session: Session, st: TurnState | None) -> ToolRegistry:
    """The turn's tools: the session's, with ``delegate_task`` and ``execute_code`` when
    they are on (they need the turn: ``st``; without one, the session's own)."""
    if st is None or (not session.can_delegate and "code" not in session.toolsets):
        return session.registry
    registry = ToolRegistry(session.registry)
    if session.can_delegate:
        registry.register(delegate_tool(session, st))
    if "code" in session.toolsets:
        registry.register(code_tool_for(session, st, ToolRegistry(registry)))
    return registry


async def _loop(session: Session, st: TurnState) -> None:
    registry = _registry_for(session, st)
    tools = tool_defs(registry)
    text, fixed = await _system(session, registry, tools)
    system = llm.Message.system(text)
    learn_after = session.config.skills.learn_after_tool_calls
    key = await cache_key(session, st.session_id)
    shrunk = False  # compacted after a provider said the request was too long
    while True:
        if not st.budget.next_iteration():
            st.finish("max_iterations", explain("max_iterations", st.budget))
            return
        if not await _fit(session, st, fixed):
            return
        messages = _visible(session, st)
        nudge = learning.reminder(st.tool_calls, learn_after, registry.names, depth=session.depth)
        request = llm.ChatRequest((system, *messages, *nudge), tools, cache_key=key)
        try:
            result = await _complete(session, st, request, too_long=not shrunk)
        except _TooLong as exc:
            # The window was unknown or wrong: compact below what was refused, once.
            shrunk = True
            size = fixed + st.history.tokens
            if await _compact_for(session, st, fixed, exc.route, int(size * 0.75)):
                continue
            return
        if result is None:
            return
        completion = result.completion
        assistant = completion.message()  # with its replay, for the same wire
        entry = st.history.append(assistant, id=None, turn=st.turn)
        st.unanswered = {call.id: call for call in completion.tool_calls}
        st.tool_calls.extend(call.name for call in completion.tool_calls)
        st.budget.add(completion.usage, result.cost_usd)
        st.totals.add(completion.usage, result.cost_usd)
        st.served = f"{result.provider}:{result.model}"
        await st.emit(
            UsageUpdate(
                completion.usage,
                result.cost_usd,
                result.provider,
                result.model,
                result.credential,
                context_window=_window(session, result),
                session_usage=st.totals.usage,
                session_cost_usd=st.totals.cost_usd,
                attempts=result.attempts,
            )
        )
        entry.id = await session.store.append_assistant(
            st.session_id, st.turn, assistant, result, events=st.log.take()
        )
        if completion.finish_reason == "length":
            st.text = redact(completion.text)
            st.finish("max_tokens", "stopped: the answer reached the model's output limit")
            return
        if completion.finish_reason == "content_filter":
            st.finish("refusal", f"{st.served} refused to answer (content filter)")
            return
        if not completion.tool_calls:
            st.text = redact(completion.text)
            st.finish("end_turn")
            return
        if st.budget.over_cost:
            st.finish("max_cost", explain("max_cost", st.budget))
            return
        await run_tools(session, st, registry, completion.tool_calls)
        if st.budget.over_cost:  # delegated children spend too
            st.finish("max_cost", explain("max_cost", st.budget))
            return


async def _sections(session: Session) -> list[str]:
    """The session's prompt sections: the context files and, at the top level with the
    memory tool, the memory notes (read at the first turn, then kept)."""
    memory = session.depth == 0 and "memory" in session.toolsets
    return await session.conversation.sections(memory=memory)


async def _system(
    session: Session, registry: ToolRegistry, tools: tuple[llm.ToolDef, ...]
) -> tuple[str, int]:
    """The system prompt of this turn (the context files read now, the memory notes of
    the session's first turn when the session has the memory tool; a delegated task
    gets no memory) and the share of a
    request it and the tool definitions take (estimated tokens)."""
    skills = await offered_skills(session.context, registry.names)
    sections = [*await _sections(session), skills_section(skills)]
    text = system_prompt(
        session.cwd, registry.names, delegated=session.depth > 0, sections=sections
    )
    return text, fixed_tokens(text, tools)


async def _fit(session: Session, st: TurnState, fixed: int) -> bool:
    """Compact the conversation when the next request would pass ``agent.compact_at`` of
    the serving route's window; ``False`` (the turn ended) when it cannot fit at all."""
    try:
        route, window = serving_window(session.chat_model, session.model)
    except (ConfigError, UsageError, ValueError):
        return True  # an unknown override: the router's own error says it
    section = session.config.agent
    if window is None or not needs_compaction(st.history, fixed, window, section.compact_at):
        return True
    return await _compact_for(session, st, fixed, route, window)


async def _compact_for(
    session: Session, st: TurnState, fixed: int, route: str, window: int
) -> bool:
    """Compact for ``route``'s ``window``; ``False`` (the turn ended, saying the context
    is full and how to go on) when the conversation cannot be made to fit."""
    section = session.config.agent
    spent: list[llm.Result] = []

    async def count(result: llm.Result) -> None:
        spent.append(result)
        st.budget.add(result.completion.usage, result.cost_usd)
        st.totals.add(result.completion.usage, result.cost_usd)

    name = section.compaction_model or session.model
    # A summary that failed is not asked for again in the same turn (each model call
    # would pay for another failing one): the cheap steps still run.
    asked = st.summary_failure is None
    result = await session.conversation.compact(
        turn=st.turn,
        fixed=fixed,
        window=window,
        summarize=summarizer(session.chat_model, name, window, count) if asked else None,
        spent=spent,
    )
    if result.asked and not result.summarized:
        st.summary_failure = result.failure
    elided = result.elided
    if fixed + st.history.tokens > window:  # the last resort: the recent outputs too
        elided += elide_all(st.history)
    after = fixed + st.history.tokens
    if after < result.before:  # something changed: say so
        event = ContextCompacted(result.before, after, elided, result.summarized)
        st.compactions.append(event)
        await st.emit(event)
    if after <= window:
        return True
    message = full_message(route, window, result.failure if asked else st.summary_failure)
    st.error = {"provider": None, "class": "context_overflow", "message": message}
    st.error.update(retry_at=None, attempts=[])
    st.finish("error", message)
    return False


async def compact_now(session: Session, focus: str | None = None) -> ContextCompacted:
    """``/compact [focus]``: summarise the session's older turns now, whatever their
    size (``Session.compact``). UsageError naming why when nothing was summarised."""
    registry = _registry_for(session, None)
    tools = tool_defs(registry)
    _, fixed = await _system(session, registry, tools)
    _, window = serving_window(session.chat_model, session.model)
    history = await session.conversation.history()
    if window is None:  # unknown: as if the conversation filled half of it
        window = 2 * (fixed + history.tokens)
    spent: list[llm.Result] = []

    async def count(result: llm.Result) -> None:
        spent.append(result)
        session.totals.add(result.completion.usage, result.cost_usd)

    name = session.config.agent.compaction_model or session.model
    result = await session.conversation.compact(
        turn=0,
        fixed=fixed,
        window=window,
        summarize=summarizer(session.chat_model, name, window, count),
        focus=focus,
        force=True,
        spent=spent,
    )
    if not result.summarized:
        raise UsageError(f"nothing was summarised: {result.failure or 'nothing to summarise'}")
    return ContextCompacted(result.before, result.after, result.elided, True, "manual")


def _visible(session: Session, st: TurnState) -> list[llm.Message]:
    """The conversation as this request sends it: images only when a model can read them."""
    messages = st.history.messages()
    if not st.history.images:
        return messages
    try:
        vision = reads_images(session.chat_model, session.model)
    except (ConfigError, ValueError):
        vision = True  # an unknown override: the router's own error says it
    if vision:
        return messages
    if NO_VISION not in st.notes:
        st.notes.append(NO_VISION)
        log.info("turn.images_dropped")
    return [dataclasses.replace(m, images=()) if m.images else m for m in messages]


def _window(session: Session, result: llm.Result) -> int | None:
    profile = getattr(session.chat_model, "profile", None)
    if profile is None:
        return None
    try:
        window = profile(ModelRef(result.provider, result.model)).context_window
    except (KeyError, ValueError):
        return None
    return window if isinstance(window, int) else None


class _TooLong(Exception):
    """Every route refused the request as too long for its context window."""

    def __init__(self, route: str) -> None:
        super().__init__(route)
        self.route = route


async def _complete(
    session: Session, st: TurnState, request: llm.ChatRequest, *, too_long: bool = False
) -> llm.Result | None:
    """One streamed model call; ``None`` (the turn ended in error) when it failed.
    ``too_long``: raise :class:`_TooLong` (the turn goes on) when every route refused the
    request as too long, so the caller can compact and ask again.

    The router tells of each attempt as it happens; a move becomes a ``model_switch``
    at once (a task forwards them, since the router cannot wait on a slow consumer),
    and all of them are out before the first delta."""
    send, receive = anyio.create_memory_object_stream[ModelSwitch](math.inf)
    announced = anyio.Event()

    def observe(attempt: llm.Attempt, to: ModelRef | None) -> None:
        switch = switch_for(attempt, to)
        if switch is not None:
            try:
                send.send_nowait(switch)
            except anyio.ClosedResourceError:
                log.debug("switch.late", to=switch.to)

    async def announce() -> None:
        with receive:
            async for switch in receive:
                await st.emit(switch)
        announced.set()

    failure: Exception | None = None
    result: llm.Result | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(announce)
        try:
            async with session.chat_model.stream(
                request, model=session.model, on_attempt=observe
            ) as stream:
                send.close()
                await announced.wait()
                async for delta in stream:
                    if isinstance(delta, llm.TextDelta) and delta.text:
                        await st.emit(TextDelta(redact(delta.text)))
                    elif isinstance(delta, llm.ThinkingDelta) and delta.text:
                        await st.emit(ThoughtDelta(redact(delta.text)))
                result = stream.result
        except (NoRouteError, ProviderError, ConfigError) as exc:
            failure = exc
        finally:
            send.close()
    if failure is not None:
        overflow = FailureClass.CONTEXT_OVERFLOW
        if too_long and isinstance(failure, NoRouteError) and failure.failure_class is overflow:
            log.info("turn.context_overflow", message=failure.message)
            raise _TooLong(f"{failure.provider}")
        _failed(st, failure)
        return None
    if result is None:
        raise RuntimeError("the model stream ended without a result")
    return result


def _failed(st: TurnState, exc: Exception) -> None:
    if isinstance(exc, NoRouteError):
        error = exc.to_json()
        st.error = {**error["error"], "attempts": error["attempts"]}
        refused = exc.failure_class is FailureClass.CONTENT_POLICY
        st.finish("refusal" if refused else "error", redact(exc.message))
    elif isinstance(exc, ProviderError):  # StreamBroken: after the first token, never replayed
        cls = exc.failure_class.value
        message = redact(exc.message)
        st.error = {"provider": exc.provider, "class": cls, "message": message}
        st.error.update(retry_at=None, attempts=[])
        st.finish("error", f"{exc.provider}: {cls}: {message}")
    else:  # ConfigError: e.g. a model override naming an unknown provider
        st.error = {"provider": None, "class": "config", "message": str(exc)}
        st.error.update(retry_at=None, attempts=[])
        st.finish("error", str(exc))
