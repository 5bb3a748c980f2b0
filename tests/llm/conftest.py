"""Fixtures for the local-model tests: a tiny GGUF, written once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight llama GGUF of about 0.5 MB (see tiny_gguf.py); imported here, not at the
    top, so the other llm tests do not need the gguf package."""
    from tests.llm.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
