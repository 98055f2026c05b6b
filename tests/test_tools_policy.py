"""The policy: rule syntax, deny over everything, the three modes, the approver."""

from __future__ import annotations

from pathlib import Path

import pytest

from hermes_mcp.config import PolicySection
from hermes_mcp.errors import ConfigError
from tests.tools_helpers import RecordingApprover, call, make_ctx
from tools import ApprovalRequest, NonInteractiveApprover, Policy, Rule, ToolContext
from tools.policy import changes_directory, command_paths, split_command

ROOT = Path("/ws")


def _terminal(command: str) -> ApprovalRequest:
    return ApprovalRequest(
        tool="terminal",
        kind="execute",
        action="terminal",
        title=command,
        paths=(ROOT,),
        command=command,
        risk="command",
    )


def _write(path: str) -> ApprovalRequest:
    return ApprovalRequest(
        tool="write_file", kind="edit", action="write", title="w", paths=(Path(path),), risk="edit"
    )


@pytest.mark.parametrize(
    ("rule", "path", "expected"),
    [
        ("read:src/**", "/ws/src/a/b.py", True),
        ("read:src/**", "/ws/lib/src/b.py", False),
        ("write:**/*.py", "/ws/a.py", True),
        ("write:**/*.py", "/ws/x/y/a.py", True),
        ("write:**/*.py", "/ws/x/y/a.txt", False),
        ("read:.env*", "/ws/config/.env.local", True),
        ("read:secrets", "/ws/secrets/deep/key.txt", True),
        ("path:/etc/**", "/etc/shadow", True),
        ("path:/etc/**", "/ws/etc/shadow", False),
        ("read:docs/*.md", "/ws/docs/sub/a.md", False),
    ],
)
def test_path_rules(rule: str, path: str, expected: bool) -> None:
    assert Rule.parse(rule).matches_path(Path(path), [ROOT]) is expected


@pytest.mark.parametrize(
    ("rule", "command", "expected"),
    [
        ("terminal:git status*", "git status", True),
        ("terminal:git status*", "git  status   --short", True),
        ("terminal:git status*", "git stash", False),
        ("terminal:pytest", "pytest -x", False),
    ],
)
def test_command_rules(rule: str, command: str, expected: bool) -> None:
    assert Rule.parse(rule).matches_command(command) is expected


def test_fetch_rules_match_urls_or_hosts() -> None:
    assert Rule.parse("fetch:http://127.0.0.1:*").matches_url("http://127.0.0.1:8080/x")
    assert not Rule.parse("fetch:http://127.0.0.1:*").matches_url("http://10.0.0.1:80/")
    assert Rule.parse("fetch:*.internal.test").matches_url("https://api.internal.test/v1")


@pytest.mark.parametrize("text", ["nope", "shell:ls", "read:", "terminal:  "])
def test_bad_rules_are_config_errors_naming_the_key(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Policy.from_section(PolicySection(allow=["read:src/**", text]), file="cfg.toml")
    assert info.value.key == "policy.allow[1]" and info.value.file == "cfg.toml"


def test_split_command() -> None:
    assert split_command("git status && pytest -x") == ([["git", "status"], ["pytest", "-x"]], True)
    for complex_command in [
        "ls > out",
        "echo $(id)",
        "echo `id`",
        "(cd x; ls)",
        'echo "$(touch PWNED)"',
        'echo "`id`"',
        "echo $HOME",
        "echo ${x}",
        "diff <(ls a) b",
        "tee >(cat)",
    ]:
        assert split_command(complex_command)[1] is False, complex_command
    assert split_command("echo 'a; rm -rf /'") == ([["echo", "a; rm -rf /"]], True)
    # a line break separates commands as ';' does: both are seen
    assert split_command("ls\nrm -rf x") == ([["ls"], ["rm", "-rf", "x"]], True)


def test_command_paths_resolve_words_options_globs_and_redirections(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "k.txt").write_text("k")
    found = command_paths("cat --file=secrets/k.txt s*/k.txt > out", tmp_path)
    assert found.count(tmp_path / "secrets" / "k.txt") == 2
    assert tmp_path / "out" in found


def test_deny_wins_over_every_mode_and_over_allow_rules() -> None:
    for mode in ("ask", "accept_edits", "auto"):
        policy = Policy(
            mode, allow=["terminal:rm *", "write:**"], deny=["terminal:rm *", "write:**/*.lock"]
        )  # type: ignore[arg-type]
        assert policy.evaluate(_terminal("rm -rf build"), [ROOT]).outcome == "deny"
        assert policy.evaluate(_terminal("ls && rm -rf build"), [ROOT]).outcome == "deny"
        assert policy.evaluate(_write("/ws/uv.lock"), [ROOT]).outcome == "deny"


def test_modes() -> None:
    ask, edits, auto = Policy("ask"), Policy("accept_edits"), Policy("auto")
    assert ask.evaluate(_write("/ws/a.py"), [ROOT]).outcome == "ask"
    assert edits.evaluate(_write("/ws/a.py"), [ROOT]).outcome == "allow"
    assert edits.evaluate(_write("/elsewhere/a.py"), [ROOT]).outcome == "ask"
    assert edits.evaluate(_terminal("ls"), [ROOT]).outcome == "ask"
    assert auto.evaluate(_terminal("curl x | sh"), [ROOT]).outcome == "allow"


def test_ask_mode_sends_every_command_no_allow_rule_matches_to_the_approver() -> None:
    policy = Policy("ask", allow=["terminal:git status*", "terminal:git diff*", "terminal:wc *"])
    outcome = {c: policy.evaluate(_terminal(c), [ROOT]).outcome for c in [
        "git status",
        "git status --short && git diff",
        "git diff | wc -l",
        "git status; rm -rf ~",
        "git status > /tmp/x",
        "git status $(rm -rf ~)",
        "git status\nrm -rf ~",
        "git log",
    ]}  # fmt: skip
    assert outcome == {
        "git status": "allow",
        "git status --short && git diff": "allow",
        "git diff | wc -l": "allow",
        "git status; rm -rf ~": "ask",
        "git status > /tmp/x": "ask",
        "git status $(rm -rf ~)": "ask",
        "git status\nrm -rf ~": "ask",
        "git log": "ask",
    }


@pytest.mark.anyio
async def test_deny_path_rules_also_refuse_commands_naming_those_paths(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.txt").write_text("k")
    approver = RecordingApprover(allowed=True)
    ctx = make_ctx(tmp_path, mode="auto", deny=("read:secrets/**",), approver=approver)
    for command in [
        "cat secrets/key.txt",
        "cat ./docs/../secrets/key.txt",
        "cat sec*/key.txt",
        f"cp {tmp_path}/secrets/key.txt /tmp/stolen",
        "grep -r --file=secrets/key.txt .",
    ]:
        result = await call(ctx, "terminal", command=command)
        assert result.is_error and "deny rule 'read:secrets/**'" in result.text, command
    assert not (await call(ctx, "terminal", command="echo fine")).is_error
    assert approver.requests == []


@pytest.mark.anyio
async def test_approver_answers_drive_the_action_and_always_is_remembered(tmp_path: Path) -> None:
    approver = RecordingApprover(allowed=True, remember=True)
    ctx = make_ctx(tmp_path, mode="ask", approver=approver)
    for _ in range(2):
        result = await call(ctx.for_call("c1"), "terminal", command="echo hi")
        assert not result.is_error and "hi" in result.text
    assert len(approver.requests) == 1  # the second run used the remembered answer
    request = approver.requests[0]
    assert (request.tool, request.kind, request.command, request.call_id) == (
        "terminal",
        "execute",
        "echo hi",
        "c1",
    )
    assert (await call(ctx, "terminal", command="echo other")).text.startswith("other")
    assert len(approver.requests) == 2


@pytest.mark.anyio
async def test_nobody_to_ask_denies_with_a_hint_and_never_blocks(tmp_path: Path) -> None:
    ctx = ToolContext((tmp_path,), approver=NonInteractiveApprover())  # mode ask
    result = await call(ctx, "terminal", command="touch made")
    assert result.is_error and "nobody can be asked" in result.text
    assert "terminal:git status*" in result.text
    assert not (tmp_path / "made").exists()
    result = await call(ctx, "write_file", path="a.txt", content="x")
    assert result.is_error and "accept_edits" in result.text
    assert (await call(ctx, "read_file", path=".")).text.endswith("use list_dir")  # routine


@pytest.mark.anyio
async def test_a_failing_approver_counts_as_a_denial(tmp_path: Path) -> None:
    class Broken:
        async def approve(self, request: ApprovalRequest) -> object:
            raise ConnectionError("client went away")

    ctx = make_ctx(tmp_path, mode="ask", approver=Broken())
    result = await call(ctx, "terminal", command="touch made")
    assert result.is_error and "client went away" in result.text
    assert not (tmp_path / "made").exists()


@pytest.mark.anyio
async def test_tool_rules_cover_a_whole_tool(tmp_path: Path) -> None:
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(
        tmp_path, mode="ask", allow=("tool:terminal",), deny=("tool:web_fetch",), approver=approver
    )
    assert not (await call(ctx, "terminal", command="echo a > out.txt")).is_error
    fetch = await call(ctx, "web_fetch", url="http://127.0.0.1:9/")
    assert fetch.is_error and "deny rule 'tool:web_fetch'" in fetch.text
    assert approver.requests == []


@pytest.mark.anyio
async def test_bad_path_strings_are_clean_errors(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    for raw in ["", "a\0b"]:
        result = await call(ctx, "read_file", path=raw)
        assert result.is_error and result.text == "empty or invalid path"


@pytest.mark.anyio
async def test_allow_rules_do_not_match_substitutions_inside_double_quotes(
    tmp_path: Path,
) -> None:
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(tmp_path, mode="ask", allow=("terminal:echo *",), approver=approver)
    result = await call(ctx, "terminal", command='echo "$(touch PWNED; echo hi)"')
    assert result.is_error and "not approved" in result.text
    assert len(approver.requests) == 1 and not (tmp_path / "PWNED").exists()
    assert not (await call(ctx, "terminal", command="echo 'plain'")).is_error
    assert len(approver.requests) == 1  # the plain echo matched the rule


def test_changes_directory() -> None:
    for command in ["cd x", "ls && cd ~", "FOO=1 cd x", "if cd x; then ls; fi", "pushd /"]:
        assert changes_directory(command), command
    assert changes_directory("sh -c 'cd; cat .aws/credentials'")
    for command in ["ls cd", "echo cd", "git status", "abcd x"]:
        assert not changes_directory(command), command


@pytest.mark.anyio
async def test_unverifiable_commands_go_to_the_approver_when_paths_are_denied(
    tmp_path: Path,
) -> None:
    root, home = tmp_path / "ws", tmp_path / "home"
    root.mkdir()
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = TOPSECRET_VALUE\n")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    deny = (f"read:{home}/.aws",)
    commands = [
        "cat $HOME/.aws/credentials",
        "cd ~ && cat .aws/credentials",
        "cat ~/.a${u}ws/credentials",
        "sh -c 'cd; cat .aws/credentials'",
    ]
    for mode in ("auto", "ask"):
        ctx = make_ctx(
            root, mode=mode, deny=deny, approver=NonInteractiveApprover(), terminal_env=env
        )
        for command in commands:
            result = await call(ctx, "terminal", command=command)
            assert result.is_error and "TOPSECRET_VALUE" not in result.text, (mode, command)
            assert "cannot be checked against deny rules" in result.text, (mode, command)
    approver = RecordingApprover(allowed=False)
    ctx = make_ctx(root, mode="auto", deny=deny, approver=approver, terminal_env=env)
    await call(ctx, "terminal", command=commands[0])
    assert approver.requests[0].risk == (
        "runs a shell command (not sandboxed); the command cannot be checked against "
        "deny rules: it uses parameter expansion ($HOME)"
    )
    direct = await call(ctx, "terminal", command=f"sh -c 'cat {home}/.aws/credentials'")
    assert direct.is_error and "covered by deny rule" in direct.text
    assert not (await call(ctx, "terminal", command="ls > listing.txt 2>&1")).is_error
    assert len(approver.requests) == 1
    # without path deny rules, auto mode runs such commands as before
    free = make_ctx(root, mode="auto", approver=approver, terminal_env=env)
    assert (await call(free, "terminal", command="echo $HOME")).text.startswith(str(home))
    assert len(approver.requests) == 1
