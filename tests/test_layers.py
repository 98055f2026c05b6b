"""The import layering of the whole tree: imports point downward only.

    base (errors, config, credentials, log, stdio_guard, state/)
      → llm/ and tools/ (side by side: neither imports the other)
        → agent/
          → runtime.py
            → the edges (mcp_server/, acp_adapter/, mcp_client/)
              → the entry points (cli, cli_sessions, doctor, tty_approver)

Besides: production code never imports ``hermes_mcp.testing``; nothing below the entry
points imports an edge (an edge may use the MCP client, which is a client library);
``llm/``, ``tools/`` and ``agent/`` never import the ``mcp`` or ``acp`` SDKs. Every import
counts, wherever it sits (inside a function, under ``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE, LOWER, AGENT, RUNTIME, EDGE, ENTRY = range(6)
EDGES = ("hermes_mcp.mcp_server", "acp_adapter", "hermes_mcp.mcp_client")
ENTRY_POINTS = (
    "hermes_mcp.cli",
    "hermes_mcp.cli_sessions",
    "hermes_mcp.doctor",
    "hermes_mcp.tty_approver",  # the command line's approver (run on a terminal)
)
SDKS = ("mcp", "acp")


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer(module: str) -> int | None:
    """A module's layer (``None``: not ours, or the test helpers)."""
    if _within(module, "hermes_mcp.testing"):
        return None
    if any(_within(module, e) for e in EDGES):
        return EDGE
    if any(_within(module, e) for e in ENTRY_POINTS) or module == "hermes_mcp.__main__":
        return ENTRY
    if _within(module, "hermes_mcp.runtime"):
        return RUNTIME
    if _within(module, "hermes_mcp.agent"):
        return AGENT
    if _within(module, "hermes_mcp.llm") or _within(module, "tools"):
        return LOWER
    if _within(module, "hermes_mcp"):
        return BASE
    return None


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved."""
    module = module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            # ``from hermes_mcp.agent import engine``: the submodule counts too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def production_files() -> list[Path]:
    files: list[Path] = []
    for top in ("hermes_mcp", "tools", "acp_adapter"):
        files += sorted((ROOT / top).rglob("*.py"))
    return [f for f in files if not _within(module_of(f), "hermes_mcp.testing")]


def known(module: str) -> bool:
    """Whether ``module`` names a module or package of ours (not an attribute)."""
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_imports_point_downward_only() -> None:
    problems: list[str] = []
    for path in production_files():
        me = module_of(path)
        mine = layer(me)
        assert mine is not None, me
        for target in sorted(imports(path)):
            if not known(target):
                continue
            if _within(target, "hermes_mcp.testing"):
                problems.append(f"{me} imports the test helpers ({target})")
                continue
            theirs = layer(target)
            if theirs is None:
                continue
            if theirs > mine:
                problems.append(f"{me} (layer {mine}) imports {target} (layer {theirs})")
            if theirs == EDGE and mine == EDGE:
                same = next(e for e in EDGES if _within(me, e))
                if not _within(target, same) and not _within(target, "hermes_mcp.mcp_client"):
                    problems.append(f"{me} imports another edge ({target})")
            if mine == LOWER and theirs == LOWER and me.split(".")[0] != target.split(".")[0]:
                problems.append(f"{me} imports {target}: llm/ and tools/ stay apart")
            if me.startswith("hermes_mcp.llm") and target.startswith("tools"):
                problems.append(f"{me} imports {target}")
    assert problems == []


def test_the_core_never_imports_a_protocol_sdk() -> None:
    problems: list[str] = []
    for path in production_files():
        me = module_of(path)
        if layer(me) not in (LOWER, AGENT):
            continue
        for target in imports(path):
            if target.split(".")[0] in SDKS:
                problems.append(f"{me} imports {target}")
    assert problems == []


def test_the_layer_check_sees_a_violation() -> None:
    """The checker itself: an upward import, a relative one, and the test helpers."""
    assert layer("hermes_mcp.agent.engine") == AGENT
    assert layer("hermes_mcp.runtime") == RUNTIME
    assert layer("tools.backends.local") == LOWER
    assert layer("acp_adapter.server") == EDGE
    assert layer("hermes_mcp.testing.scripted") is None
    assert known("hermes_mcp.agent.engine") and not known("hermes_mcp.agent.engine.run_turn")
    engine = ROOT / "hermes_mcp" / "agent" / "engine.py"
    assert "hermes_mcp.agent.session" in imports(engine)
