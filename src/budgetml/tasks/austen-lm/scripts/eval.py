"""Scores a submission of the austen-lm task: bits per character on held-out Austen text.

`get_score(submission_folder)` runs the workspace's `lm.py` in two fresh processes of the
submission (`budgetml_submission.new_process`, see BudgetML's env/submission_host.py), so that
no state carries over from one to the other:
  1. "score": `model = lm.load(workspace)`, then `lm.next_char_log2_probs(model, text)` on the
     held-out text (`heldout.txt`, next to this file at scoring time); the score is
     -mean(log2 probabilities), lower is better;
  2. "check": `lm.next_char_distribution(model, text[:i])` at CHECKS positions, in increasing
     order, drawn with the secret seed prepare.py wrote (`check_seed.txt`, next to this file at
     scoring time; a seed in this published file would tell a model where it may claim
     certainty unchecked). Each distribution must be one over ALPHABET summing to 1, and give
     the character at i the probability that step 1 claimed: a model cannot score well by
     claiming probabilities it does not spread over the alphabet, or by peeking at the
     character it predicts.
Each process runs in a sandbox of its own that sees a fresh copy of the workspace and nothing
else of the scoring: not heldout.txt, not what the other process wrote, not this process. So
the check step knows of the text only the part before the position it is asked about.
An invalid submission raises ValueError with what is wrong.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import budgetml_submission
import numpy as np

HERE = Path(__file__).resolve().parent
ALPHABET = "\n" + "".join(chr(code) for code in range(32, 127))
CHECKS = 100
SUM_TOLERANCE = 1e-3
AGREEMENT_BITS = 0.01
PHASE_TIMEOUT_S = 120


def get_score(submission_folder: str) -> float:
    workspace = Path(submission_folder).resolve()
    if not (workspace / "lm.py").is_file():
        raise ValueError("lm.py is missing from the workspace; the evaluation calls its functions")
    text = (HERE / "heldout.txt").read_text(encoding="ascii")
    claimed = _claimed_log2_probs(workspace, text)
    positions = _check_positions(len(text), int((HERE / "check_seed.txt").read_text()))
    distributions = _distributions(workspace, text, positions)
    for i, distribution in zip(positions, distributions, strict=True):
        _check_distribution(distribution, i, text[i], claimed[i])
    return float(-claimed.mean())


def _claimed_log2_probs(workspace: Path, text: str) -> np.ndarray:
    with _phase(workspace, "score") as (lm, model):
        raw = lm.next_char_log2_probs(model, text)
    try:
        claimed = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
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


def _check_positions(length: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    drawn = rng.choice(np.arange(1, length), size=CHECKS - 1, replace=False)
    return [0, *sorted(int(i) for i in drawn)]


def _distributions(workspace: Path, text: str, positions: list[int]) -> list[list[Any]]:
    """Each position's distribution as [character, probability] pairs, asked in increasing
    order of position, so that no call is handed a character a later one must predict."""
    found = []
    with _phase(workspace, "check") as (lm, model):
        for i in positions:  # increasing
            distribution = lm.next_char_distribution(model, text[:i])
            try:
                pairs = [
                    [c if isinstance(c, str) else f"{type(c).__name__} {c!r}", float(p)]
                    for c, p in dict(distribution).items()
                ]
            except (TypeError, ValueError) as exc:
                where = f"next_char_distribution(model, text[:{i}])"
                raise ValueError(f"{where} is not a dict of probabilities: {exc}") from exc
            found.append(pairs)
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


@contextlib.contextmanager
def _phase(workspace: Path, phase: str) -> Iterator[tuple[Any, Any]]:
    """lm.py and `lm.load(workspace)` in a fresh process of the submission, killed at the end
    of the block; its failures become ValueErrors that say which step failed."""
    try:
        with budgetml_submission.new_process(timeout_s=PHASE_TIMEOUT_S) as process:
            lm = process.module("lm.py", "lm")
            yield lm, budgetml_submission.kept(lm.load, str(workspace))  # the model stays there
    except budgetml_submission.SubmissionTimedOut:
        raise ValueError(
            f"lm.py took over {PHASE_TIMEOUT_S} s in the {phase} step of the evaluation"
        ) from None
    except ValueError as exc:
        if str(exc).startswith("next_char_"):
            raise
        raise ValueError(f"lm.py failed in the {phase} step of the evaluation: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - whatever lm.py raised, in its process
        why = f"{type(exc).__name__}: {exc}"[:300]
        raise ValueError(f"lm.py failed in the {phase} step of the evaluation: {why}") from exc
