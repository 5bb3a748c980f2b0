"""The main job on the real embedded models: no key, no --model, the default `budget` preset.

Slow (a planning step on a 2-core CPU takes tens of seconds): `pytest -m slow`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from budgetml.llm.model_registry import DEFAULT_MODELS, pull

pytestmark = pytest.mark.slow


def test_run_with_no_key_and_no_model_uses_the_pulled_qwen_models(tmp_path: Path) -> None:
    for name in DEFAULT_MODELS:
        pull(name)  # a no-op once present
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "budgetml",
            "run",
            "vectorization",
            "--max-steps",
            "2",
            "--out",
            "run",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert "Traceback" not in result.stderr
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["config"] == "budget"
    assert summary["status"] in {"completed", "max_steps", "error"}
    qwen = summary["tokens"]["local/qwen2.5-coder-0.5b-instruct"]
    assert qwen["calls"] >= 1 and qwen["input"] > 1000 and qwen["output"] > 0
    assert summary["cost_usd"] == 0
