"""The import layering of the whole tree: imports point downward only.

    base (errors, config, credentials, log, stdio_guard, state/)
      → llm/ and tools/ (side by side: neither imports the other)
        → agent/
          → runtime.py
            → the edges (mcp_server/, acp_adapter/, mcp_client/)
              → the entry points (cli, cli_sessions, doctor, tty_approver)

Besides: production code never imports ``hermes_mcp.testing``; nothing below the entry
points imports an edge (an edge may use the MCP client, which is a client library);
``llm/``, ``tools/`` and ``agent/`` never import the ``mcp`` or ``acp`` SDKs; inside a
package, no modules import each other in a circle. Every import counts, wherever it sits
(inside a function, under ``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE, LOWER, AGENT, RUNTIME, EDGE, ENTRY = range(6)
EDGES = ("hermes_mcp.mcp_server", "acp_adapter", "hermes_mcp.mcp_client")
ENTRY_POINTS = (
    "hermes_mcp.cli",
    "hermes_mcp.cli_sessions",
    "hermes_mcp.cli_skills",
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


def _child(package: str, module: str) -> str | None:
    """The module or subpackage directly inside ``package`` that ``module`` is, or is
    within (``None``: outside it, or the package itself)."""
    if not module.startswith(package + "."):
        return None
    return f"{package}.{module[len(package) + 1 :].split('.')[0]}"


def package_graphs() -> dict[str, dict[str, set[str]]]:
    """For each package of ours: what each module (or subpackage, as one) directly inside
    it imports from the others directly inside it. The package's own ``__init__`` is
    left out (importing a submodule runs it anyway)."""
    files = production_files()
    packages = {module_of(f) for f in files if f.name == "__init__.py"}
    graphs: dict[str, dict[str, set[str]]] = {package: {} for package in packages}
    for path in files:
        me = module_of(path)
        found = imports(path)
        for package, graph in graphs.items():
            mine = _child(package, me)
            if mine is None:
                continue
            edges = graph.setdefault(mine, set())
            for target in found:
                theirs = _child(package, target)
                if theirs is not None and theirs != mine and known(theirs):
                    edges.add(theirs)
    return graphs


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles of one package: at least one through each module that is in one,
    found from the circle's smallest module name."""
    found: list[list[str]] = []
    for start in sorted(graph):
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target in sorted(graph.get(node, ())):
                if target == start:
                    found.append(path)
                elif target > start and target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    return found


def test_no_import_circle_inside_a_package() -> None:
    """Inside every package, its modules' imports (every import, wherever it sits) form
    no circle: each module can be read after the ones it uses."""
    problems = [
        " → ".join([*circle, circle[0]])
        for graph in package_graphs().values()
        for circle in cycles(graph)
    ]
    assert problems == []


def test_the_circle_check_sees_a_circle() -> None:
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]
    assert cycles({"p.a": {"p.b"}, "p.b": set()}) == []
    assert _child("hermes_mcp.llm", "hermes_mcp.llm.wires.openai") == "hermes_mcp.llm.wires"
    assert _child("hermes_mcp.llm", "hermes_mcp.llm") is None
