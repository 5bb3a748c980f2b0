"""Scores a submission of the austen-lm task: bits per character on held-out Austen text.

`get_score(submission_folder)` runs the workspace's `lm.py` in two fresh Python processes, so
that no state carries over from one to the other:
  1. "score": `model = lm.load(workspace)`, then `lm.next_char_log2_probs(model, text)` on the
     held-out text (`heldout.txt`, next to this file at scoring time); the score is
     -mean(log2 probabilities), lower is better;
  2. "check": `lm.next_char_distribution(model, text[:i])` at CHECKS positions drawn with a
     fixed seed. Each distribution must be one over ALPHABET summing to 1, and give the
     character at i the probability that step 1 claimed: a model cannot score well by
     claiming probabilities it does not spread over the alphabet, or by peeking at the
     character it predicts.
An invalid submission raises ValueError with what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ALPHABET = "\n" + "".join(chr(code) for code in range(32, 127))
CHECKS = 100
SEED = 0
SUM_TOLERANCE = 1e-3
AGREEMENT_BITS = 0.01
PHASE_TIMEOUT_S = 120

# Runs in the workspace, in a fresh interpreter: argv = workspace, phase, output file; the
# text (and the positions to check) arrive as JSON on stdin, read before lm.py is imported.
RUNNER = r"""
import importlib.util, json, sys
from pathlib import Path
import numpy as np
workspace, phase, output = sys.argv[1:4]
request = json.loads(sys.stdin.read())
sys.path.insert(0, workspace)
spec = importlib.util.spec_from_file_location("lm", Path(workspace) / "lm.py")
lm = importlib.util.module_from_spec(spec)
sys.modules["lm"] = lm
spec.loader.exec_module(lm)
model = lm.load(workspace)
text = request["text"]
if phase == "score":
    claimed = lm.next_char_log2_probs(model, text)
    np.save(output, np.asarray(claimed, dtype=np.float64), allow_pickle=False)
else:
    found = []
    for i in request["positions"]:
        distribution = dict(lm.next_char_distribution(model, text[:i]))
        found.append([[c if isinstance(c, str) else f"{type(c).__name__} {c!r}", float(p)]
                      for c, p in distribution.items()])
    Path(output).write_text(json.dumps(found), encoding="utf-8")
"""


def get_score(submission_folder: str) -> float:
    workspace = Path(submission_folder).resolve()
    if not (workspace / "lm.py").is_file():
        raise ValueError("lm.py is missing from the workspace; the evaluation calls its functions")
    text = (HERE / "heldout.txt").read_text(encoding="ascii")
    claimed = _claimed_log2_probs(workspace, text)
    positions = _check_positions(len(text))
    distributions = _distributions(workspace, text[: max(positions)], positions)
    for i, distribution in zip(positions, distributions, strict=True):
        _check_distribution(distribution, i, text[i], claimed[i])
    return float(-claimed.mean())


def _claimed_log2_probs(workspace: Path, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "claimed.npy"
        _run(workspace, "score", {"text": text}, output)
        try:
            claimed = np.load(output, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"next_char_log2_probs returned no usable array: {exc}") from exc
    if claimed.shape != (len(text),):
        raise ValueError(
            f"next_char_log2_probs returned shape {claimed.shape}; it must return one "
            f"log2 probability per character, shape ({len(text)},)"
        )
    if not np.isfinite(claimed).all():
        raise ValueError(
            "next_char_log2_probs returned NaN or -inf values: give every character of the "
            "alphabet a non-zero probability"
        )
    if (claimed > 1e-9).any():
        raise ValueError("next_char_log2_probs returned log2 probabilities above 0")
    return claimed


def _check_positions(length: int) -> list[int]:
    rng = np.random.default_rng(SEED)
    drawn = rng.choice(np.arange(1, length), size=CHECKS - 1, replace=False)
    return [0, *sorted(int(i) for i in drawn)]


def _distributions(workspace: Path, text: str, positions: list[int]) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "distributions.json"
        _run(workspace, "check", {"text": text, "positions": positions}, output)
        try:
            found = json.loads(output.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"next_char_distribution gave no usable result: {exc}") from exc
    return found


def _check_distribution(pairs: list[list[Any]], i: int, actual: str, claimed: float) -> None:
    where = f"next_char_distribution(model, text[:{i}])"
    probs = dict(pairs)
    strange = sorted(set(probs) - set(ALPHABET))
    if strange:
        raise ValueError(f"{where} has keys outside the alphabet: {strange[:5]!r}")
    values = np.array(list(probs.values()), dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{where} has negative, NaN or infinite probabilities")
    total = float(values.sum())
    if abs(total - 1) > SUM_TOLERANCE:
        raise ValueError(
            f"{where} sums to {total:.6f} over the alphabet; a distribution must sum to 1"
        )
    given = probs.get(actual, 0.0)
    bits = math.log2(given) if given > 0 else -math.inf
    if not abs(bits - claimed) <= AGREEMENT_BITS:
        raise ValueError(
            f"next_char_log2_probs and next_char_distribution disagree at position {i}: "
            f"the next character's log2 probability is {claimed:.4f} in one and {bits:.4f} "
            "in the other; a character's probability may depend only on the text before it"
        )


def _run(workspace: Path, phase: str, request: dict[str, Any], output: Path) -> None:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    try:
        result = subprocess.run(
            [sys.executable, "-c", RUNNER, str(workspace), phase, str(output)],
            cwd=workspace,
            input=json.dumps(request),
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=PHASE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(
            f"lm.py took over {PHASE_TIMEOUT_S} s in the {phase} step of the evaluation"
        ) from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {result.returncode}"
        raise ValueError(f"lm.py failed in the {phase} step of the evaluation: {last[:300]}")
