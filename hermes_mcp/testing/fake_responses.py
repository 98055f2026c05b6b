"""OpenAI Responses API rendering for the fake provider: ``POST /v1/responses``.

Failures are the chat dialect's (the same OpenAI error objects). How the steps look:

* ``reply``: a ``response`` object, ``status: "completed"`` (``"incomplete"`` with
  ``incomplete_details.reason: "max_output_tokens"`` for ``length``); ``output``: a
  ``reasoning`` item with a summary and ``encrypted_content`` when the step has thinking
  (and the request asked for ``reasoning.encrypted_content``), a ``message`` item with
  one ``output_text`` part when there is text, one ``function_call`` item per call;
  usage ``input_tokens`` (with ``input_tokens_details.cached_tokens``) and
  ``output_tokens`` (``output_tokens_details.reasoning_tokens``).
* streaming: ``response.created``, then per item ``response.output_item.added``, its
  deltas (``response.reasoning_summary_text.delta``, ``response.output_text.delta``
  per piece, ``response.function_call_arguments.delta``) and
  ``response.output_item.done``, then ``response.completed`` holding the whole response;
  no ``[DONE]``. The in-stream error is a ``response.failed`` event (``server_error``).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from collections.abc import Mapping
from typing import Any

from .fake_dialect import Parsed, Rendered, RequestInfo, SSEEvent, StreamPlan, dumps, json_rendered
from .fake_openai import OpenAIDialect, text_pieces
from .fake_steps import Reply, Stream

DEFAULT_MODEL = "gpt-fake"


def encrypted(text: str) -> str:
    """An opaque stand-in for OpenAI's encrypted reasoning (stable for the same text)."""
    return "gAAAAA" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


class ResponsesDialect(OpenAIDialect):
    name = "responses"

    def __init__(self) -> None:
        super().__init__()
        self._rids = itertools.count(1)

    def parse(self, body: Mapping[str, Any] | None, match_info: Mapping[str, str]) -> Parsed:
        if body is None:
            return Parsed(None, False)
        model = body.get("model")
        return Parsed(model if isinstance(model, str) else None, body.get("stream") is True, True)

    def _items(self, reply: Reply, req: RequestInfo) -> list[dict[str, Any]]:
        n = next(self._rids)
        items: list[dict[str, Any]] = []
        include = (req.body or {}).get("include") or ()
        if reply.thinking:
            item: dict[str, Any] = {
                "id": f"rs_fake{n}",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": reply.thinking}],
            }
            if "reasoning.encrypted_content" in include:
                item["encrypted_content"] = encrypted(reply.thinking)
            items.append(item)
        if reply.text:
            items.append(
                {
                    "id": f"msg_fake{n}",
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
                }
            )
        items += [
            {
                "type": "function_call",
                "id": f"fc_fake{n}_{i}",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "status": "completed",
            }
            for i, call in enumerate(reply.tool_calls)
        ]
        return items

    def _response(
        self, reply: Reply, req: RequestInfo, output: list[dict[str, Any]]
    ) -> dict[str, Any]:
        length = reply.finish_reason == "length"
        usage = reply.usage
        return {
            "id": f"resp_fake{next(self._ids)}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "incomplete" if length else "completed",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if length else None,
            "model": reply.model or req.model or DEFAULT_MODEL,
            "output": output,
            "store": False,
            "usage": {
                "input_tokens": usage.input_tokens,
                "input_tokens_details": {"cached_tokens": usage.cached_tokens},
                "output_tokens": usage.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage.input_tokens + usage.output_tokens,
            },
        }

    def render_reply(self, reply: Reply, req: RequestInfo) -> Rendered:
        return json_rendered(200, self._response(reply, req, self._items(reply, req)))

    def stream_plan(self, step: Stream, req: RequestInfo) -> StreamPlan:
        reply = step.reply
        items = self._items(reply, req)
        seq = itertools.count()

        def event(kind: str, **fields: Any) -> SSEEvent:
            return SSEEvent(dumps({"type": kind, "sequence_number": next(seq), **fields}), kind)

        plan = StreamPlan()
        created = self._response(reply, req, [])
        created["status"] = "in_progress"
        plan.content.append(event("response.created", response=created))
        for index, item in enumerate(items):
            kind = item["type"]
            opened = {**item}
            if kind == "reasoning":
                opened["summary"] = []
            elif kind == "message":
                opened["content"] = []
            elif kind == "function_call":
                opened["arguments"] = ""
            plan.content.append(
                event("response.output_item.added", output_index=index, item=opened)
            )
            if kind == "reasoning":
                text = item["summary"][0]["text"]
                plan.content.append(
                    event(
                        "response.reasoning_summary_text.delta",
                        item_id=item["id"],
                        output_index=index,
                        summary_index=0,
                        delta=text,
                    )
                )
            elif kind == "message":
                for piece in text_pieces(reply.text, step.chunks, step.chunk_size):
                    plan.content.append(
                        event(
                            "response.output_text.delta",
                            item_id=item["id"],
                            output_index=index,
                            content_index=0,
                            delta=piece,
                        )
                    )
            else:
                plan.content.append(
                    event(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=item["arguments"],
                    )
                )
            plan.content.append(event("response.output_item.done", output_index=index, item=item))
        final = self._response(reply, req, items)
        done = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        plan.tail.append(event(done, response=final))
        return plan

    def stream_error_event(self, req: RequestInfo) -> SSEEvent:
        failed = {
            "type": "response.failed",
            "sequence_number": 99,
            "response": {
                "id": "resp_failed",
                "object": "response",
                "status": "failed",
                "error": {
                    "code": "server_error",
                    "message": "The server had an error while processing your request.",
                },
                "output": [],
            },
        }
        return SSEEvent(dumps(failed), "response.failed")
