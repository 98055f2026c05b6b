"""``registry.json`` and ``icon.svg`` against the ACP registry's rules, pinned to our PyPI
distribution (``hermes-mcp-acp``: ``hermes-mcp`` and ``hermes-acp`` belong to others),
and the ``initialize`` answer the registry checks (an auth method of type terminal)."""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hermes_mcp import __version__

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def test_registry_entry_follows_the_rules_and_pins_our_distribution() -> None:
    entry = json.loads((ROOT / "registry.json").read_text())
    project = pyproject()
    assert {"id", "name", "version", "description", "distribution"} <= set(entry)
    assert re.fullmatch(r"[a-z][a-z0-9-]*", entry["id"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"])
    assert entry["version"] == project["version"] == __version__
    assert entry["license"] == project["license"]
    assert entry["repository"].startswith("https://")
    assert set(entry["distribution"]) <= {"binary", "npx", "uvx"} and entry["distribution"]
    uvx = entry["distribution"]["uvx"]
    assert project["name"] == "hermes-mcp-acp"
    assert uvx["package"] == f"hermes-mcp-acp=={project['version']}"  # pinned, equal to version
    assert uvx["cmd"] == "hermes-acp" and "hermes-acp" in project["scripts"]
    assert project["scripts"]["hermes-acp"] == "acp_adapter.main:main"
    assert "hermes-mcp" in project["scripts"]


def test_icon_is_16_by_16_and_monochrome_in_current_color() -> None:
    root = ET.fromstring((ROOT / "icon.svg").read_text())
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("16", "16", "0 0 16 16")
    colours: set[str] = set()
    for element in root.iter():
        tag = element.tag.removeprefix(SVG)
        assert tag not in {"image", "linearGradient", "radialGradient", "pattern", "style"}, tag
        for attr in ("fill", "stroke", "color", "stop-color"):
            if attr in element.attrib:
                colours.add(element.attrib[attr])
        assert "style" not in element.attrib or "#" not in element.attrib["style"]
    assert "currentColor" in colours and colours <= {"currentColor", "none"}
