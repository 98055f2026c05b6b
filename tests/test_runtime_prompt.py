"""Must show (issue 12): prompts with parts go turn → store → history → wire; images
only to a model whose profile says vision, otherwise left out with the reason in
``turn_end.message``; replay describes the parts."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hermes_mcp.agent.engine import NO_VISION
from hermes_mcp.agent.events import UserMessage
from hermes_mcp.agent.prompt import ImagePart, ResourceLink, ResourcePart, TextPart
from hermes_mcp.testing import FakeProvider, reply
from tests.agent_helpers import new_home, new_workspace
from tests.keys import KEY_A
from tests.routing import Home
from tests.runtime_helpers import runtime_for

PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n-not-really-a-png").decode()
PROMPT = (
    TextPart("what is in the picture?"),
    ImagePart("image/png", PIXEL, "file:///tmp/shot.png"),
    ResourcePart("file:///w/notes.txt", "the notes say hi", "text/plain"),
    ResourceLink("file:///w/hello.py", "hello.py"),
)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


def configure(home: Home, fake: FakeProvider, *, vision: bool) -> None:
    models = {"gpt-4o": {"vision": vision}}
    home.write(
        {"primary": {"url": fake.openai_base_url, "keys": [KEY_A], "models": models}},
        "primary:gpt-4o",
    )


def user_content(body: dict[str, Any] | None) -> Any:
    assert body is not None
    return next(m for m in body["messages"] if m["role"] == "user")["content"]


@pytest.mark.anyio
async def test_a_prompt_with_parts_reaches_a_vision_model_and_its_next_turn(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, vision=True)
    fake.script(KEY_A, reply("a pixel"), reply("still a pixel"))
    async with runtime_for(home) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(30):
            first = await session.run(PROMPT)
            second = await session.run("and now?")
            replayed = [e async for e in session.replay()]
        await session.close()
    assert first.message is None and second.stop_reason == "end_turn"
    for request in fake.requests:  # the history sends the image again
        content = user_content(request.body)
        assert isinstance(content, list)
        text = " ".join(c.get("text", "") for c in content)
        assert "what is in the picture?" in text and "the notes say hi" in text
        assert '<resource uri="file:///w/notes.txt"' in text and "hello.py" in text
        urls = [c["image_url"]["url"] for c in content if c["type"] == "image_url"]
        assert urls == [f"data:image/png;base64,{PIXEL}"]
    user = [e for e in replayed if isinstance(e, UserMessage)]
    assert user[0].parts == (
        {"type": "image", "media_type": "image/png", "uri": "file:///tmp/shot.png"},
        {"type": "resource", "uri": "file:///w/notes.txt", "mime_type": "text/plain"},
        {"type": "resource_link", "uri": "file:///w/hello.py", "name": "hello.py"},
    )
    assert "the notes say hi" in user[0].text and user[1].text == "and now?"


@pytest.mark.anyio
async def test_images_are_left_out_for_a_model_without_vision_and_the_turn_says_so(
    tmp_path: Path, fake: FakeProvider
) -> None:
    home, ws = new_home(tmp_path), new_workspace(tmp_path)
    configure(home, fake, vision=False)
    fake.script(KEY_A, reply("I read the text"))
    async with runtime_for(home) as rt:
        session = await rt.create_session(ws, mode="auto")
        with anyio.fail_after(30):
            end = await session.run(PROMPT)
        await session.close()
    assert end.stop_reason == "end_turn" and end.message == NO_VISION
    content = user_content(fake.requests[0].body)
    text = content if isinstance(content, str) else str(content)
    assert "the notes say hi" in text and PIXEL not in text
