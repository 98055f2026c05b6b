"""Shared fixtures: anyio on asyncio (the ACP SDK is asyncio-only), and the suite-wide
secret check: every test's captured stdout, stderr and logs are searched for the test
secrets (tests/keys.py); a test that leaks one fails."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from tests.keys import SEEN, leaked


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    found = sorted({s for _name, text in report.sections for s in leaked(text)})
    if call.when == "teardown":
        found += sorted({s for text in SEEN for s in leaked(text)})
        SEEN.clear()
    if found and report.passed:
        report.outcome = "failed"
        report.longrepr = f"secret leaked into captured output: {len(found)} secret(s)"
