"""The models a run calls, as one stack: recorded replies → response cache → budget → model.

Recorded replies sit on top: a resumed run answers the calls it paid for before the kill from
their replies, and a replay answers every call so, before anything could be refused for money
or served from the cache. The budget check sits under the cache, so a cache hit is never
refused for money. Every model the config names is built once, shared by the roles naming it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Literal

from budgetml.config import ModelEntry, Price, RunConfig
from budgetml.errors import ModelError
from budgetml.llm import factory
from budgetml.llm.base import Completion, Message, Model, ModelWrapper, ReplyFormat, Usage
from budgetml.llm.budget import BudgetGuard
from budgetml.llm.cache import CachedModel, ResponseCache, default_cache_path
from budgetml.llm.ledger import CostLedger
from budgetml.llm.pricing import FREE
from budgetml.llm.scripted import estimate_tokens
from budgetml.trace import LlmCall

MakeModel = Callable[[ModelEntry], Model]


def recorded_completion(call: LlmCall) -> Completion:
    """The completion an `llm_call` event recorded, as the model returned it then."""
    return Completion(
        text=call.reply,
        model=call.model,
        usage=Usage(call.input_tokens, call.output_tokens, call.cached_input_tokens),
        cost_usd=call.cost_usd,
        latency_s=call.latency_s,
        cached=call.cached,
    )


@dataclass
class RecordedReplies:
    """Replies a trace recorded, served again in order per model and agent, each once.

    `as_`: "recovered" (a resumed run: the calls were paid for, and count as such) or
    "replayed" (a replay: nothing is charged now, the recorded cost still counts).
    """

    as_: Literal["recovered", "replayed"]
    queues: dict[tuple[str, str], deque[LlmCall]] = field(default_factory=dict)
    prompt_mismatches: int = 0
    """Calls whose prompt differed from the recording's (a printed runtime, say)."""

    @classmethod
    def of(cls, calls: Iterable[LlmCall], as_: Literal["recovered", "replayed"]) -> RecordedReplies:
        queues: dict[tuple[str, str], deque[LlmCall]] = defaultdict(deque)
        for call in calls:
            queues[(call.model, call.agent)].append(call)
        return cls(as_, dict(queues))

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues.values())

    def take(self, model: str, agent: str, messages: Sequence[Message]) -> Completion | None:
        queue = self.queues.get((model, agent))
        if not queue:
            return None
        call = queue.popleft()
        if [(m["role"], m["content"]) for m in call.messages] != [
            (m.role, m.content) for m in messages
        ]:
            self.prompt_mismatches += 1
        completion = recorded_completion(call)
        if self.as_ == "replayed":
            return replace(completion, latency_s=0.0, cached=True)
        return replace(completion, recovered=True)


@dataclass
class ServingRecorded(ModelWrapper):
    """Answers from the recorded replies while any are left for this model and agent."""

    replies: RecordedReplies

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        recorded = self.replies.take(self.name, agent, messages)
        if recorded is not None:
            return recorded
        return self.inner.complete(
            messages,
            agent=agent,
            temperature=temperature,
            max_tokens=max_tokens,
            reply_format=reply_format,
        )


@dataclass(frozen=True)
class NoFurtherReplies:
    """What a replay calls once its recorded replies run out: the replay has diverged."""

    name: str
    price: Price

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return estimate_tokens("".join(m.content for m in messages))

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        raise ModelError(
            f"the recorded run has no further {agent} reply from {self.name}: the replay "
            "diverged from the original"
        )


@dataclass
class ModelStack:
    """The run's models by name, the ledger they are priced in, and the cache they share."""

    models: dict[str, Model]
    ledger: CostLedger
    cache: ResponseCache | None = None

    def for_entry(self, entry: ModelEntry) -> Model:
        return self.models[entry.model]

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def __enter__(self) -> ModelStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build_models(
    config: RunConfig,
    seed: int,
    make_model: MakeModel | None = None,
    recorded: RecordedReplies | None = None,
) -> ModelStack:
    """Every model the config names, built by `make_model` (default: factory.make_model with
    the config's prices), under the config's budget and cache, `recorded` replies on top.

    A model that cannot be built (a missing key, an unpriced model) raises here, before the
    run writes anything.
    """
    build = make_model or (lambda entry: factory.make_model(entry, config.prices, seed))
    ledger = CostLedger(frozenset(m for m, p in config.prices.items() if p.free_tier))
    cache = ResponseCache(default_cache_path()) if config.cache else None
    models: dict[str, Model] = {}
    try:
        for entry in model_entries(config):
            model = build(entry)
            if config.budget_usd is not None:
                model = BudgetGuard(model, ledger, config.budget_usd)
            if cache is not None:
                model = CachedModel(model, cache, seed)
            if recorded is not None:
                model = ServingRecorded(model, recorded)
            models[entry.model] = model
    except BaseException:
        if cache is not None:
            cache.close()
        raise
    return ModelStack(models, ledger, cache)


def replay_models(config: RunConfig, recorded: RecordedReplies) -> ModelStack:
    """A replay's stack: the recorded replies and nothing behind them (replays are free now;
    their recorded cost still counts in cost_usd)."""
    return build_models(
        config.model_copy(update={"cache": False}),
        0,
        lambda entry: NoFurtherReplies(entry.model, FREE),
        recorded,
    )


def model_entries(config: RunConfig) -> list[ModelEntry]:
    """Every model the config names, once each (roles naming one model share it)."""
    named = [*config.planner, config.worker_model, *([config.expert] if config.expert else [])]
    return list({entry.model: entry for entry in reversed(named)}.values())
