"""LiteLLMModel end to end: real litellm, real openai client, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from budgetml.config import ModelEntry, Price
from budgetml.errors import ContextOverflowError, MissingKeyError, ModelError
from budgetml.llm.base import Message, ReplyFormat
from budgetml.llm.litellm_model import LiteLLMModel, litellm_price
from tests.llm.openai_server import Failure, OpenAICompatServer, Reply

PRICE = Price(input=1.0, output=2.0, cached_input=0.5)
MODEL = "openai/test-model"
MESSAGES = [Message("system", "You plan."), Message("user", "What next?")]


@pytest.fixture
def dummy_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-dummy")


def _model(server: OpenAICompatServer, *, seed: int | None = None, tries: int = 4) -> LiteLLMModel:
    entry = ModelEntry(model=MODEL, api_base=server.base_url)
    return LiteLLMModel(entry, PRICE, seed=seed, tries=tries, retry_delay_s=0.01)


def _ask(server: OpenAICompatServer, *, tries: int = 4) -> str:
    model = _model(server, tries=tries)
    return model.complete(MESSAGES, agent="planner", temperature=0.3, max_tokens=7).text


@pytest.mark.usefixtures("dummy_key")
def test_reply_usage_and_cost_come_from_the_server_and_our_prices() -> None:
    with OpenAICompatServer(
        [Reply("Try a GBM.", prompt_tokens=100, completion_tokens=7)]
    ) as server:
        done = _model(server).complete(MESSAGES, agent="planner", temperature=0.3, max_tokens=50)
    assert done.text == "Try a GBM."
    assert done.model == MODEL
    assert (done.usage.input_tokens, done.usage.output_tokens) == (100, 7)
    assert done.usage.cached_input_tokens == 0
    assert done.cost_usd == pytest.approx((100 * 1.0 + 7 * 2.0) / 1e6)
    assert done.latency_s > 0


@pytest.mark.usefixtures("dummy_key")
def test_cached_prompt_tokens_are_priced_at_the_cached_price() -> None:
    with OpenAICompatServer(
        [Reply("ok", prompt_tokens=100, completion_tokens=7, cached_tokens=40)]
    ) as server:
        done = _model(server).complete(MESSAGES, agent="planner", temperature=0.3, max_tokens=50)
    assert done.usage.cached_input_tokens == 40
    assert done.cost_usd == pytest.approx((60 * 1.0 + 40 * 0.5 + 7 * 2.0) / 1e6)


@pytest.mark.usefixtures("dummy_key")
def test_messages_temperature_max_tokens_and_seed_reach_the_server() -> None:
    with OpenAICompatServer(["ok"]) as server:
        _model(server, seed=11).complete(MESSAGES, agent="planner", temperature=0.3, max_tokens=42)
    (body,) = server.requests
    assert body["model"] == "test-model"
    assert body["messages"] == [
        {"role": "system", "content": "You plan."},
        {"role": "user", "content": "What next?"},
    ]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.3, 42, 11)


@pytest.mark.usefixtures("dummy_key")
def test_empty_content_becomes_empty_text() -> None:
    with OpenAICompatServer([Reply(None)]) as server:
        assert _ask(server) == ""


@pytest.mark.usefixtures("dummy_key")
def test_rate_limit_then_success_is_retried() -> None:
    with OpenAICompatServer([429, 503, "finally"]) as server:
        assert _ask(server) == "finally"
    assert len(server.requests) == 3


@pytest.mark.usefixtures("dummy_key")
def test_transient_failures_give_up_after_the_last_try_with_one_line() -> None:
    with (
        OpenAICompatServer([500, 500, 500, "too late"]) as server,
        pytest.raises(ModelError) as err,
    ):
        _ask(server, tries=3)
    assert len(server.requests) == 3
    assert "after 3 tries" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.usefixtures("dummy_key")
def test_rejected_key_names_the_variable_and_is_not_retried() -> None:
    with OpenAICompatServer([401, "unused"]) as server, pytest.raises(ModelError) as err:
        _ask(server)
    assert len(server.requests) == 1
    assert "OPENAI_API_KEY" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.usefixtures("dummy_key")
@pytest.mark.parametrize("status", [400, 404])
def test_bad_request_and_not_found_give_one_line_with_the_provider_message(status: int) -> None:
    with OpenAICompatServer([status, "unused"]) as server, pytest.raises(ModelError) as err:
        _ask(server)
    assert len(server.requests) == 1
    message = str(err.value)
    assert message.startswith(f"model {MODEL} failed")
    assert f"scripted failure {status}" in message
    assert "\n" not in message


@pytest.mark.usefixtures("dummy_key")
def test_a_prompt_over_the_context_window_is_a_context_overflow() -> None:
    """The planner drops shown steps on this error, so it must be told apart from other 400s."""
    too_long = Failure(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages resulted "
        "in 9120 tokens. Please reduce the length of the messages.",
        "context_length_exceeded",
    )
    with (
        OpenAICompatServer([too_long, "unused"]) as server,
        pytest.raises(ContextOverflowError) as err,
    ):
        _ask(server)
    assert len(server.requests) == 1
    assert "does not fit its context window" in str(err.value) and "\n" not in str(err.value)


def test_missing_key_without_api_base_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="export OPENAI_API_KEY="):
        LiteLLMModel(ModelEntry(model="gpt-4o-mini"), PRICE)


def test_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with OpenAICompatServer(["local"]) as server:
        assert _ask(server) == "local"


def test_litellm_price_is_the_table_price_per_million() -> None:
    import litellm

    row = litellm.model_cost["gpt-4o-mini"]
    price = litellm_price("gpt-4o-mini")
    assert price is not None
    assert price.input == pytest.approx(row["input_cost_per_token"] * 1e6)
    assert price.output == pytest.approx(row["output_cost_per_token"] * 1e6)
    assert price.cached_input == pytest.approx(row["cache_read_input_token_cost"] * 1e6)
    assert litellm_price("openai/gpt-4o-mini") == price


@pytest.mark.parametrize("name", ["openai/no-such-model-xyz", "no-such-model-xyz"])
def test_litellm_price_of_an_unknown_model_is_none(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert litellm_price(name) is None
    assert capsys.readouterr().out == ""


FORMAT = ReplyFormat(name="planner-step", grammar='root ::= "x"', json_schema={"type": "object"})


@pytest.mark.usefixtures("dummy_key")
def test_a_model_with_structured_output_is_sent_the_json_schema() -> None:
    with OpenAICompatServer(['{"step": {"action": "List Files"}}']) as server:
        entry = ModelEntry(model=MODEL, api_base=server.base_url, structured_output="json_schema")
        LiteLLMModel(entry, PRICE).complete(
            MESSAGES, agent="planner", temperature=0.2, max_tokens=50, reply_format=FORMAT
        )
        (request,) = server.requests
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "planner-step", "schema": {"type": "object"}, "strict": True},
    }


@pytest.mark.usefixtures("dummy_key")
def test_without_structured_output_the_format_is_left_to_the_prompt() -> None:
    with OpenAICompatServer(["Action: List Files"]) as server:
        entry = ModelEntry(model=MODEL, api_base=server.base_url, structured_output="off")
        LiteLLMModel(entry, PRICE).complete(
            MESSAGES, agent="planner", temperature=0.2, max_tokens=50, reply_format=FORMAT
        )
        (request,) = server.requests
    assert "response_format" not in request
