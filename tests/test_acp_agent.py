"""``hermes-acp`` driven by the SDK's client against the loopback fake provider: the
issue's "Must show" list. The agent runs in the test's process over two pipes
(tests/in_process.py); the session loaded "in a new process" is a real ``hermes-acp``
process, which covers the real process end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import acp
import anyio
import pytest
from acp.schema import (
    EmbeddedResourceContentBlock,
    ImageContentBlock,
    TextContentBlock,
    TextResourceContents,
)

from hermes_mcp.testing import FakeProvider, hold, rate_limited, reply, stream
from tests.acp_client import Editor, connect, connect_in_process, text
from tests.agent_helpers import call, calls, delegate, new_home, new_workspace
from tests.keys import FALLBACK_KEY, KEY_A
from tests.routing import Home


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider, *, fallback: bool = False) -> None:
    providers: dict[str, dict[str, Any]] = {
        "primary": {"url": fake.openai_base_url, "keys": [KEY_A]}
    }
    fallbacks: tuple[str, ...] = ()
    if fallback:
        # The fallback speaks Anthropic's wire, which carries real reasoning.
        providers["backup"] = {
            "url": fake.anthropic_base_url,
            "keys": [FALLBACK_KEY],
            "wire": "anthropic",
        }
        fallbacks = ("backup:claude-sonnet-4",)
    home.write(providers, "primary:gpt-4o", fallbacks)


def updates_for(editor: Editor, call_id: str) -> list[Any]:
    return [
        u
        for _, u in editor.updates
        if u.session_update in ("tool_call", "tool_call_update") and u.tool_call_id == call_id
    ]


def final(editor: Editor, call_id: str) -> Any:
    ends = [u for u in updates_for(editor, call_id) if u.status in ("completed", "failed")]
    assert len(ends) == 1, updates_for(editor, call_id)
    return ends[0]


def last_user_message(body: dict[str, Any] | None) -> str:
    users = [m for m in (body or {}).get("messages", []) if m.get("role") == "user"]
    content = users[-1]["content"] if users else ""
    return content if isinstance(content, str) else content[0].get("text", "")


def content_text(update: Any) -> str:
    return "\n".join(
        c.content.text
        for c in update.content or []
        if c.type == "content" and hasattr(c.content, "text")
    )


EDIT_AND_RUN = (
    calls(call("write_file", "w1", path="notes.txt", content="hello\n")),
    calls(call("terminal", "t1", command="echo hi")),
    calls(call("terminal", "t2", command="echo hi")),
    reply("All done."),
)


@pytest.mark.anyio
async def test_edit_and_command_asked_then_load_replays_then_cancel_and_continue(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    todos = [{"content": "write notes", "status": "in_progress"}, {"content": "say hi"}]
    fake.script(KEY_A, calls(call("todo", "p1", todos=todos)), *EDIT_AND_RUN)
    editor = Editor()
    editor.answers = ["allow_once", "allow_always"]  # the edit once; the command always
    async with connect_in_process(editor, home.process_env, ws) as conn:
        new = await conn.new_session(cwd=str(ws), mcp_servers=[])
        sid = new.session_id
        assert new.modes is not None and new.modes.current_mode_id == "ask"
        assert {o.id: o.category for o in new.config_options or []} == {
            "model": "model",
            "mode": "mode",
        }
        with anyio.fail_after(30):
            done = await conn.prompt(session_id=sid, prompt=text("write notes, then say hi twice"))
        assert done.stop_reason == "end_turn"
        assert (ws / "notes.txt").read_text() == "hello\n"

        # Permissions: the edit with its diff, the command once (the second run was remembered).
        assert len(editor.asked) == 2
        edit, command = editor.asked
        assert edit.tool_call.tool_call_id == "w1"
        diff = edit.tool_call.content[0]
        assert (diff.type, diff.old_text, diff.new_text) == ("diff", None, "hello\n")
        assert command.tool_call.tool_call_id == "t1" and "$ echo hi" in content_text(
            command.tool_call
        )
        kinds = {o.kind: o.name for o in command.options}
        assert set(kinds) == {"allow_once", "allow_always", "reject_once", "reject_always"}
        assert "this exact command in this session" in kinds["allow_always"]

        # The stream: tool calls with kind, input, content, final status; the answer; title.
        starts = {u.tool_call_id: u for u in editor.of("tool_call", sid)}
        assert {k: v.kind for k, v in starts.items()} == {
            "p1": "think",
            "w1": "edit",
            "t1": "execute",
            "t2": "execute",
        }
        assert starts["t1"].raw_input["command"] == "echo hi"
        assert starts["w1"].locations[0].path == str(ws / "notes.txt")
        wrote = final(editor, "w1")
        assert wrote.status == "completed" and wrote.content[0].type == "diff"
        ran = final(editor, "t1")
        assert ran.status == "completed" and "hi" in content_text(ran)
        assert ran.raw_output["structured"]["exit_code"] == 0
        live = [u for u in updates_for(editor, "t1") if u.status == "in_progress" and u.content]
        assert live and "hi" in content_text(live[-1])  # the output while it ran
        assert editor.text(sid) == "All done."
        (plan,) = editor.of("plan", sid)
        assert [(e.content, e.status) for e in plan.entries] == [
            ("write notes", "in_progress"),
            ("say hi", "pending"),
        ]
        titles = editor.of("session_info_update", sid)
        assert titles and titles[0].title.startswith("write notes")
        assert editor.of("available_commands_update", sid)
        await conn.set_config_option(config_id="mode", session_id=sid, value="auto")
        assert editor.of("current_mode_update", sid)[-1].current_mode_id == "auto"
        (used, *_) = editor.of("usage_update", sid)
        assert used.size > 0 and 0 < used.used <= used.size

    # A new process: load replays the whole session, then cancel mid-stream and go on.
    fake.script(
        KEY_A,
        # Never finishes: after "one ", the next chunk comes in ten minutes.
        stream(chunks=["one ", "two ", "three"], delay_s=600),
        reply("Back again."),
        reply("Forked."),
    )
    again = Editor()
    async with connect(again, home.process_env, ws) as conn:
        with anyio.fail_after(30):
            loaded = await conn.load_session(cwd=str(ws), session_id=sid, mcp_servers=[])
        assert loaded is not None and loaded.modes is not None
        assert loaded.modes.current_mode_id == "auto"  # stored with the session
        replayed = again.kinds(sid)
        assert "user_message_chunk" in replayed
        assert again.text(sid, "user_message_chunk").startswith("write notes, then say hi twice")
        assert {u.tool_call_id for u in again.of("tool_call", sid)} == {"p1", "w1", "t1", "t2"}
        assert final(again, "w1").content[0].type == "diff"
        assert final(again, "t2").status == "completed"
        assert again.text(sid) == "All done."
        assert [e.content for e in again.of("plan", sid)[-1].entries] == ["write notes", "say hi"]
        again.updates.clear()

        async def cancel_on_first_chunk() -> None:
            await again.wait_for(lambda: bool(again.of("agent_message_chunk", sid)))
            await conn.cancel(session_id=sid)

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_on_first_chunk)
            with anyio.fail_after(30):
                stopped = await conn.prompt(session_id=sid, prompt=text("count slowly"))
        # The prompt ends on the cancel: the stream it was reading never finishes.
        assert stopped.stop_reason == "cancelled" and again.text(sid) == "one "
        await fake.wait_disconnect()  # the provider saw its stream closed

        with anyio.fail_after(30):
            next_one = await conn.prompt(session_id=sid, prompt=text("and now?"))
        assert next_one.stop_reason == "end_turn" and "Back again." in again.text(sid)

        # A fork carries the conversation; resuming it does not replay it.
        forked = (await conn.fork_session(session_id=sid, cwd=str(ws))).session_id
        await conn.resume_session(session_id=forked, cwd=str(ws))
        assert forked != sid and not again.of("user_message_chunk", forked)
        listed = await conn.list_sessions(cwd=str(ws))
        assert {s.session_id for s in listed.sessions} == {sid, forked}
        with anyio.fail_after(30):
            await conn.prompt(session_id=forked, prompt=text("in the fork"))
        assert "write notes, then say hi twice" in str(fake.requests[-1].body)


@pytest.mark.anyio
async def test_editor_files_and_terminal_leave_the_disk_alone(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        calls(call("read_file", "r1", path="hello.py")),
        *EDIT_AND_RUN[:2],
        reply("Edited in the editor."),
        calls(call("terminal", "t9", command="sleep 30")),
    )
    editor = Editor(fs=True, terminal=True)
    editor.buffers[str(ws / "hello.py")] = 'print("unsaved buffer")\n'
    async with connect_in_process(editor, home.process_env, ws) as conn:
        sid = (await conn.new_session(cwd=str(ws))).session_id
        await conn.set_session_mode(session_id=sid, mode_id="accept_edits")
        assert [u.current_mode_id for u in editor.of("current_mode_update", sid)] == [
            "accept_edits"
        ]
        with anyio.fail_after(30):
            done = await conn.prompt(session_id=sid, prompt=text("edit in the editor"))
        assert done.stop_reason == "end_turn"

        body = fake.requests[1].body
        assert body is not None and "unsaved buffer" in str(body["messages"])
        assert editor.writes == [(str(ws / "notes.txt"), "hello\n")]
        assert not (ws / "notes.txt").exists()
        assert len(editor.asked) == 1 and editor.asked[0].tool_call.tool_call_id == "t1"
        ((term_id, term),) = editor.terminals.items()
        assert (term.command, term.args, term.cwd) == ("/bin/sh", ["-c", "echo hi"], str(ws))
        assert term.released
        # The provider key is blanked in the editor's terminal, never sent.
        assert term.env["HERMES_TEST_PRIMARY_0"] == "" and KEY_A not in term.env.values()
        embedded = [
            c.terminal_id
            for u in updates_for(editor, "t1")
            for c in u.content or []
            if c.type == "terminal"
        ]
        assert term_id in embedded
        assert "ran: echo hi" in final(editor, "t1").raw_output["output"]

        # Cancelling kills and releases the editor's terminal.
        editor.answers = ["allow_once"]

        async def cancel_when_running() -> None:
            await editor.wait_for(lambda: len(editor.terminals) == 2)
            await conn.cancel(session_id=sid)

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_running)
            with anyio.fail_after(30):
                stopped = await conn.prompt(session_id=sid, prompt=text("sleep"))
        assert stopped.stop_reason == "cancelled"
        slept = editor.terminals["term-2"]
        await editor.wait_for(lambda: slept.released)
        assert slept.killed

        # The tool's time limit: the editor's terminal is killed, the call fails.
        fake.script(
            KEY_A,
            calls(call("terminal", "t10", command="sleep 99", timeout_s=0.5)),
            reply("It timed out."),
        )
        editor.answers = ["allow_once"]
        with anyio.fail_after(30):
            await conn.prompt(session_id=sid, prompt=text("sleep briefly"))
        timed = editor.terminals["term-3"]
        assert timed.killed and timed.released
        assert final(editor, "t10").status == "failed" and "timed out" in content_text(
            final(editor, "t10")
        )


@pytest.mark.anyio
async def test_a_rate_limited_primary_falls_back_once_and_the_editor_is_told(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, fallback=True)
    fake.script(KEY_A, rate_limited(600))
    fake.script(FALLBACK_KEY, reply("From the fallback.", thinking="Weighing it up."))
    editor = Editor()
    async with connect_in_process(editor, home.process_env, ws) as conn:
        sid = (await conn.new_session(cwd=str(ws))).session_id
        with anyio.fail_after(30):
            done = await conn.prompt(session_id=sid, prompt=text("hello"))
        assert done.stop_reason == "end_turn"
        assert "From the fallback." in editor.text(sid)
        assert editor.text(sid, "agent_thought_chunk") == "Weighing it up."
        assert fake.count(key=KEY_A) == 1
        notes = [
            u.field_meta["hermes"]["modelSwitch"]
            for u in editor.of("agent_message_chunk", sid)
            if u.field_meta and "hermes" in u.field_meta
        ]
        assert notes and notes[0]["from"] == "primary:gpt-4o"
        assert notes[0]["to"] == "backup:claude-sonnet-4" and notes[0]["reason"] == "rate_limit"

        # Slash commands answer without a model call.
        editor.updates.clear()
        await conn.prompt(session_id=sid, prompt=text("/fallback"))
        shown = editor.text(sid)
        assert "primary:gpt-4o (primary)" in shown and "cooling" in shown and "recovers at" in shown
        editor.updates.clear()
        await conn.prompt(session_id=sid, prompt=text("/model backup:claude-sonnet-4"))
        assert "Model: backup:claude-sonnet-4 (this session's choice)" in editor.text(sid)
        picked = editor.of("config_option_update", sid)[-1].config_options
        assert {o.id: o.current_value for o in picked}["model"] == "backup:claude-sonnet-4"
        editor.updates.clear()
        await conn.prompt(session_id=sid, prompt=text("/cost"))
        assert "input tokens" in editor.text(sid)
        assert fake.count(key=KEY_A) == 1 and fake.count(key=FALLBACK_KEY) == 1

        # /reset: the model's next request holds none of the earlier conversation.
        await conn.prompt(session_id=sid, prompt=text("/reset"))
        assert "fresh context" in editor.text(sid)
        fake.script(FALLBACK_KEY, reply("Fresh."))
        with anyio.fail_after(30):
            again = await conn.prompt(session_id=sid, prompt=text("a new question"))
        assert again.stop_reason == "end_turn"
        sent = json.dumps(fake.requests[-1].body)
        assert "a new question" in sent and "hello" not in sent and "From the fallback" not in sent


@pytest.mark.anyio
async def test_without_a_provider_new_works_and_the_prompt_names_the_missing_config(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(ws)
    editor = Editor()
    env = {**home.process_env, "HERMES_TEST_PRIMARY_0": KEY_A}  # what the setup will name
    async with connect_in_process(editor, env, ws) as conn:
        new = await conn.new_session(cwd=str(link))
        with pytest.raises(acp.RequestError) as failed:
            await conn.prompt(session_id=new.session_id, prompt=text("hello"))
        assert failed.value.code == -32000 and "hermes-mcp setup" in str(failed.value)
        assert failed.value.data["authMethod"] == "setup"
        listed = await conn.list_sessions(cwd=str(ws))
        assert [s.session_id for s in listed.sessions] == [new.session_id]
        assert listed.sessions[0].cwd == str(ws.resolve()) and listed.sessions[0].updated_at
        with pytest.raises(acp.RequestError) as unknown:
            await conn.authenticate(method_id="password")
        assert unknown.value.code == -32602
        with pytest.raises(acp.RequestError) as not_yet:
            await conn.authenticate(method_id="setup")
        assert not_yet.value.code == -32000

        # After the setup wrote a config, authenticate opens it and the session goes on.
        configure(home, fake)
        fake.script(KEY_A, reply("Configured now."))
        await conn.authenticate(method_id="setup")
        with anyio.fail_after(30):
            done = await conn.prompt(session_id=new.session_id, prompt=text("hello again"))
        assert done.stop_reason == "end_turn" and "Configured now." in editor.text(new.session_id)
        await conn.close_session(session_id=new.session_id)
        with pytest.raises(acp.RequestError):
            await conn.prompt(session_id=new.session_id, prompt=text("closed"))


@pytest.mark.anyio
async def test_prompts_sent_while_one_runs_wait_and_run_in_order(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        hold("first", reply("First.")),
        reply("Other session."),
        reply("Next."),
        reply("Last."),
    )
    editor = Editor()
    async with connect_in_process(editor, home.process_env, ws) as conn:
        sid = (await conn.new_session(cwd=str(ws))).session_id
        other = (await conn.new_session(cwd=str(ws))).session_id
        answers: dict[str, Any] = {}

        async def send(prompt: str) -> None:
            answers[prompt] = await conn.prompt(session_id=sid, prompt=text(prompt))

        async with anyio.create_task_group() as tg:
            tg.start_soon(send, "one")
            await fake.wait_in_flight(1, timeout=30)  # the runtime opens in the background
            tg.start_soon(send, "two")  # both wait behind "one" (no -32003)
            tg.start_soon(send, "three")
            # Another session of the same process is not held up by them.
            with anyio.fail_after(30):
                elsewhere = await conn.prompt(session_id=other, prompt=text("meanwhile"))
            assert elsewhere.stop_reason == "end_turn" and editor.text(other) == "Other session."
            assert fake.count(key=KEY_A) == 2  # the queued prompts have not reached a model
            fake.release("first")
        assert [answers[p].stop_reason for p in ("one", "two", "three")] == ["end_turn"] * 3
        # Each waiting prompt is shown where it starts (a user message), then its answer;
        # the model saw them one after the other, in that order.
        shown = [
            (u.session_update, u.content.text)
            for s, u in editor.updates
            if s == sid and u.session_update in ("user_message_chunk", "agent_message_chunk")
        ]
        first, second = shown[1][1], shown[3][1]
        assert shown == [
            ("agent_message_chunk", "First."),
            ("user_message_chunk", first),
            ("agent_message_chunk", "Next."),
            ("user_message_chunk", second),
            ("agent_message_chunk", "Last."),
        ]
        assert {first, second} == {"two", "three"}
        asked = [last_user_message(r.body) for r in fake.requests[2:4]]
        assert asked == [first, second]
        # /compact [focus]: the older turns summarised by the model, said in the session.
        await conn.prompt(session_id=sid, prompt=text("/compact the prompts"))
        assert "Context compacted:" in editor.text(sid) and "older turns summarised" in (
            editor.text(sid)
        )
        summary_request = last_user_message(fake.requests[-1].body)
        assert "Pay particular attention to: the prompts" in summary_request

        # No route left: a JSON-RPC error naming provider, class and recovery time.
        fake.script(KEY_A, rate_limited(120))
        with pytest.raises(acp.RequestError) as failed:
            await conn.prompt(session_id=sid, prompt=text("three"))
        data = failed.value.data
        assert failed.value.code == -32001 and (data["provider"], data["class"]) == (
            "primary",
            "rate_limit",
        )
        assert data["retryAt"] and data["attempts"]
        assert fake.count(key=KEY_A) == 6  # one request for the failing prompt, no retry loop


@pytest.mark.anyio
async def test_delegated_tasks_show_progress_and_ask_on_the_parent_call(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake)
    fake.script(
        KEY_A,
        delegate({"goal": "say hello from a child"}, call_id="d1"),
        calls(call("terminal", "c1", command="echo child")),
        reply("child done"),
        reply("Delegated."),
        reply("Read it."),
        reply("A pixel."),
    )
    editor = Editor()
    async with connect_in_process(editor, home.process_env, ws) as conn:
        sid = (await conn.new_session(cwd=str(ws))).session_id
        with anyio.fail_after(30):
            done = await conn.prompt(session_id=sid, prompt=text("delegate it"))
        assert done.stop_reason == "end_turn" and editor.text(sid) == "Delegated."
        (asked,) = editor.asked
        assert asked.tool_call.tool_call_id == "d1" and "Delegated task" in (
            asked.tool_call.title or ""
        )
        progress = [content_text(u) for u in updates_for(editor, "d1") if u.status == "in_progress"]
        assert any("say hello from a child: started" in p for p in progress)
        assert any("done (end_turn)" in p for p in progress)
        assert final(editor, "d1").status == "completed"
        assert "child done" in str(fake.requests[3].body)  # the result reached the model

        # Prompt content: an embedded buffer reaches the model; a huge one is refused.
        resource = TextResourceContents(uri="file:///notes.md", text="remember the milk")
        blocks = [
            TextContentBlock(type="text", text="read this"),
            EmbeddedResourceContentBlock(type="resource", resource=resource),
        ]
        with anyio.fail_after(30):
            await conn.prompt(session_id=sid, prompt=blocks)
        assert "remember the milk" in str(fake.requests[-1].body)
        png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
        picture = [
            TextContentBlock(type="text", text="what is this?"),
            ImageContentBlock(type="image", data=png, mime_type="image/png"),
        ]
        with anyio.fail_after(30):
            await conn.prompt(session_id=sid, prompt=picture)
        assert png in str(fake.requests[-1].body)  # gpt-4o reads images
        huge = TextResourceContents(uri="file:///huge.txt", text="x" * 500_000)
        with pytest.raises(acp.RequestError) as refused:
            await conn.prompt(
                session_id=sid,
                prompt=[EmbeddedResourceContentBlock(type="resource", resource=huge)],
            )
        assert refused.value.code == -32602 and "file:///huge.txt" in str(refused.value.data)
