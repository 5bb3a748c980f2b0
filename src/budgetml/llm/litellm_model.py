"""Hosted and local models through litellm, priced by our table, retried on transient errors.

litellm is imported lazily (it takes seconds) and told to use its bundled price table, so importing
this module, or asking for a price, never touches the network.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Sequence
from functools import cache
from types import ModuleType
from typing import Any

from budgetml.config import ModelEntry, Price
from budgetml.errors import ContextOverflowError, MissingKeyError, ModelError
from budgetml.llm.base import Completion, Message, ReplyFormat, Usage, cost_usd

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PLACEHOLDER_API_KEY = "not-needed"
"""Sent to local OpenAI-compatible servers when no key is set; the openai client refuses none."""

REQUEST_TIMEOUT_S = 600.0
TOKEN_COUNT_MARGIN = 1.2
MAX_BACKOFF_S = 30.0

_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*)?(?:\w+Error:\s*)?(?:\w+Exception\s*-\s*)?")


@cache
def _litellm() -> ModuleType:
    """Import litellm once, quietly: no telemetry, no debug banners, no info logs."""
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


def litellm_price(model: str) -> Price | None:
    """USD per million tokens from litellm's bundled table, or None when it does not know `model`.

    Tries the name as given, then as litellm resolves it (provider prefix stripped, or re-added).
    """
    litellm = _litellm()
    candidates = [model]
    try:
        bare, provider = litellm.get_llm_provider(model=model)[:2]
        candidates += [bare, f"{provider}/{bare}"]
    except Exception:  # litellm raises BadRequestError for names it cannot place
        pass
    for name in candidates:
        info = litellm.model_cost.get(name)
        if info is None:
            continue
        inp, out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if inp is None or out is None:
            continue
        cached = info.get("cache_read_input_token_cost")
        return Price(
            input=inp * 1e6,
            output=out * 1e6,
            cached_input=None if cached is None else cached * 1e6,
        )
    return None


class LiteLLMModel:
    """A model litellm can call: hosted (key from the environment) or local (`api_base`)."""

    def __init__(
        self,
        entry: ModelEntry,
        price: Price,
        seed: int | None = None,
        *,
        tries: int = 4,
        retry_delay_s: float = 1.0,
    ) -> None:
        self.name = entry.model
        self._api_base = entry.api_base
        self.price = price
        self._seed = seed
        self._tries = tries
        self._retry_delay_s = retry_delay_s
        litellm = _litellm()
        env = litellm.validate_environment(model=self.name)
        missing: list[str] = list(env.get("missing_keys", []))
        self._key_vars = missing or [_guess_key_var(litellm, self.name)]
        self._api_key: str | None = None
        if self._api_base is None and missing:
            exports = " ".join(f"{var}=..." for var in missing)
            raise MissingKeyError(
                f"model {self.name} needs {', '.join(missing)} in the environment; "
                f"export {exports} or pick another --model"
            )
        if self._api_base is not None and missing:
            self._api_key = PLACEHOLDER_API_KEY
        style = entry.structured_output
        if style == "auto":
            style = "json_schema" if _supports_schema(litellm, self.name) else "off"
        self.structured_output = style

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        """One call; transient failures are retried with exponential backoff, others explained.

        With a `reply_format` and structured output on, the reply is asked for as JSON under
        its schema (the caller reads it back as text); otherwise the format is the prompt's."""
        start = time.perf_counter()
        schema = None
        if reply_format is not None and self.structured_output == "json_schema":
            schema = {
                "type": "json_schema",
                "json_schema": {
                    "name": reply_format.name,
                    "schema": reply_format.json_schema,
                    "strict": True,
                },
            }
        elif reply_format is not None and self.structured_output == "json_object":
            schema = {"type": "json_object", "schema": reply_format.json_schema}
        response = self._call_with_retries(
            messages, temperature=temperature, max_tokens=max_tokens, response_format=schema
        )
        latency = time.perf_counter() - start
        usage = _usage(response)
        content = response.choices[0].message.content
        return Completion(
            text=content or "",
            model=self.name,
            usage=usage,
            cost_usd=cost_usd(usage, self.price),
            latency_s=latency,
        )

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """litellm's count (the provider's tokenizer where it knows it, else tiktoken), padded
        by a fifth because other providers' tokenizers may count more: budgets need an upper bound.
        """
        exact = _litellm().token_counter(
            model=self.name, messages=[{"role": m.role, "content": m.content} for m in messages]
        )
        return math.ceil(int(exact) * TOKEN_COUNT_MARGIN) + 16

    def _call_with_retries(
        self,
        messages: Sequence[Message],
        *,
        temperature: float,
        max_tokens: int,
        response_format: dict[str, Any] | None = None,
    ) -> Any:
        litellm = _litellm()
        transient = (
            litellm.RateLimitError,
            litellm.APIConnectionError,
            litellm.Timeout,
            litellm.ServiceUnavailableError,
            litellm.InternalServerError,
            litellm.BadGatewayError,
        )
        delay = self._retry_delay_s
        for attempt in range(1, self._tries + 1):
            try:
                return litellm.completion(
                    model=self.name,
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    temperature=temperature,
                    max_tokens=max_tokens,
                    api_base=self._api_base,
                    api_key=self._api_key,
                    seed=self._seed,
                    drop_params=True,
                    num_retries=0,
                    max_retries=0,
                    timeout=REQUEST_TIMEOUT_S,
                    **({"response_format": response_format} if response_format else {}),
                )
            except transient as exc:
                if attempt == self._tries:
                    raise ModelError(
                        f"model {self.name} kept failing after {self._tries} tries: "
                        f"{type(exc).__name__}: {_provider_message(exc)}"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
            except litellm.ContextWindowExceededError as exc:
                raise ContextOverflowError(
                    f"model {self.name}: the prompt does not fit its context window "
                    f"({_provider_message(exc)})"
                ) from None
            except (litellm.AuthenticationError, litellm.PermissionDeniedError) as exc:
                raise ModelError(
                    f"model {self.name} refused the API key ({_provider_message(exc)}); "
                    f"check {', '.join(self._key_vars)} or pick another --model"
                ) from None
            except Exception as exc:  # BadRequest, NotFound, and anything else litellm raises
                raise ModelError(
                    f"model {self.name} failed: {type(exc).__name__}: {_provider_message(exc)}"
                ) from None
        raise AssertionError("unreachable: the loop returns or raises")


def _supports_schema(litellm: ModuleType, model: str) -> bool:
    """litellm's table says the model takes a JSON schema as response_format (unknown: no)."""
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:  # litellm raises for names it cannot place
        return False


def _usage(response: Any) -> Usage:
    """Token counts as the provider reported them (0 where a server omits them)."""
    usage = getattr(response, "usage", None)
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cached_input_tokens=int(getattr(details, "cached_tokens", 0) or 0),
    )


def _guess_key_var(litellm: ModuleType, model: str) -> str:
    """The key variable once it is set (litellm only names missing ones): PROVIDER_API_KEY."""
    try:
        provider = litellm.get_llm_provider(model=model)[1]
    except Exception:  # litellm raises BadRequestError for names it cannot place
        return "the provider's API key variable"
    return f"{str(provider).upper()}_API_KEY"


def _provider_message(exc: BaseException) -> str:
    """The provider's own words, first line, without litellm's repeated class-name prefixes."""
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    return _PREFIX.sub("", first).strip() or type(exc).__name__
