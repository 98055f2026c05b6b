"""Vertex AI (``wire = "vertex"``): Gemini's format on Google Cloud. ``base_url`` is the
regional host root; requests go to
``/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
(streams: ``:streamGenerateContent?alt=sse``) with an OAuth access token from an ``sa:``
or ``oauth:`` credential as the bearer.
"""

from __future__ import annotations

from hermes_mcp.llm.wires.gemini import GeminiWire


class VertexWire(GeminiWire):
    name = "vertex"

    def __init__(self, project: str, location: str) -> None:
        self.project = project
        self.location = location

    def _model_url(self, base_url: str, model: str) -> str:
        return (
            f"{base_url}/v1/projects/{self.project}/locations/{self.location}"
            f"/publishers/google/models/{model}"
        )

    def url(self, base_url: str, model: str) -> str:
        return f"{self._model_url(base_url, model)}:generateContent"

    def stream_url(self, base_url: str, model: str) -> str:
        return f"{self._model_url(base_url, model)}:streamGenerateContent?alt=sse"

    def auth_headers(self, secret: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {secret}"} if secret else {}
