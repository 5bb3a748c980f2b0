"""LocalModel end to end on a real llama.cpp: a tiny random-weight GGUF built at test time.

The tiny model never samples a control token, so a sampled reply runs to max_tokens exactly.
"""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from budgetml.config import Price
from budgetml.errors import ModelError
from budgetml.llm.base import Completion, Message
from budgetml.llm.local import LOOP_MAX_PERIOD, LOOP_WINDOW, LocalModel, loops_at_end

PRICE = Price(input=1.5, output=3.0, cached_input=0.25)
FREE = Price(input=0.0, output=0.0)
N_CTX = 2048
INSTRUCTIONS = "You plan one step at a time. Use the actions listed below. " * 8


def _model(path: Path, *, price: Price = FREE, reuse_prefix: bool = True) -> LocalModel:
    return LocalModel("local/tiny", path, price, seed=7, n_ctx=N_CTX, reuse_prefix=reuse_prefix)


def _planner_messages(task: str, step: int) -> list[Message]:
    """A planner-like prompt. Each test names its own task: the tests share one loaded model and
    its saved contexts, and must not reuse each other's prefixes."""
    return [
        Message("system", f"Task: {task}\n{INSTRUCTIONS}"),
        Message("user", f"Step {step}: what next?"),
    ]


def _chatml_tokens(model: LocalModel, messages: list[Message]) -> list[int]:
    """The prompt tokens, worked out here from the tiny model's ChatML template."""
    text = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    text += "<|im_start|>assistant\n"
    tokens: list[int] = model.llama.tokenize(text.encode(), add_bos=False, special=True)
    return tokens


def _shared_prefix(a: list[int], b: list[int]) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _prompt_evaluated(model: LocalModel, messages: list[Message], agent: str) -> tuple[int, int]:
    """(cached_input_tokens, prompt tokens llama.cpp actually evaluated) for one call."""
    llama_cpp.llama_perf_context_reset(model.llama.ctx)
    done = model.complete(messages, agent=agent, temperature=0.7, max_tokens=4)
    perf = llama_cpp.llama_perf_context(model.llama.ctx)
    assert perf.n_p_eval + done.usage.cached_input_tokens == done.usage.input_tokens
    return done.usage.cached_input_tokens, perf.n_p_eval


def _ask(model: LocalModel, messages: list[Message], max_tokens: int = 4) -> Completion:
    return model.complete(messages, agent="planner", temperature=0.7, max_tokens=max_tokens)


def test_a_reply_reports_exact_usage_and_is_priced_per_token(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf, price=PRICE, reuse_prefix=False)
    messages = _planner_messages("usage", 1)
    done = _ask(model, messages, max_tokens=12)
    assert done.text
    assert done.model == "local/tiny"
    assert done.usage.input_tokens == model.count_tokens(messages) > 0
    assert done.usage.output_tokens == 12
    assert done.usage.cached_input_tokens == 0
    assert done.cost_usd == pytest.approx((done.usage.input_tokens * 1.5 + 12 * 3.0) / 1e6)
    assert done.latency_s > 0


def test_cached_prompt_tokens_are_priced_at_the_cached_price(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf, price=PRICE)
    _ask(model, _planner_messages("pricing", 1))
    usage = (done := _ask(model, _planner_messages("pricing", 2))).usage
    assert 0 < usage.cached_input_tokens < usage.input_tokens
    expected = (
        (usage.input_tokens - usage.cached_input_tokens) * 1.5
        + usage.cached_input_tokens * 0.25
        + usage.output_tokens * 3.0
    ) / 1e6
    assert done.cost_usd == pytest.approx(expected)


def test_count_tokens_is_exact_for_a_multi_turn_conversation(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf, reuse_prefix=False)
    messages = [
        *_planner_messages("count", 1),
        Message("assistant", "Action: List Files\nAction Input: {'dir_path': '.'} — é ✓"),
        Message("user", "Your response could not be used: bad JSON."),
    ]
    done = _ask(model, messages)
    assert model.count_tokens(messages) == done.usage.input_tokens
    assert model.count_tokens(messages) == len(_chatml_tokens(model, messages))


def test_the_shared_prefix_is_not_evaluated_again(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf)
    first, second = _planner_messages("prefix", 1), _planner_messages("prefix", 2)
    _prompt_evaluated(model, first, "planner")
    cached, _ = _prompt_evaluated(model, second, "planner")
    shared = _shared_prefix(_chatml_tokens(model, first), _chatml_tokens(model, second))
    assert cached == shared > model.count_tokens(second) - 30


def test_prefix_reuse_survives_another_agent_calling_in_between(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf)
    first, second = _planner_messages("interleaved", 1), _planner_messages("interleaved", 2)
    worker = [Message("system", "You edit files. " * 30), Message("user", "Edit train.py")]
    _prompt_evaluated(model, first, "planner")
    _prompt_evaluated(model, worker, "worker")
    cached, _ = _prompt_evaluated(model, second, "planner")
    assert cached == _shared_prefix(_chatml_tokens(model, first), _chatml_tokens(model, second))
    cached, _ = _prompt_evaluated(model, worker, "worker")
    assert cached == model.count_tokens(worker) - 1  # all but the one re-evaluated for logits


def test_reuse_prefix_false_evaluates_every_prompt_token(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf, reuse_prefix=False)
    messages = _planner_messages("no-reuse", 1)
    _prompt_evaluated(model, messages, "planner")
    cached, evaluated = _prompt_evaluated(model, messages, "planner")
    assert cached == 0
    assert evaluated == model.count_tokens(messages)


def test_the_same_seed_gives_the_same_reply(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf, reuse_prefix=False)
    messages = _planner_messages("seed", 1)
    assert _ask(model, messages, max_tokens=8).text == _ask(model, messages, max_tokens=8).text


def test_instances_for_the_same_file_and_context_share_one_loaded_model(tiny_gguf: Path) -> None:
    planner = _model(tiny_gguf)
    worker = LocalModel("local/tiny", tiny_gguf, PRICE, seed=1, n_ctx=N_CTX, reuse_prefix=False)
    other_context = LocalModel("local/tiny", tiny_gguf, FREE, n_ctx=N_CTX // 2)
    assert planner.llama is worker.llama
    assert other_context.llama is not planner.llama


def test_a_prompt_that_does_not_fit_the_context_is_refused_in_one_line(tiny_gguf: Path) -> None:
    model = _model(tiny_gguf)
    messages = [Message("user", "x" * 1500)]
    prompt = model.count_tokens(messages)
    with pytest.raises(ModelError) as caught:
        _ask(model, messages, max_tokens=1000)
    assert str(caught.value) == (
        f"local model local/tiny: prompt {prompt} tokens + max_tokens 1000 > context {N_CTX}; "
        "lower max_tokens or the short-term window (short_term_steps)"
    )


def test_a_llama_cpp_failure_becomes_a_one_line_model_error(
    tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(tiny_gguf)

    def crash(**kwargs: object) -> None:
        raise RuntimeError("llama_decode returned -3\nstack trace follows")

    monkeypatch.setattr(model.llama, "create_chat_completion", crash)
    messages = _planner_messages("failure", 1)
    with pytest.raises(ModelError) as caught:
        _ask(model, messages)
    assert str(caught.value) == (
        "local model local/tiny failed: RuntimeError: llama_decode returned -3"
    )
    monkeypatch.undo()
    assert _ask(model, messages).usage.output_tokens == 4  # usable again


def test_a_missing_file_is_a_model_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelError, match=f"local model file {missing} does not exist"):
        LocalModel("local/nope", missing, FREE)


def test_a_corrupt_file_is_a_model_error_naming_the_path(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    with pytest.raises(ModelError, match=f"local model file {corrupt} cannot be loaded"):
        LocalModel("local/corrupt", corrupt, FREE)


def test_a_unit_repeated_over_the_whole_window_is_a_loop() -> None:
    unit = np.arange(8, dtype=np.intc)
    looping = np.tile(unit, LOOP_WINDOW // 8 + 1)[:LOOP_WINDOW]
    assert loops_at_end(looping)
    assert loops_at_end(np.concatenate([np.arange(500, 900, dtype=np.intc), looping]))
    assert not loops_at_end(looping[1:])  # shorter than the window: too early to tell


def test_varied_text_and_units_longer_than_the_longest_period_are_not_loops() -> None:
    rng = np.random.default_rng(0)
    assert not loops_at_end(rng.integers(0, 50_000, 2 * LOOP_WINDOW).astype(np.intc))
    long_unit = rng.integers(0, 50_000, LOOP_MAX_PERIOD + 1).astype(np.intc)
    assert not loops_at_end(np.tile(long_unit, 3))
    longest_unit = long_unit[:LOOP_MAX_PERIOD]
    assert loops_at_end(np.tile(longest_unit, 3))


def test_a_generation_that_loops_stops_once_the_loop_fills_the_window(tiny_gguf: Path) -> None:
    """Greedy decoding makes the random tiny model repeat two characters from the start; sampled,
    it writes varied bytes until max_tokens."""
    model = _model(tiny_gguf)
    looping = model.complete(
        _planner_messages("loop", 1), agent="planner", temperature=0.0, max_tokens=900
    )
    assert looping.usage.output_tokens == LOOP_WINDOW
    assert loops_at_end(np.asarray(model.llama.tokenize(looping.text.encode(), add_bos=False)))
    varied = _ask(model, _planner_messages("no loop", 1), max_tokens=LOOP_WINDOW + 100)
    assert varied.usage.output_tokens == LOOP_WINDOW + 100
