"""Where the agents report every model call, unusable reply, climb and trimmed prompt; the run
writes each one to the trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from budgetml.llm.base import Completion, Message


class CallRecorder(Protocol):
    """Where the agents report every model call, unusable reply and climb."""

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None: ...

    def format_failure(self, model: str, attempt: int, error: str) -> None: ...

    def escalation(self, from_model: str, to_model: str, reason: str) -> None: ...

    def context_trimmed(self, model: str, shown_steps: int) -> None: ...
