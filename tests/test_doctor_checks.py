"""`doctor` runs every check `run` runs (the agent's toolsets, the policy's rules, the
providers) and checks the database itself (PRAGMA quick_check, the schema's tables);
a configuration error exits 2. The state is private to its user (0700 / 0600)."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from hermes_mcp.state import open_database
from tests.keys import KEY_A
from tests.routing import Home, hermes


def configure(home: Home, extra: str = "") -> None:
    home.write({"primary": {"url": "http://127.0.0.1:9/v1", "keys": [KEY_A]}}, "primary:gpt-4o")
    if extra:
        path = home.path / "config.toml"
        path.write_text(path.read_text() + extra)


REJECTED = [
    ("a policy rule run rejects", '\n[policy]\nallow = ["nope"]\n', "policy.allow[0]"),
    ("a toolset run rejects", '\n[agent]\ntoolsets = ["termnal"]\n', "agent.toolsets"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "extra", "key"), REJECTED, ids=[r[0] for r in REJECTED])
async def test_doctor_rejects_what_run_rejects_with_exit_2(
    tmp_path: Path, name: str, extra: str, key: str
) -> None:
    home = Home(tmp_path)
    configure(home, extra)
    run = await hermes(home, "run", "hi")
    assert run.code == 2
    ran = await hermes(home, "doctor", "--json")
    assert ran.code == 2, ran.stdout
    failed = [c for c in json.loads(ran.stdout) if not c["ok"]]
    assert failed and key in failed[-1]["detail"]


@pytest.mark.anyio
async def test_doctor_exits_2_without_a_model_section(tmp_path: Path) -> None:
    home = Home(tmp_path)
    configure(home)
    path = tmp_path / "config.toml"
    text = path.read_text()
    path.write_text(text[text.index("[providers") :])  # providers, but no [model]
    ran = await hermes(home, "doctor")
    assert ran.code == 2, ran.stdout
    assert "ok    config" not in ran.stdout
    assert "no [model] section" in ran.stdout


@pytest.mark.anyio
async def test_doctor_finds_a_dropped_fts_table(tmp_path: Path) -> None:
    home = Home(tmp_path)
    configure(home)
    db = open_database(tmp_path / "state.db")
    db.close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute("DROP TABLE messages_fts")
    ran = await hermes(home, "doctor")
    assert ran.code == 1, ran.stdout
    assert "table messages_fts is missing" in ran.stdout


@pytest.mark.anyio
async def test_doctor_finds_corrupted_pages(tmp_path: Path) -> None:
    home = Home(tmp_path)
    configure(home)
    path = tmp_path / "state.db"
    db = open_database(path)
    with db.write() as conn:
        conn.execute("CREATE TABLE filler (x TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("y" * 300,) for _ in range(300)])
        conn.execute("CREATE INDEX filler_x ON filler(x)")
    db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    data = bytearray(path.read_bytes())
    for n in range(pages // 2, pages - 1):  # garble the b-tree headers of the later pages
        data[n * page : n * page + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    ran = await hermes(home, "doctor")
    assert ran.code == 1, ran.stdout
    assert "FAIL  state" in ran.stdout


def test_the_state_directory_and_database_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    open_database(home / "state.db").close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        file = home / name
        if file.exists():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, name
    # An existing database left world-readable by an older version is tightened.
    (home / "state.db").chmod(0o644)
    open_database(home / "state.db").close()
    assert stat.S_IMODE((home / "state.db").stat().st_mode) == 0o600


@pytest.mark.anyio
async def test_an_unused_providers_missing_credential_warns_and_doctor_reports_it(
    tmp_path: Path,
) -> None:
    from hermes_mcp.testing import FakeProvider, reply

    with FakeProvider() as fake:
        fake.set_default(KEY_A, reply("fine"))
        home = Home(tmp_path)
        home.write(
            {
                "primary": {"url": fake.openai_base_url, "keys": [KEY_A]},
                "spare": {"url": fake.openai_base_url, "keys": ["sk-unused-000000000000000000"]},
            },
            "primary:gpt-4o",
        )
        home.env.pop("HERMES_TEST_SPARE_0")  # referenced, but not set
        ran = await hermes(home, "ask", "hi")
        assert (ran.code, ran.stdout) == (0, "fine\n")
        assert "config.credential_unusable" in ran.stderr
        assert "providers.spare.credentials[0]" in ran.stderr
        doctor = await hermes(home, "doctor")
        assert doctor.code == 1
        assert "FAIL  config" in doctor.stdout and "HERMES_TEST_SPARE_0 is not set" in doctor.stdout
