"""The README's install line, run as written from a copy of the repository into a
temporary uv tool directory; then every command the project declares works from another
directory, with its bytecode compiled (issue 18's Must show).

uv resolves the project's dependencies against the package index here (its cache makes
it a few seconds), so this test leaves 127.0.0.1: the suite deselects it by default
(``pyproject.toml``); ``./scripts/test -m package_index`` runs it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from hermes_mcp import __version__

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "*.pyc"
)


def readme_install_line() -> list[str]:
    """The command of the README's Install section that installs from a clone."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    for line in re.findall(r"^(python3 -m uv tool install .*)$", section, re.M):
        return shlex.split(line.split("#", 1)[0])
    raise AssertionError("the README's Install section has no `python3 -m uv tool install`")


@pytest.mark.package_index
def test_the_readme_install_line_puts_every_command_on_path(tmp_path: Path) -> None:
    clone = tmp_path / "hermes-mcp"
    shutil.copytree(ROOT, clone, ignore=IGNORED)
    tools, bin_dir, elsewhere = tmp_path / "tools", tmp_path / "bin", tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The shell the README means: not this test run's virtualenv (`python3` is then the
    # one `./scripts/test` ran, which has uv).
    venv_bin = str(Path(os.environ["VIRTUAL_ENV"]) / "bin") if "VIRTUAL_ENV" in os.environ else None
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    env["PATH"] = path
    env |= {"UV_TOOL_DIR": str(tools), "UV_TOOL_BIN_DIR": str(bin_dir), "NO_COLOR": "1"}
    line = readme_install_line()
    assert "--compile-bytecode" in line
    installed = subprocess.run(
        line, cwd=clone, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert installed.returncode == 0, installed.stderr

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "hermes-mcp" in scripts
    run_env = {
        **env,
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HERMES_MCP_HOME": str(tmp_path),
    }
    for script in scripts:
        assert (bin_dir / script).exists(), f"{script} was not installed"
    ran = subprocess.run(
        ["hermes-mcp", "--version"], cwd=elsewhere, env=run_env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (ran.returncode, ran.stdout) == (0, f"hermes-mcp {__version__}\n"), ran.stderr
    # Bytecode is there: a host's every start need not compile the package again.
    compiled = list(tools.glob("*/lib/python*/site-packages/hermes_mcp/__pycache__/cli.*.pyc"))
    assert compiled, "no compiled bytecode for hermes_mcp/cli.py in the tool's environment"
