"""The embedded local model: a GGUF file run in-process on the CPU by llama.cpp (llama-cpp-python).

Loading maps the weights into memory and builds a context (0.4 s for Qwen2.5-Coder-0.5B from a
warm page cache, more for bigger or cold files), so a loaded `llama_cpp.Llama` is kept in a
module-level cache keyed by (resolved path, n_ctx): the planner and workers that name the same
model share one instance (and one lock, since a Llama is not thread-safe). The sampling seed is
passed per call, so instances with different seeds can share it.

Prefix reuse. llama-cpp-python keeps the last call's tokens in its KV cache and, on the next
call, evaluates only the prompt tokens after the longest common prefix (`Llama.generate`). The
planner's instructions and action docs open every prompt, so consecutive planner prompts share
at least those (about 1,060 Qwen tokens), and everything while the history only grows; but a
call by another agent in between would overwrite that context. So each loaded model also keeps,
per agent, a snapshot of sequence 0 of its KV cache (`llama_state_seq_get_data`: only the cells
in use, 22 MB and 13 ms for 1,800 Qwen-0.5B tokens; restoring takes 4 ms), taken when another
agent takes the model over; before a call, whichever of the live context and the snapshots
shares the longest prefix with the new prompt is restored. `cached_input_tokens` is exactly the
number of prompt tokens that were not evaluated again. We do not use
`Llama.set_cache(LlamaRAMCache(...))`: it saves a whole state after every call, including a
copy of the n_batch x n_vocab logits buffer (311 MB for Qwen2.5, 0.56 s) that its capacity
does not count. `reuse_prefix=False` clears the context before every call (for benchmarks).

Loop guard. A small model sometimes falls into a loop (traces: `"script_name": "train.py", `
repeated until max_tokens, 100-280 s per reply on two cores). Generation stops once the last
LOOP_WINDOW generated tokens repeat one unit of at most LOOP_MAX_PERIOD tokens; what was
written so far is the reply (the parser salvages a cut-off action input).

A GGUF without a chat template is refused: the prompt format must come from the model.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from budgetml.config import Price
from budgetml.errors import ContextOverflowError, ModelError
from budgetml.llm.base import Completion, Message, ReplyFormat, Usage, cost_usd

_SEQ = 0  # llama-cpp-python keeps its whole context in sequence 0
LOOP_WINDOW = 300
LOOP_MAX_PERIOD = 100


def loops_at_end(generated: np.ndarray) -> bool:
    """True when the last LOOP_WINDOW tokens are one unit of at most LOOP_MAX_PERIOD tokens
    repeated (at least three times): no sound reply does that, a degenerate one does."""
    if len(generated) < LOOP_WINDOW:
        return False
    tail = generated[-LOOP_WINDOW:]
    return any(
        np.array_equal(tail[period:], tail[:-period])
        for period in range(1, min(LOOP_MAX_PERIOD, LOOP_WINDOW // 3) + 1)
    )


@dataclass
class _LoopGuard:
    """A llama.cpp stopping criterion; `prompt_tokens` is set before each call (under the lock)."""

    prompt_tokens: int = 0

    def __call__(self, input_ids: np.ndarray, logits: np.ndarray) -> bool:
        return loops_at_end(input_ids[self.prompt_tokens :])


@dataclass(frozen=True)
class _Snapshot:
    """One agent's context, parked while another agent uses the model."""

    tokens: np.ndarray
    kv: ctypes.Array[ctypes.c_uint8]


@dataclass
class _Loaded:
    """A loaded model, its chat formatter and whose context its KV cache holds."""

    llama: Any
    formatter: Any
    loop_guard: _LoopGuard
    lock: threading.Lock = field(default_factory=threading.Lock)
    owner: str | None = None
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)

    def prepare(self, agent: str, prompt: list[int], reuse: bool) -> int:
        """Put the best-matching context for `prompt` in place; returns the tokens reused."""
        if self.owner is not None and self.owner != agent and self.llama.n_tokens > 0:
            self.snapshots[self.owner] = self._snapshot()
        self.owner = agent
        if not reuse:
            self.llama.reset()
            return 0
        wanted = np.asarray(prompt, dtype=np.intc)
        best, best_len = None, _common_prefix(self.llama.input_ids[: self.llama.n_tokens], wanted)
        for snapshot in self.snapshots.values():
            length = _common_prefix(snapshot.tokens, wanted)
            if length > best_len:
                best, best_len = snapshot, length
        if best is not None:
            self._restore(best)
        # At least one prompt token is evaluated, so the logits are this prompt's; generate()
        # then keeps exactly these n_tokens (it reuses the common prefix and drops the rest).
        self.llama.n_tokens = min(best_len, len(prompt) - 1)
        return int(self.llama.n_tokens)

    def forget(self) -> None:
        """After a failed call the context is unknown: start the next one from scratch."""
        self.llama.reset()
        self.owner = None

    def _snapshot(self) -> _Snapshot:
        import llama_cpp

        ctx = self.llama.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, _SEQ)
        kv = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, kv, size, _SEQ)
        tokens = self.llama.input_ids[: self.llama.n_tokens].copy()
        return _Snapshot(tokens=tokens, kv=(ctypes.c_uint8 * written).from_buffer(kv))

    def _restore(self, snapshot: _Snapshot) -> None:
        import llama_cpp

        size = len(snapshot.kv)
        if llama_cpp.llama_state_seq_set_data(self.llama.ctx, snapshot.kv, size, _SEQ) != size:
            raise RuntimeError("llama.cpp could not restore a saved context")
        self.llama.input_ids[: len(snapshot.tokens)] = snapshot.tokens
        self.llama.n_tokens = len(snapshot.tokens)


_LOADED: dict[tuple[Path, int], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_loaded() -> None:
    """Free the models while llama-cpp-python can still do it (left to interpreter shutdown,
    its finaliser finds its own module torn down and prints a TypeError traceback)."""
    with _LOAD_LOCK:
        for loaded in _LOADED.values():
            loaded.llama.close()
        _LOADED.clear()


class LocalModel:
    """A GGUF chat model run by llama.cpp in this process; priced by the config (default $0)."""

    def __init__(
        self,
        spec: str,
        path: Path,
        price: Price,
        seed: int | None = None,
        n_ctx: int = 8192,
        *,
        reuse_prefix: bool = True,
    ) -> None:
        self.name = spec
        self.price = price
        self._seed = seed
        self._reuse_prefix = reuse_prefix
        self._loaded = _load(path, n_ctx)

    @property
    def llama(self) -> Any:
        """The shared `llama_cpp.Llama` (benchmarks read llama.cpp's perf counters from it)."""
        return self._loaded.llama

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        """One reply through the GGUF's chat template, sampled under `reply_format`'s grammar
        when one is given; the reused prompt prefix is counted."""
        start = time.perf_counter()
        loaded = self._loaded
        with loaded.lock:
            prompt = self._prompt_tokens(messages)
            self._check_fits(len(prompt), max_tokens)
            try:
                reused = loaded.prepare(agent, prompt, self._reuse_prefix)
                loaded.loop_guard.prompt_tokens = len(prompt)
                response = loaded.llama.create_chat_completion(
                    messages=_chat(messages),
                    temperature=temperature,
                    max_tokens=max_tokens,
                    seed=self._seed,
                    grammar=None if reply_format is None else _grammar(reply_format.grammar),
                )
            except Exception as exc:  # llama.cpp failures surface as assorted Python errors
                loaded.forget()
                raise ModelError(f"local model {self.name} failed: {_one_line(exc)}") from None
        usage = Usage(
            input_tokens=int(response["usage"]["prompt_tokens"]),
            output_tokens=int(response["usage"]["completion_tokens"]),
            cached_input_tokens=reused,
        )
        return Completion(
            text=response["choices"][0]["message"]["content"] or "",
            model=self.name,
            usage=usage,
            cost_usd=cost_usd(usage, self.price),
            latency_s=time.perf_counter() - start,
        )

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Exact: the messages through the chat template and tokenizer, as complete() does.

        No lock: tokenizing reads only the vocabulary, so it need not wait for a generation."""
        return len(self._prompt_tokens(messages))

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        """The tokens create_chat_completion will evaluate (same formatter, same tokenize call)."""
        result = self._loaded.formatter(messages=_chat(messages))
        tokens: list[int] = self._loaded.llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        return tokens

    def _check_fits(self, prompt_tokens: int, max_tokens: int) -> None:
        """Refuse before llama.cpp does (it would crash, or silently shorten the reply)."""
        context = int(self._loaded.llama.n_ctx())
        if prompt_tokens + max_tokens > context:
            raise ContextOverflowError(
                f"local model {self.name}: prompt {prompt_tokens} tokens + max_tokens "
                f"{max_tokens} > context {context}; lower max_tokens or the short-term window "
                f"(short_term_steps)"
            )


def _load(path: Path, n_ctx: int) -> _Loaded:
    """The cached model for (path, n_ctx), loading it on first use."""
    resolved = path.expanduser().resolve()
    with _LOAD_LOCK:
        key = (resolved, n_ctx)
        if key not in _LOADED:
            _LOADED[key] = _load_uncached(resolved, n_ctx)
        return _LOADED[key]


def _load_uncached(path: Path, n_ctx: int) -> _Loaded:
    if not path.is_file():
        raise ModelError(f"local model file {path} does not exist")
    try:
        import llama_cpp
        from llama_cpp.llama_chat_format import (
            Jinja2ChatFormatter,
            chat_formatter_to_chat_completion_handler,
        )
    except ImportError:
        raise ModelError(
            "local models need llama-cpp-python: pip install llama-cpp-python"
        ) from None
    try:
        llama = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=os.cpu_count(), verbose=False
        )
    except Exception as exc:  # ValueError for a bad file; anything llama.cpp raises on load
        raise ModelError(
            f"local model file {path} cannot be loaded by llama.cpp (not a GGUF model it "
            f"supports, or truncated): {_one_line(exc)}"
        ) from None
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ModelError(
            f"local model file {path} has no chat template (tokenizer.chat_template); "
            f"use a chat or instruct GGUF"
        )
    eos, bos = llama.token_eos(), llama.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=_token_text(llama, eos),
        bos_token=_token_text(llama, bos),
        stop_token_ids=[eos],
    )
    loop_guard = _LoopGuard()
    llama.chat_handler = chat_formatter_to_chat_completion_handler(
        _with_stopping_criterion(formatter, loop_guard)
    )
    return _Loaded(llama=llama, formatter=formatter, loop_guard=loop_guard)


def _with_stopping_criterion(formatter: Any, criterion: _LoopGuard) -> Any:
    """The formatter, adding `criterion` to the stopping criteria of every prompt it formats
    (create_chat_completion takes none of its own; the chat handler takes the formatter's)."""
    from llama_cpp.llama import StoppingCriteriaList

    def format_with_criterion(**kwargs: Any) -> Any:
        result = formatter(**kwargs)
        result.stopping_criteria = StoppingCriteriaList(
            [*(result.stopping_criteria or []), criterion]
        )
        return result

    return format_with_criterion


@functools.lru_cache(maxsize=8)
def _grammar(gbnf: str) -> Any:
    """The compiled grammar (a step's grammar is asked for again by each try and level)."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except ValueError as exc:  # llama.cpp could not parse it: a bug of ours, not the model's
        raise ModelError(f"the reply grammar was refused by llama.cpp: {_one_line(exc)}") from None


def _token_text(llama: Any, token: int) -> str:
    """A special token's text, as Llama itself gives it to the chat template."""
    if token < 0:
        return ""
    return bytes(llama.detokenize([token], special=True)).decode("utf-8", errors="replace")


def _chat(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading tokens `a` and `b` share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if differ.size else n


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
