"""Gemini ``generateContent`` rendering for the fake provider, and Vertex AI's variant.

Routes: ``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``
(also under ``/v1``), credential ``x-goog-api-key``; Vertex:
``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...``
(also ``/v1beta1``), credential ``Authorization: Bearer <token from the fake's /token>``.
``:streamGenerateContent?alt=sse`` streams server-sent events; without ``alt=sse`` it answers
one JSON array (errors too, wrapped in an array, as Google does).

Refused before any scripted step is taken (see ``fp.rejections``): a ``key=`` query parameter
(400: clients must never put the key in the URL), no credential (Gemini 403
``PERMISSION_DENIED``, Vertex 401 ``UNAUTHENTICATED``), and on Vertex a bearer token the fake
did not issue or that expired (401 ``UNAUTHENTICATED``).

How the format-neutral steps look (errors are ``google.rpc.Status`` objects, pretty-printed):

* ``reply``: one candidate, parts ``{"text", "thought": true}`` (thinking), ``{"text"}``,
  ``{"functionCall": {"name", "args"}}`` (the first carries a ``thoughtSignature`` when there
  is thinking). ``finishReason``: ``STOP`` (tool calls too, as Gemini does), ``MAX_TOKENS``
  for ``length``. ``promptTokenCount`` includes the cached tokens, ``cachedContentTokenCount``
  only when non-zero, no ``[DONE]`` when streaming.
* streaming: one full ``GenerateContentResponse`` per text / thought piece, one per function
  call (whole), then a last chunk with ``finishReason`` and the full ``usageMetadata``; the
  in-stream error is ``data: {"error": {...503 UNAVAILABLE...}}`` and the stream closes.
* ``rate_limited``: 429 ``RESOURCE_EXHAUSTED`` with ``QuotaFailure``
  (``GenerateRequestsPerMinutePerProjectPerModel-FreeTier``), ``Help`` and ``RetryInfo``
  (``retryDelay`` from the step, default ``14s``); no ``Retry-After`` header.
* ``daily_quota``: the same with ``GenerateRequestsPerDayPerProjectPerModel-FreeTier`` and, as
  the real API does, ``retryDelay: "59s"`` (unless the step gives a value other than its
  86400 default).
* ``payment_required``: 429 ``RESOURCE_EXHAUSTED`` "Your prepayment credits are depleted..."
  without details (what a prepaid Gemini API project gets: a 429 that is not a rate limit).
* ``unauthorized``: 400 ``INVALID_ARGUMENT`` "API key not valid..." + ``ErrorInfo``
  ``API_KEY_INVALID``; ``permission_denied``: 403 ``PERMISSION_DENIED`` (a key reported as
  leaked); ``server_error``: 503 ``UNAVAILABLE`` (overloaded), 504 ``DEADLINE_EXCEEDED``,
  else ``INTERNAL``; ``context_overflow``: 400 ``INVALID_ARGUMENT`` (input token count);
  ``model_not_found``: 404 ``NOT_FOUND``.

Vertex differs where Vertex does: ``rate_limited`` is the bare "Resource exhausted" 429 (a
``RetryInfo`` only if the step gives ``retry_after``), ``daily_quota`` a per-day quota
message without details, ``payment_required`` 403 ``PERMISSION_DENIED`` ``BILLING_DISABLED``,
``unauthorized`` 401 ``UNAUTHENTICATED``, ``permission_denied`` IAM
``aiplatform.endpoints.predict``, ``model_not_found`` "Publisher Model ... was not found".
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .fake_dialect import (
    Dialect,
    Parsed,
    Rendered,
    RequestInfo,
    SSEEvent,
    StreamPlan,
    retry_after_header,
)
from .fake_openai import text_pieces
from .fake_steps import ErrorIn200, Failure, Malformed, Reply, Stream, ToolCall, Usage
from .fake_token import TokenStatus

GOOGLE_JSON_CT = "application/json; charset=UTF-8"
DEFAULT_MODEL = "gemini-fake"
STREAM_METHOD = "streamGenerateContent"
METHODS = "generateContent|streamGenerateContent"
DEFAULT_RETRY_DELAY_S = 14.0
DAILY_RETRY_DELAY_S = 59.0
DAILY_STEP_DEFAULT_S = 86400.0  # fake_steps.daily_quota's default: "not given" here

QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more"
    " information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    " To monitor your current usage, head to: https://ai.dev/rate-limit. "
)
FREE_TIER_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
PER_MINUTE_QUOTA = ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "5")
PER_DAY_QUOTA = ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "50")
PREPAY_MESSAGE = (
    "Your prepayment credits are depleted. Please go to AI Studio at"
    " https://ai.studio/projects to manage your project and billing."
)
KEY_INVALID_MESSAGE = "API key not valid. Please pass a valid API key."
LEAKED_MESSAGE = "Your API key was reported as leaked. Please use another API key."
NO_CALLER_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity)."
    " Please use API Key or other form of API consumer identity to call this API."
)
KEY_IN_URL_MESSAGE = (
    "fake provider: the API key was sent in the URL (?key=); send it in the x-goog-api-key"
    " header instead."
)
CONTEXT_MESSAGE = (
    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
)
SERVER_ERRORS: dict[int, tuple[str, str]] = {
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in"
        " https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
STREAM_ERROR = {
    "error": {
        "code": 503,
        "message": "The model is overloaded. Please try again later.",
        "status": "UNAVAILABLE",
    }
}
MALFORMED_BODY = '{\n  "candidates": [\n    {\n      "content": {\n        "parts": [\n'

VERTEX_BAD_TOKEN_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login"
    " cookie or other valid authentication credential. See"
    " https://developers.google.com/identity/sign-in/web/devconsole-project."
)
VERTEX_NO_TOKEN_MESSAGE = (
    "Request is missing required authentication credential. Expected OAuth 2 access token,"
    " login cookie or other valid authentication credential. See"
    " https://developers.google.com/identity/sign-in/web/devconsole-project."
)
VERTEX_RATE_MESSAGE = (
    "Resource exhausted. Please try again later. Please refer to"
    " https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
VERTEX_INTERNAL_MESSAGE = "Internal error encountered."

FINISH_REASONS = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}
_TYPE = "type.googleapis.com/google.rpc."
_VERTEX_PATH = re.compile(r"^/[^/]+/projects/([^/]+)/locations/([^/]+)/publishers/google/models/")


def google_json(obj: Any) -> bytes:
    """JSON as Google's front end sends a complete response: indented by two spaces."""
    return json.dumps(obj, indent=2, ensure_ascii=False).encode()


def sse_json(obj: Any) -> str:
    """JSON on one line, as in Gemini's server-sent events."""
    return json.dumps(obj, separators=(",", ": "), ensure_ascii=False)


def duration(seconds: float) -> str:
    """A ``google.protobuf.Duration`` in JSON: ``"14s"``, ``"1.500s"``."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s"


def status_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A ``google.rpc.Status`` error body."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def error_info(reason: str, domain: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    return {"@type": _TYPE + "ErrorInfo", "reason": reason, "domain": domain, "metadata": metadata}


def retry_info(seconds: float) -> dict[str, Any]:
    return {"@type": _TYPE + "RetryInfo", "retryDelay": duration(seconds)}


def function_args(arguments: str) -> Any:
    """A tool call's arguments as a JSON value (the raw text if it is not JSON)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def thought_signature(thinking: str) -> str:
    return base64.b64encode(hashlib.sha256(b"gemini:" + thinking.encode()).digest()).decode()


def _usage(usage: Usage, final: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"promptTokenCount": usage.input_tokens}
    if final:
        out["candidatesTokenCount"] = usage.output_tokens
    out["totalTokenCount"] = usage.input_tokens + (usage.output_tokens if final else 0)
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    out["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": usage.input_tokens}]
    return out


class GeminiDialect(Dialect):
    """Gemini API ``generateContent`` / ``streamGenerateContent`` (Google AI Studio keys)."""

    name = "gemini"
    service = "generativelanguage.googleapis.com"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def parse(self, body: Mapping[str, Any] | None, match_info: Mapping[str, str]) -> Parsed:
        method = match_info.get("method")
        stream = method == STREAM_METHOD and match_info.get("alt") == "sse"
        return Parsed(match_info.get("model"), stream)

    # -- checks before any step ------------------------------------------------------------

    def precheck(
        self,
        req: RequestInfo,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        token_status: Callable[[str | None], TokenStatus],
    ) -> tuple[str, Rendered] | None:
        if "key" in query:
            return "key_in_url", self._error(
                req, status_error(400, "INVALID_ARGUMENT", KEY_IN_URL_MESSAGE)
            )
        return self._check_credential(req, token_status)

    def _check_credential(
        self, req: RequestInfo, token_status: Callable[[str | None], TokenStatus]
    ) -> tuple[str, Rendered] | None:
        if req.key is None:
            body = status_error(403, "PERMISSION_DENIED", NO_CALLER_MESSAGE)
            return "missing_credential", self._error(req, body)
        return None

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _method(req: RequestInfo) -> str:
        return req.path.rpartition(":")[2] or "generateContent"

    def _as_array(self, req: RequestInfo) -> bool:
        """A ``streamGenerateContent`` request without ``alt=sse``: one JSON array."""
        return not req.stream and self._method(req) == STREAM_METHOD

    def _error(
        self, req: RequestInfo, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> Rendered:
        status = int(body["error"]["code"])
        payload: Any = [body] if self._as_array(req) else body
        all_headers = {"Content-Type": GOOGLE_JSON_CT, **(headers or {})}
        return Rendered(status, all_headers, google_json(payload))

    def _model(self, reply: Reply | None, req: RequestInfo) -> str:
        return (reply.model if reply is not None else None) or req.model or DEFAULT_MODEL

    def _response(
        self,
        reply: Reply,
        req: RequestInfo,
        rid: str,
        parts: list[dict[str, Any]] | None,
        final: bool,
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {}
        content: dict[str, Any] = {"role": "model"}
        if parts is not None:
            content = {"parts": parts, "role": "model"}
        candidate["content"] = content
        if final:
            reason = reply.finish_reason
            candidate["finishReason"] = FINISH_REASONS.get(reason, reason)
        candidate["index"] = 0
        return {
            "candidates": [candidate],
            "usageMetadata": _usage(reply.usage, final),
            "modelVersion": self._model(reply, req),
            "responseId": rid,
        }

    def _response_id(self) -> str:
        return f"FakeResponse{next(self._ids):08d}"

    @staticmethod
    def _call_part(call: ToolCall, signature: str | None) -> dict[str, Any]:
        part: dict[str, Any] = {
            "functionCall": {"name": call.name, "args": function_args(call.arguments)}
        }
        if signature is not None:
            part["thoughtSignature"] = signature
        return part

    # -- rendering -------------------------------------------------------------------------

    def render_reply(self, reply: Reply, req: RequestInfo) -> Rendered:
        parts: list[dict[str, Any]] = []
        signature = None
        if reply.thinking is not None:
            parts.append({"text": reply.thinking, "thought": True})
            signature = thought_signature(reply.thinking)
        if reply.text:
            parts.append({"text": reply.text})
        for i, call in enumerate(reply.tool_calls):
            parts.append(self._call_part(call, signature if i == 0 else None))
        body = self._response(reply, req, self._response_id(), parts or None, True)
        payload: Any = [body] if self._as_array(req) else body
        return Rendered(200, {"Content-Type": GOOGLE_JSON_CT}, google_json(payload))

    def render_failure(self, failure: Failure, req: RequestInfo) -> Rendered:
        kind = failure.kind
        model = req.model or DEFAULT_MODEL
        if kind in ("rate_limited", "daily_quota"):
            return self._error(req, self._quota(failure, model))
        if kind == "payment_required":
            return self._error(req, self._payment(req))
        if kind == "unauthorized":
            return self._error(req, self._unauthorized(req))
        if kind == "permission_denied":
            return self._error(req, self._permission_denied(req))
        if kind == "context_overflow":
            return self._error(req, status_error(400, "INVALID_ARGUMENT", CONTEXT_MESSAGE))
        if kind == "model_not_found":
            return self._error(req, status_error(404, "NOT_FOUND", self._not_found(req)))
        status = failure.status
        headers = retry_after_header(failure.retry_after)
        if status >= 500:
            rpc, message = self._server_error(status)
            return self._error(req, status_error(status, rpc, message), headers)
        return self._error(req, status_error(status, "FAILED_PRECONDITION", "Request failed."))

    def _quota(self, failure: Failure, model: str) -> dict[str, Any]:
        daily = failure.kind == "daily_quota"
        quota_id, limit = PER_DAY_QUOTA if daily else PER_MINUTE_QUOTA
        retry = failure.retry_after
        if daily and (retry is None or retry == DAILY_STEP_DEFAULT_S):
            retry = DAILY_RETRY_DELAY_S
        elif retry is None:
            retry = DEFAULT_RETRY_DELAY_S
        message = (
            f"{QUOTA_MESSAGE}\n* Quota exceeded for metric: {FREE_TIER_METRIC}, limit: {limit},"
            f" model: {model}\nPlease retry in {duration(retry)}."
        )
        violation = {
            "quotaMetric": FREE_TIER_METRIC,
            "quotaId": quota_id,
            "quotaDimensions": {"location": "global", "model": model},
            "quotaValue": limit,
        }
        details = [
            {"@type": _TYPE + "QuotaFailure", "violations": [violation]},
            {
                "@type": _TYPE + "Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            retry_info(retry),
        ]
        return status_error(429, "RESOURCE_EXHAUSTED", message, details)

    def _payment(self, req: RequestInfo) -> dict[str, Any]:
        return status_error(429, "RESOURCE_EXHAUSTED", PREPAY_MESSAGE)

    def _unauthorized(self, req: RequestInfo) -> dict[str, Any]:
        details = [
            error_info("API_KEY_INVALID", "googleapis.com", {"service": self.service}),
            {
                "@type": _TYPE + "LocalizedMessage",
                "locale": "en-US",
                "message": KEY_INVALID_MESSAGE,
            },
        ]
        return status_error(400, "INVALID_ARGUMENT", KEY_INVALID_MESSAGE, details)

    def _permission_denied(self, req: RequestInfo) -> dict[str, Any]:
        return status_error(403, "PERMISSION_DENIED", LEAKED_MESSAGE)

    def _not_found(self, req: RequestInfo) -> str:
        version = req.path.split("/")[1] if req.path.count("/") > 1 else "v1beta"
        return (
            f"models/{req.model or DEFAULT_MODEL} is not found for API version {version}, or is"
            f" not supported for {self._method(req)}. Call ListModels to see the list of"
            " available models and their supported methods."
        )

    def _server_error(self, status: int) -> tuple[str, str]:
        return SERVER_ERRORS.get(status, SERVER_ERRORS[500])

    def render_error_in_200(self, step: ErrorIn200, req: RequestInfo) -> Rendered:
        code = step.code if isinstance(step.code, int) else 500
        status = step.code if isinstance(step.code, str) else "INTERNAL"
        body = status_error(code, status, step.message)
        payload: Any = [body] if self._as_array(req) else body
        return Rendered(200, {"Content-Type": GOOGLE_JSON_CT}, google_json(payload))

    def malformed_body(self, step: Malformed) -> str:
        return MALFORMED_BODY

    def stream_plan(self, step: Stream, req: RequestInfo) -> StreamPlan:
        reply = step.reply
        rid = self._response_id()
        plan = StreamPlan()

        def chunk(part: dict[str, Any]) -> SSEEvent:
            return SSEEvent(sse_json(self._response(reply, req, rid, [part], False)))

        signature = None
        if reply.thinking is not None:
            signature = thought_signature(reply.thinking)
            for piece in text_pieces(reply.thinking, None, step.chunk_size):
                plan.content.append(chunk({"text": piece, "thought": True}))
        for piece in text_pieces(reply.text, step.chunks, step.chunk_size):
            plan.content.append(chunk({"text": piece}))
        for i, call in enumerate(reply.tool_calls):
            plan.content.append(chunk(self._call_part(call, signature if i == 0 else None)))
        last = self._response(reply, req, rid, [{"text": ""}], True)
        plan.tail.append(SSEEvent(sse_json(last)))
        return plan

    def stream_error_event(self, req: RequestInfo) -> SSEEvent:
        return SSEEvent(sse_json(STREAM_ERROR))


class VertexDialect(GeminiDialect):
    """Vertex AI ``publishers/google/models/*:generateContent``: Gemini's format, OAuth."""

    name = "vertex"
    service = "aiplatform.googleapis.com"

    def _check_credential(
        self, req: RequestInfo, token_status: Callable[[str | None], TokenStatus]
    ) -> tuple[str, Rendered] | None:
        if req.key is None:
            body = status_error(401, "UNAUTHENTICATED", VERTEX_NO_TOKEN_MESSAGE)
            body["error"]["details"] = [
                error_info("CREDENTIALS_MISSING", "googleapis.com", self._rpc_metadata(req))
            ]
            return "missing_credential", self._error(req, body)
        status = token_status(req.key)
        if status == "valid":
            return None
        reason = "ACCESS_TOKEN_EXPIRED" if status == "expired" else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
        return f"{status}_token", self._error(req, self._bad_token(req, reason))

    def _rpc_metadata(self, req: RequestInfo) -> dict[str, str]:
        method = self._method(req)
        rpc = "google.cloud.aiplatform.v1.PredictionService." + method[:1].upper() + method[1:]
        return {"service": self.service, "method": rpc}

    def _bad_token(self, req: RequestInfo, reason: str) -> dict[str, Any]:
        body = status_error(401, "UNAUTHENTICATED", VERTEX_BAD_TOKEN_MESSAGE)
        body["error"]["details"] = [error_info(reason, "googleapis.com", self._rpc_metadata(req))]
        return body

    def _resource(self, req: RequestInfo) -> tuple[str, str, str]:
        match = _VERTEX_PATH.match(req.path)
        project, location = match.groups() if match else ("fake-project", "us-central1")
        return project, location, req.model or DEFAULT_MODEL

    def _quota(self, failure: Failure, model: str) -> dict[str, Any]:
        if failure.kind == "daily_quota":
            message = (
                "Quota exceeded for aiplatform.googleapis.com/"
                f"generate_content_requests_per_day_per_project_per_base_model with base model:"
                f" {model}. Please submit a quota increase request."
                " https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
            )
            return status_error(429, "RESOURCE_EXHAUSTED", message)
        details = None if failure.retry_after is None else [retry_info(failure.retry_after)]
        return status_error(429, "RESOURCE_EXHAUSTED", VERTEX_RATE_MESSAGE, details)

    def _payment(self, req: RequestInfo) -> dict[str, Any]:
        project = self._resource(req)[0]
        message = (
            f"This API method requires billing to be enabled. Please enable billing on project"
            f" #{project} by visiting"
            f" https://console.developers.google.com/billing/enable?project={project} then"
            " retry. If you enabled billing for this project recently, wait a few minutes for"
            " the action to propagate to our systems and retry."
        )
        details = [
            error_info(
                "BILLING_DISABLED",
                "googleapis.com",
                {"consumer": f"projects/{project}", "service": self.service},
            )
        ]
        return status_error(403, "PERMISSION_DENIED", message, details)

    def _unauthorized(self, req: RequestInfo) -> dict[str, Any]:
        return self._bad_token(req, "ACCESS_TOKEN_EXPIRED")

    def _permission_denied(self, req: RequestInfo) -> dict[str, Any]:
        project, location, model = self._resource(req)
        resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        message = (
            f"Permission 'aiplatform.endpoints.predict' denied on resource"
            f" '//aiplatform.googleapis.com/{resource}' (or it may not exist)."
        )
        details = [
            error_info(
                "IAM_PERMISSION_DENIED",
                "aiplatform.googleapis.com",
                {"permission": "aiplatform.endpoints.predict", "resource": resource},
            )
        ]
        return status_error(403, "PERMISSION_DENIED", message, details)

    def _not_found(self, req: RequestInfo) -> str:
        project, location, model = self._resource(req)
        return (
            f"Publisher Model `projects/{project}/locations/{location}/publishers/google/models/"
            f"{model}` was not found or your project does not have access to it. Please ensure"
            " you are using a valid model version. For more information, see:"
            " https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
        )

    def _server_error(self, status: int) -> tuple[str, str]:
        if status in (503, 504):
            return super()._server_error(status)
        return "INTERNAL", VERTEX_INTERNAL_MESSAGE
