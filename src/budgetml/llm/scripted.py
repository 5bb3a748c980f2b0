"""A scripted model: it replays fixed replies from a JSON file. It is NOT an LLM.

It exists so tests and demos run offline, deterministically and for free.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from budgetml.config import Price
from budgetml.errors import ModelError, ScriptExhaustedError
from budgetml.llm.base import Completion, Message, ReplyFormat, Usage, cost_usd

SHARED = ""
"""Script key for the list form: one queue of replies shared by every agent."""


@dataclass(frozen=True)
class ScriptedReply:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None


def estimate_tokens(text: str) -> int:
    """An estimate, not a tokenizer: about four characters per token."""
    return math.ceil(len(text) / 4)


def resolve_script_path(spec_path: str) -> Path:
    """`spec_path` relative to the working directory if it exists, else the packaged demo file."""
    given = Path(spec_path)
    if given.is_file():
        return given
    demo = _demo_folder() / given.name
    if demo.is_file():
        return demo
    raise ModelError(
        f"scripted model file {spec_path!r} not found: looked at {given.resolve()} "
        f"and in the package demo folder {_demo_folder()}"
    )


def _demo_folder() -> Path:
    return Path(str(resources.files("budgetml") / "demo"))


class ScriptedModel:
    """Replays a JSON script in order, per agent or shared, and prices the replies like a model.

    The file holds either a list of replies (shared by all agents) or an object mapping an agent
    name to its own list. A reply is a string, or {"text": ..., "input_tokens": N,
    "output_tokens": N} to fix the token counts; counts not fixed are estimated.
    """

    def __init__(self, spec: str, path: Path, price: Price) -> None:
        self.name = spec
        self._path = path
        self.price = price
        self._scripts = _load(path)
        self._used: dict[str, int] = dict.fromkeys(self._scripts, 0)

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        """The next reply for `agent`; temperature, max_tokens and reply_format are ignored:
        the text is fixed."""
        start = time.perf_counter()
        key = SHARED if SHARED in self._scripts else agent
        if key not in self._scripts:
            raise ModelError(
                f"scripted model {self._path.name} has no script for agent {agent!r}; "
                f"it has scripts for {', '.join(sorted(self._scripts)) or 'no agent'}"
            )
        script = self._scripts[key]
        if self._used[key] >= len(script):
            raise ScriptExhaustedError(
                f"scripted model {self._path.name} has no reply left for {agent} "
                f"(it held {len(script)}); add replies to {self._path}"
            )
        reply = script[self._used[key]]
        self._used[key] += 1
        usage = Usage(
            input_tokens=(
                self.count_tokens(messages) if reply.input_tokens is None else reply.input_tokens
            ),
            output_tokens=(
                estimate_tokens(reply.text) if reply.output_tokens is None else reply.output_tokens
            ),
        )
        return Completion(
            text=reply.text,
            model=self.name,
            usage=usage,
            cost_usd=cost_usd(usage, self.price),
            latency_s=time.perf_counter() - start,
        )

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """The same estimate the replies are charged with, so budgets hold exactly."""
        return estimate_tokens("".join(m.content for m in messages))


def _load(path: Path) -> dict[str, list[ScriptedReply]]:
    """Parse and check the whole file up front, so a bad script fails before the run starts."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"scripted model file {path} cannot be read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"scripted model file {path} is not valid JSON: {exc}") from None
    if isinstance(data, list):
        return {SHARED: _replies(data, path, "the top-level list")}
    if isinstance(data, dict) and data:
        return {
            str(agent): _replies(items, path, f"agent {agent!r}") for agent, items in data.items()
        }
    raise ModelError(
        f"scripted model file {path} must hold a list of replies or a non-empty object mapping "
        f"agent names to lists of replies, got {type(data).__name__}"
    )


def _replies(items: Any, path: Path, where: str) -> list[ScriptedReply]:
    if not isinstance(items, list):
        raise ModelError(
            f"scripted model file {path}: {where} must be a list of replies, "
            f"got {type(items).__name__}"
        )
    return [_reply(item, path, f"{where}, reply {i + 1}") for i, item in enumerate(items)]


def _reply(item: Any, path: Path, where: str) -> ScriptedReply:
    if isinstance(item, str):
        return ScriptedReply(item)
    problem = _reply_problem(item)
    if problem:
        raise ModelError(f"scripted model file {path}: {where} {problem}")
    return ScriptedReply(item["text"], item.get("input_tokens"), item.get("output_tokens"))


def _reply_problem(item: Any) -> str | None:
    """Why `item` is not a reply object, or None when it is one."""
    if not isinstance(item, dict):
        return f"must be a string or an object with a 'text' key, got {type(item).__name__}"
    if not isinstance(item.get("text"), str):
        return "needs a string 'text'"
    unknown = set(item) - {"text", "input_tokens", "output_tokens"}
    if unknown:
        return f"has unknown key(s) {', '.join(sorted(unknown))}"
    for key in ("input_tokens", "output_tokens"):
        value = item.get(key)
        if value is not None and (type(value) is not int or value < 0):
            return f"needs '{key}' to be a non-negative integer, got {value!r}"
    return None
