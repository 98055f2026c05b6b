"""Issue 13 through the tool registry: every argument is what a hostile model chose.

Cases: 1 (``#`` inside a word past deny rules), 2 and 12 (``fetch:`` rules on the parsed,
resolved URL), 4 (read deny rules and the edit tools), 5 (a directory swapped for a
symlink under a read), 6 (hangs: regex, ignore glob, policy glob, HTML), 8 (search as
an oracle for a redacted key), 9 (session_search across workspaces), 10 (a key split
between progress events), 14 (case and hard links), 15 (wrapped ``rm``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import anyio
import pytest

from hermes_mcp.agent import SessionStore
from hermes_mcp.log import REDACTED, register_secret
from hermes_mcp.state import open_database
from tests.tools_helpers import (
    RecordingApprover,
    call,
    http_server,
    make_ctx,
    respond,
)
from tools import CommandOutcome, NonInteractiveApprover
from tools.html_text import html_to_text
from tools.terminal import PARTIAL_LINE_MAX

FAST_S = 5.0  # each hostile input ends well inside this (they took minutes, or forever)


@pytest.mark.anyio
async def test_a_hash_inside_a_word_hides_nothing_from_deny_rules(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOPSECRET_VALUE\n")
    ctx = make_ctx(tmp_path, mode="auto", deny=("read:secret.txt", "terminal:rm *"))
    read = await call(ctx, "terminal", command="echo x#; cat secret.txt")
    assert read.is_error and "deny rule 'read:secret.txt'" in read.text
    assert "TOPSECRET_VALUE" not in read.text
    removed = await call(ctx, "terminal", command="true x#; rm -f secret.txt")
    assert removed.is_error and "deny rule 'terminal:rm *'" in removed.text
    assert (tmp_path / "secret.txt").exists()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "command",
    [
        "/bin/rm -f victim",
        "command rm -f victim",
        "env rm -f victim",
        "env -i FOO=1 rm -f victim",
        "sh -c 'rm -f victim'",
        "bash -lc 'true; rm -f victim'",
        "nohup rm -f victim",
        "x=1 rm -f victim",
        "timeout 5 rm -f victim",
        "exec rm -f victim",
        "nice -n 5 rm -f victim",
    ],
)
async def test_wrapped_commands_meet_the_terminal_deny_rule(tmp_path: Path, command: str) -> None:
    """Case 15: each of these ran past ``terminal:rm *``."""
    (tmp_path / "victim").write_text("v")
    ctx = make_ctx(tmp_path, mode="auto", deny=("terminal:rm *",))
    result = await call(ctx, "terminal", command=command)
    assert result.is_error and "deny rule 'terminal:rm *'" in result.text, command
    assert (tmp_path / "victim").exists()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "command",
    [
        "eval 'rm -f victim'",
        "echo victim | xargs rm",
        "find . -exec rm {} ;",
        "r=rm; $r victim",
        "env -S 'rm -f victim'",
        "f() { rm -f victim; }; f",
    ],
)
async def test_commands_the_analysis_cannot_follow_go_to_the_approver(
    tmp_path: Path, command: str
) -> None:
    (tmp_path / "victim").write_text("v")
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="auto", deny=("terminal:rm *",), approver=approver)
    result = await call(ctx, "terminal", command=command)
    assert result.is_error and (tmp_path / "victim").exists(), command
    assert "cannot be checked against deny rules" in (approver.requests[0].risk or "")


@pytest.fixture
def pages() -> object:
    with http_server({"/": respond(200, b"reached", "text/plain")}) as state:
        yield state


@pytest.mark.anyio
async def test_fetch_allow_rules_match_the_host_not_the_text(tmp_path: Path, pages: object) -> None:
    """Case 2: user-info and a query that look like the allowed host."""
    port = str(pages.base).rsplit(":", 1)[1]
    for rule, url in [
        ("fetch:http://127.0.0.1:*", f"http://127.0.0.1:1@127.0.0.2:{port}/"),
        ("fetch:http://*.example.com/*", f"http://127.0.0.2:{port}/?.example.com/"),
    ]:
        approver = RecordingApprover(allowed=False)
        ctx = make_ctx(tmp_path, mode="ask", allow=(rule,), approver=approver)
        result = await call(ctx, "web_fetch", url=url)
        assert result.is_error and "reached" not in result.text, (rule, url)
        assert len(approver.requests) == 1, (rule, url)  # asked, not allowed by the rule
    ctx = make_ctx(tmp_path, mode="ask", allow=("fetch:http://127.0.0.1:*",))
    assert "reached" in (await call(ctx, "web_fetch", url=f"http://127.0.0.1:{port}/")).text


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host", ["2130706434", "0x7f000002", "127.2", "[::ffff:127.0.0.2]", "127.0.0.2."]
)
async def test_fetch_deny_rules_see_every_spelling_of_an_address(
    tmp_path: Path, pages: object, host: str
) -> None:
    """Case 12: ``fetch:http://127.0.0.2*`` against other spellings of 127.0.0.2."""
    port = str(pages.base).rsplit(":", 1)[1]
    ctx = make_ctx(
        tmp_path, mode="auto", deny=("fetch:http://127.0.0.2*",), allow_private_network=True
    )
    result = await call(ctx, "web_fetch", url=f"http://{host}:{port}/")
    assert result.is_error and "denied by policy" in result.text, host
    assert pages.hits == []


@pytest.mark.anyio
async def test_fetch_deny_rules_apply_to_what_a_name_resolves_to(
    tmp_path: Path, pages: object
) -> None:
    port = str(pages.base).rsplit(":", 1)[1]
    ctx = make_ctx(
        tmp_path, mode="auto", deny=("fetch:http://127.0.0.1*",), allow_private_network=True
    )
    result = await call(ctx, "web_fetch", url=f"http://localhost:{port}/")
    assert result.is_error and "denied by policy" in result.text
    assert pages.hits == []


@pytest.mark.anyio
async def test_edit_tools_show_nothing_of_a_read_denied_file(tmp_path: Path) -> None:
    """Case 4: diffs and patch's error messages (an oracle) for a read-denied file."""
    (tmp_path / "secret.txt").write_text("PASSWORD=hunter2\nPASSWORD=hunter2\n")
    ctx = make_ctx(tmp_path, mode="auto", deny=("read:secret.txt",))
    answers = [
        await call(ctx, "write_file", path="secret.txt", content="new\n"),
        await call(
            ctx, "patch", path="secret.txt", edits=[{"old_text": "hunter2", "new_text": "x"}]
        ),
        await call(ctx, "patch", path="secret.txt", edits=[{"old_text": "nope", "new_text": "x"}]),
    ]
    for answer in answers:
        assert answer.is_error and "deny rule 'read:secret.txt'" in answer.text
        assert "hunter2" not in answer.text and "appears" not in answer.text
        assert "not found" not in answer.text and answer.diff is None
    assert (tmp_path / "secret.txt").read_text() == "PASSWORD=hunter2\nPASSWORD=hunter2\n"


@pytest.mark.anyio
async def test_a_directory_swapped_for_a_symlink_never_redirects_a_read(tmp_path: Path) -> None:
    """Case 5: a thread swaps ``d`` between a directory and a symlink to the outside
    while the model reads ``d/passwd`` 150 times."""
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / "d").mkdir(parents=True)
    outside.mkdir()
    (ws / "d" / "passwd").write_text("inside\n")
    (outside / "passwd").write_text("OUTSIDE_SECRET\n")
    stop = threading.Event()

    def swap() -> None:
        real, link = ws / "d.real", ws / "d.link"
        os.symlink(outside, link)
        while not stop.is_set():
            os.rename(ws / "d", real)
            os.rename(link, ws / "d")
            os.rename(ws / "d", link)
            os.rename(real, ws / "d")

    ctx = make_ctx(ws, mode="auto")
    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        texts = [(await call(ctx, "read_file", path="d/passwd")).text for _ in range(150)]
    finally:
        stop.set()
        swapper.join()
    assert not [t for t in texts if "OUTSIDE_SECRET" in t]
    assert any("inside" in t for t in texts)


@pytest.mark.anyio
async def test_hostile_patterns_and_pages_end_at_once(tmp_path: Path) -> None:
    """Case 6: each of these held the call (or the event loop) for minutes."""
    (tmp_path / "x.txt").write_text("x" * 20_000 + "\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*a*a*b\n")
    (tmp_path / "sub" / ("a" * 250)).write_text("aaaa\n")
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="auto", deny=("read:nothing-here",), approver=approver)
    with anyio.fail_after(FAST_S):
        searched = await call(ctx, "search_files", pattern="(x+x+)+y")
        assert not searched.is_error and "no matches" in searched.text
        listed = await call(ctx, "list_dir", path=".", depth=3)
        assert ("a" * 250) in listed.text
        found = await call(ctx, "search_files", pattern="aaaa")
        assert "1 match" in found.text
        globbed = await call(ctx, "terminal", command="cat /*/*/*/*/*/*/*")
        assert globbed.is_error and "globs too large" in (approver.requests[0].risk or "")
        text = await anyio.to_thread.run_sync(html_to_text, "</" * 1_000_000)
        assert len(text) < 10
    refused = await call(ctx, "search_files", pattern=r"(a)\1")
    assert refused.is_error and "backreferences" in refused.text


@pytest.mark.anyio
async def test_search_cannot_rebuild_a_redacted_key(tmp_path: Path) -> None:
    """Case 8: read_file shows the key redacted; prefix-by-prefix searches found it."""
    key = "zq-" + "Kd93hQ0pLm2Xv7Rt5Yw1"
    register_secret(key)
    (tmp_path / "settings.py").write_text(f'OPENAI_API_KEY = "{key}"\n')
    ctx = make_ctx(tmp_path, mode="auto")
    shown = await call(ctx, "read_file", path="settings.py")
    assert key not in shown.text and REDACTED in shown.text
    known = 'KEY = "'
    for prefix in ["zq-", "zq-K", known + "z", known + "zq-Kd"]:
        result = await call(ctx, "search_files", pattern=prefix.replace('"', '\\"'))
        assert "no matches" in result.text, prefix
    assert "1 match" in (await call(ctx, "search_files", pattern="OPENAI_API_KEY")).text


@pytest.mark.anyio
async def test_session_search_stays_in_the_workspace(tmp_path: Path) -> None:
    """Case 9: a .env read in workspace A, searched from workspace B (denies **/.env)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    db = open_database(tmp_path / "state" / "state.db")
    store = SessionStore(db)
    try:
        there = await store.create(cwd=str(a), title="in a")
        await store.begin_turn(there, "the .env says DB_PASSWORD=violet-lantern-42")
        here = await store.create(cwd=str(b), title="in b")
        approver = RecordingApprover(allowed=False)
        ctx = make_ctx(b, mode="ask", deny=("read:**/.env",), db=db, session_id=here,
                       approver=approver)  # fmt: skip
        scoped = await call(ctx, "session_search", query="violet lantern")
        wide = await call(ctx, "session_search", query="violet lantern", workspace_only=False)
        ctx_a = make_ctx(a, mode="auto", db=db, session_id="other")
        own = await call(ctx_a, "session_search", query="violet lantern")
    finally:
        db.close()
    assert "DB_PASSWORD" not in scoped.text and "no past session matches" in scoped.text
    assert wide.is_error and "not approved" in wide.text and "violet-lantern" not in wide.text
    assert approver.requests[0].risk is not None
    assert "**violet**" in own.text  # its own workspace still finds it


class _Chunks:
    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    async def run(self, command: str, **kwargs: object) -> CommandOutcome:
        on_output = kwargs["on_output"]
        for chunk in self.chunks:
            await on_output(chunk)  # type: ignore[operator]
        return CommandOutcome(0, "".join(self.chunks), 0, False)


@pytest.mark.anyio
@pytest.mark.parametrize("offset", [0, 5, 17, 300, 1500])
async def test_no_two_progress_events_carry_one_key_between_them(
    tmp_path: Path, offset: int
) -> None:
    """Case 10: an unfinished line over 16 KiB was sent as is, cut inside the key."""
    key = "vq-" + "Zt81mWq0PdL2sX9eRb4Y"
    register_secret(key)
    filler = "y" * (PARTIAL_LINE_MAX - offset)
    chunks = [filler + key[:9], key[9:] + "z" * 3000, "tail\n"]
    events: list[str] = []

    async def progress(text: str) -> None:
        events.append(text)

    ctx = make_ctx(tmp_path, progress=progress, terminal=_Chunks(chunks))
    result = await call(ctx, "terminal", command="x")
    assert key not in result.text
    assert len(events) >= 2
    for piece in (key[:9], key[9:], key[3:12]):
        assert not [e for e in events if piece in e], piece
    assert "".join(events).count(REDACTED) == 1


@pytest.mark.anyio
async def test_sensitive_names_and_deny_rules_ignore_case(tmp_path: Path) -> None:
    """Case 14: ``.ENV`` and ``ID_RSA`` passed, as did ``SECRETS/`` past ``read:secrets``."""
    (tmp_path / ".ENV").write_text("TOKEN=abc\n")
    (tmp_path / "ID_RSA").write_text("key\n")
    (tmp_path / "SECRETS").mkdir()
    (tmp_path / "SECRETS" / "k.txt").write_text("k\n")
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="ask", deny=("read:secrets",), approver=approver)
    for name in (".ENV", "ID_RSA"):
        result = await call(ctx, "read_file", path=name)
        assert result.is_error and "not approved" in result.text, name
        assert (await call(ctx, "write_file", path=name, content="x")).is_error
    assert [r.risk for r in approver.requests] == [
        "sensitive file: sensitive file name (.env*)",
        "sensitive file: sensitive file name (id_rsa)",
    ]
    denied = await call(ctx, "read_file", path="SECRETS/k.txt")
    assert denied.is_error and "deny rule 'read:secrets'" in denied.text


@pytest.mark.anyio
async def test_a_hard_link_to_an_outside_file_is_not_read_unasked(tmp_path: Path) -> None:
    """Case 14: a hard link in the workspace to a file outside it."""
    ws, outside = tmp_path / "ws", tmp_path / "outside.txt"
    ws.mkdir()
    outside.write_text("OUTSIDE_SECRET\n")
    os.link(outside, ws / "innocent.txt")
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(ws, mode="ask", approver=approver)
    read = await call(ctx, "read_file", path="innocent.txt")
    assert read.is_error and "OUTSIDE_SECRET" not in read.text
    assert "hard links" in (approver.requests[0].risk or "")
    searched = await call(ctx, "search_files", pattern="OUTSIDE")
    assert (
        "OUTSIDE_SECRET" not in searched.text and "1 sensitive file not searched" in searched.text
    )


@pytest.mark.anyio
async def test_terminal_reports_start_env_overrides_and_signal_names(tmp_path: Path) -> None:
    """The back-end interface an editor's terminal will share: a started command is
    reported with its id, ``env`` overrides merge over the scrubbed environment, and a
    signal is named."""
    from tools import LocalTerminal
    from tools.backends import TerminalStarted

    started: list[TerminalStarted] = []

    async def on_start(info: TerminalStarted) -> None:
        started.append(info)

    terminal = LocalTerminal(base_env={"PATH": os.environ["PATH"], "MY_TOKEN": "t0ps3cr3t"})
    with anyio.fail_after(FAST_S):
        outcome = await terminal.run(
            'echo "$EXTRA ${MY_TOKEN:-none}"; kill -TERM $$',
            cwd=tmp_path,
            time_limit=FAST_S,
            output_limit=4096,
            env={"EXTRA": "given"},
            on_start=on_start,
        )
    assert outcome.output == "given none\n"
    assert (outcome.exit_code, outcome.signal) == (-15, "SIGTERM")
    assert started and started[0].terminal_id == outcome.terminal_id
    assert started[0].terminal_id == f"local-{started[0].pid}"


@pytest.mark.anyio
async def test_unknown_commands_are_refused_by_the_non_interactive_approver(
    tmp_path: Path,
) -> None:
    ctx = make_ctx(tmp_path, mode="ask", approver=NonInteractiveApprover())
    result = await call(ctx, "terminal", command="id")
    assert result.is_error and "not approved" in result.text
