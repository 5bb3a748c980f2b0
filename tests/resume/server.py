"""A loopback OpenAI-compatible server that plays a fixed trajectory, for kill-and-resume tests.

The planner's reply is chosen by how many steps its prompt says are left, and every worker call
gets the same reply, so a repeated request gets the same answer whatever came before. Every
request is recorded by its messages; one request can be held (the client waits for its reply)
so that a test can kill the client in the middle of that call.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

_STEPS_LEFT = re.compile(r"You have (\d+) step\(s\) left")


@dataclass(frozen=True)
class Request:
    key: str  # the messages, as JSON: one key per distinct prompt
    agent: str
    arrived: float


class TrajectoryServer:
    """`planner[i]` answers the planner prompt of step i + 1; `hold_request` (1-based) is kept
    waiting until `release()` and `held` is set when it arrives."""

    def __init__(self, planner: list[str], worker: str, max_steps: int) -> None:
        self.planner = planner
        self.worker = worker
        self.max_steps = max_steps
        self.requests: list[Request] = []
        self.hold_request: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def hold(self, request_number: int) -> None:
        self.held.clear()
        self._release.clear()
        self.hold_request = request_number

    def release(self) -> None:
        self.hold_request = None
        self._release.set()

    def counts(self) -> dict[str, int]:
        """How many times each distinct prompt was sent."""
        counts: dict[str, int] = {}
        for request in self.requests:
            counts[request.key] = counts.get(request.key, 0) + 1
        return counts

    def __enter__(self) -> TrajectoryServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(self, messages: list[dict[str, str]]) -> tuple[str, str]:
        if "planner for solving" not in messages[0]["content"]:
            return "worker", self.worker
        asks = [m["content"] for m in messages if m["role"] == "user"]
        match = next((m for m in map(_STEPS_LEFT.search, reversed(asks)) if m), None)
        index = self.max_steps - int(match.group(1)) if match else 0
        return "planner", self.planner[min(index, len(self.planner) - 1)]

    def _record(self, messages: list[dict[str, str]], agent: str) -> int:
        with self._lock:
            key = json.dumps(messages, sort_keys=True)
            self.requests.append(Request(key, agent, time.monotonic()))
            return len(self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                """Keep pytest output clean."""

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                messages = body["messages"]
                agent, text = server._answer(messages)
                number = server._record(messages, agent)
                if number == server.hold_request:
                    server.held.set()
                    server._release.wait(timeout=120)
                prompt = sum(len(m["content"]) for m in messages) // 4
                payload = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": len(text) // 4 + 1,
                        "total_tokens": prompt + len(text) // 4 + 1,
                    },
                }
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client was killed while it waited

        return Handler
