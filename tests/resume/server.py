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
from types import TracebackType
from typing import Any

from tests.llm.openai_server import LoopbackServer, Reply, completion

_STEPS_LEFT = re.compile(r"You have (\d+) step\(s\) left")


@dataclass(frozen=True)
class Request:
    key: str  # the messages, as JSON: one key per distinct prompt
    agent: str
    arrived: float


class TrajectoryServer(LoopbackServer):
    """`planner[i]` answers the planner prompt of step i + 1; `hold_request` (1-based) is kept
    waiting until `release()` and `held` is set when it arrives."""

    def __init__(self, planner: list[str], worker: str, max_steps: int) -> None:
        super().__init__()
        self.planner = planner
        self.worker = worker
        self.max_steps = max_steps
        self.requests: list[Request] = []
        self.hold_request: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()

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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        super().__exit__(exc_type, exc, tb)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = body["messages"]
        agent, text = self._reply(messages)
        number = self._record(messages, agent)
        if number == self.hold_request:
            self.held.set()
            self._release.wait(timeout=120)
        prompt_tokens = sum(len(m["content"]) for m in messages) // 4
        reply = Reply(text, prompt_tokens=prompt_tokens, completion_tokens=len(text) // 4 + 1)
        return 200, completion(reply, str(body.get("model", "")))

    def _reply(self, messages: list[dict[str, str]]) -> tuple[str, str]:
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
