"""Real OpenAI-compatible HTTP servers on 127.0.0.1 for tests (scripted replies, not LLMs).

They exercise litellm and the openai client end to end (HTTP, JSON, error mapping) without
network. `LoopbackServer` is the HTTP side; subclasses decide the answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


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


class LoopbackServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1: POST /v1/chat/completions is answered by
    `answer` (a subclass's), GET /v1/models lists one model. Use as a context manager;
    `base_url` is what to pass as `api_base`."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON payload for one chat request (runs on the request's thread)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
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
                self._send(*server.answer(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client was killed while it waited

        return Handler


class OpenAICompatServer(LoopbackServer):
    """Answers from a queue of scripted entries; `requests` holds every chat request body
    received, in order. An empty queue answers 500."""

    def __init__(self, replies: list[ScriptEntry]) -> None:
        super().__init__()
        self._queue = list(replies)
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            entry = self._queue.pop(0) if self._queue else None
        if entry is None:
            return 500, _error(500, "the test server has no scripted reply left")
        if isinstance(entry, int):
            return entry, _error(entry, f"scripted failure {entry}")
        if isinstance(entry, Failure):
            return entry.status, _error(entry.status, entry.message, entry.code)
        reply = Reply(entry) if isinstance(entry, str) else entry
        return 200, completion(reply, str(body.get("model", "")))


def _error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code or kind}}


def completion(reply: Reply, model: str) -> dict[str, Any]:
    """The body of a successful chat completion carrying `reply` and its usage."""
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
