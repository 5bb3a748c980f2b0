"""A response cache in SQLite: the same call (model, messages, sampling) is answered once.

A hit costs nothing now but keeps its recorded usage and price, so a rerun of a run reports
the same cost; a killed run that resumes never pays twice for a call that completed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from budgetml.llm.base import Completion, Message, ModelWrapper, ReplyFormat, Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    created REAL NOT NULL
)
"""


def default_cache_path() -> Path:
    root = (
        os.environ.get("BUDGETML_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "budgetml"
    )
    return Path(root) / "responses.sqlite"


def cache_key(
    model: str,
    messages: Sequence[Message],
    temperature: float,
    max_tokens: int,
    seed: int | None,
    reply_format: ReplyFormat | None = None,
) -> str:
    """The same prompt under another reply format is another request."""
    payload: dict[str, object] = {
        "model": model,
        "messages": [[m.role, m.content] for m in messages],
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
    }
    if reply_format is not None:  # absent otherwise, so keys stored before formats still hit
        payload["reply_format"] = reply_format.grammar
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class ResponseCache:
    """One SQLite file, safe to share between processes (WAL, busy timeout)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> Completion | None:
        row = self._db.execute(
            "SELECT model, text, input_tokens, output_tokens, cached_input_tokens, cost_usd,"
            " latency_s FROM responses WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        model, text, tokens_in, tokens_out, tokens_cached, cost, latency = row
        usage = Usage(tokens_in, tokens_out, tokens_cached)
        return Completion(text, model, usage, cost, latency, cached=True)

    def put(self, key: str, completion: Completion) -> None:
        usage = completion.usage
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, model, text, input_tokens, output_tokens,"
            " cached_input_tokens, cost_usd, latency_s, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                completion.model,
                completion.text,
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_input_tokens,
                completion.cost_usd,
                completion.latency_s,
                time.time(),
            ),
        )

    def close(self) -> None:
        self._db.close()


@dataclass
class CachedModel(ModelWrapper):
    """Answers from the cache when it can; otherwise calls the model and stores the reply."""

    cache: ResponseCache
    seed: int | None

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        key = cache_key(self.name, messages, temperature, max_tokens, self.seed, reply_format)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        completion = self.inner.complete(
            messages,
            agent=agent,
            temperature=temperature,
            max_tokens=max_tokens,
            reply_format=reply_format,
        )
        self.cache.put(key, replace(completion, cached=False))
        return completion
