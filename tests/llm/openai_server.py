"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: scripted replies, recorded requests.

It exercises litellm and the openai client end to end (HTTP, JSON, error mapping) without network.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One successful chat completion with the usage the server reports for it."""

    text: str | None
    prompt_tokens: int = 10
    completion_tokens: int = 5
    cached_tokens: int | None = None


@dataclass(frozen=True)
class Failure:
    """An HTTP error with the provider's own message and code."""

    status: int
    message: str
    code: str


ScriptEntry = Reply | str | int | Failure
"""A Reply, a bare text (default usage), an HTTP status code to fail with, or a Failure."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}


class OpenAICompatServer:
    """Serves POST /v1/chat/completions and GET /v1/models from a queue of scripted entries.

    Use as a context manager; `base_url` is what to pass as `api_base`, `requests` holds every
    chat request body received, in order. An empty queue answers 500.
    """

    def __init__(self, replies: list[ScriptEntry]) -> None:
        self._queue = list(replies)
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> OpenAICompatServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any]) -> ScriptEntry | None:
        with self._lock:
            self.requests.append(body)
            return self._queue.pop(0) if self._queue else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                """Keep pytest output clean."""

            def do_GET(self) -> None:
                if self.path.rstrip("/") in ("/v1/models", "/models"):
                    self._send(200, {"object": "list", "data": [{"id": "test-model"}]})
                else:
                    self._send(404, _error(404, f"no route {self.path}"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    self._send(404, _error(404, f"no route {self.path}"))
                    return
                entry = server._next(body)
                if entry is None:
                    self._send(500, _error(500, "the test server has no scripted reply left"))
                elif isinstance(entry, int):
                    self._send(entry, _error(entry, f"scripted failure {entry}"))
                elif isinstance(entry, Failure):
                    self._send(entry.status, _error(entry.status, entry.message, entry.code))
                else:
                    reply = Reply(entry) if isinstance(entry, str) else entry
                    self._send(200, _completion(reply, str(body.get("model", ""))))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code or kind}}


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    if reply.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }
