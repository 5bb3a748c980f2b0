"""A GGUF served by llama-cpp-python's OpenAI-compatible server, called through LiteLLMModel.

This is the documented way to run a local model out of process: `python -m llama_cpp.server`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from budgetml.agents.parser import parse_reply
from budgetml.agents.reply_format import as_reply_text, reply_format
from budgetml.agents.step_options import step_options
from budgetml.config import ModelEntry, Price
from budgetml.env.actions import ACTIONS
from budgetml.llm.base import Message
from budgetml.llm.litellm_model import LiteLLMModel

START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"llama_cpp.server did not answer {url} in {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture
def llama_server(tiny_gguf: Path, tmp_path: Path) -> Iterator[str]:
    """The server's base URL (…/v1); the server is always stopped afterwards."""
    port = _free_port()
    log = tmp_path / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_gguf),
        "--model_alias", "tiny", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        _wait_until_serving(proc, f"{base_url}/models", log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_litellm_model_calls_a_gguf_served_by_llama_cpp_server(llama_server: str) -> None:
    entry = ModelEntry(model="openai/tiny", api_base=llama_server)
    model = LiteLLMModel(entry, Price(input=0.0, output=0.0), seed=3)
    messages = [Message("system", "You plan."), Message("user", "What next?")]
    done = model.complete(messages, agent="planner", temperature=0.5, max_tokens=6)
    assert done.text
    assert done.model == "openai/tiny"
    assert done.usage.input_tokens > 0
    assert done.usage.output_tokens == 6  # the tiny model always runs to max_tokens
    assert done.cost_usd == 0.0


def test_structured_output_from_llama_cpp_server_reads_as_a_usable_reply(
    llama_server: str, tmp_path: Path
) -> None:
    """A random-weight GGUF behind the real server, held to the step's JSON schema: only the
    schema can make its reply usable."""
    (tmp_path / "train.py").write_text("print(1)\n")
    actions = [a for a in ACTIONS if a.name in ("List Files", "Execute Script")]
    options = step_options(actions, [], tmp_path, skip_known_results=True)
    entry = ModelEntry(model="openai/tiny", api_base=llama_server, structured_output="json_object")
    model = LiteLLMModel(entry, Price(input=0.0, output=0.0), seed=3)
    done = model.complete(
        [Message("user", "Plan the next step.")],
        agent="planner",
        temperature=1.0,
        max_tokens=1500,
        reply_format=reply_format(options),
    )
    reply = parse_reply(
        as_reply_text(done.text), {o.name: o.action.input_names for o in options.offers}
    )
    assert reply.action in ("List Files", "Execute Script")
    if reply.action == "Execute Script":
        assert reply.action_input == {"script_name": "train.py"}


def test_structured_output_stays_off_for_a_model_litellm_does_not_know(llama_server: str) -> None:
    model = LiteLLMModel(
        ModelEntry(model="openai/tiny", api_base=llama_server), Price(input=0, output=0)
    )
    assert model.structured_output == "off"
