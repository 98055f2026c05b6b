"""The secrets every test config uses. conftest.py fails any test whose captured stdout,
stderr or log output contains one of them, so the whole suite proves that no secret
reaches a log line, an error, or command output."""

from __future__ import annotations

KEY_A = "sk-test-alpha-0123456789abcdefABCDEF"
KEY_B = "sk-test-bravo-0123456789abcdefABCDEF"
KEY_C = "sk-test-charlie-0123456789abcdefABCD"
KEY_D = "sk-test-delta-0123456789abcdefABCDEF"
FALLBACK_KEY = "fb-test-echo-0123456789abcdefABCDEF"
LITERAL_KEY = "lit-test-foxtrot-0123456789abcdefAB"

ALL = (KEY_A, KEY_B, KEY_C, KEY_D, FALLBACK_KEY, LITERAL_KEY)


# Output of subprocesses and servers the tests ran; conftest.py checks and clears it after
# every test.
SEEN: list[str] = []


def seen(text: str) -> str:
    SEEN.append(text)
    return text


def leaked(text: str) -> list[str]:
    return [s for s in ALL if s in text]
