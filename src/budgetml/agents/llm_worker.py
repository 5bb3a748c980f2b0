"""A worker model (the paper's profiled W[i]): each call under the profile of its role, at the
worker temperature, reported to the recorder. The worker actions and the research log use it."""

from __future__ import annotations

from dataclasses import dataclass

from budgetml.agents.recorder import CallRecorder
from budgetml.llm.base import Message, Model


@dataclass(frozen=True)
class LLMWorker:
    """One worker model at the worker temperature; every call is reported to the recorder."""

    model: Model
    max_tokens: int
    temperature: float
    recorder: CallRecorder

    def ask(
        self,
        profile: str,
        prompt: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> str:
        """One call, the role's profile as system prompt. Budget and model errors propagate.

        `max_tokens` lowers the role's cap for replies that must stay short; `temperature`
        raises the worker's for a sample unlike one that failed before."""
        messages = [Message("system", profile), Message("user", prompt)]
        return self._call(messages, max_tokens, temperature)

    def ask_again(
        self,
        profile: str,
        prompt: str,
        reply: str,
        follow_up: str,
        temperature: float | None = None,
    ) -> str:
        """A second call that shows the worker its first reply and what was wrong with it;
        `temperature` raises the worker's for a new attempt rather than the same one again."""
        messages = [
            Message("system", profile),
            Message("user", prompt),
            Message("assistant", reply),
            Message("user", follow_up),
        ]
        return self._call(messages, None, temperature)

    def _call(
        self, messages: list[Message], max_tokens: int | None, temperature: float | None = None
    ) -> str:
        cap = self.max_tokens if max_tokens is None else min(max_tokens, self.max_tokens)
        completion = self.model.complete(
            messages,
            agent="worker",
            temperature=self.temperature if temperature is None else temperature,
            max_tokens=cap,
        )
        self.recorder.llm_call("worker", messages, completion)
        return completion.text
