"""Builds the tiny-llama-inference data: the model's weights and the expected generations.

Usage: python prepare.py DATA_DIR. Writes
- DATA_DIR/env/data/model.npz: the weights of a tiny Llama-style byte-level language model, drawn
  at random from a fixed seed (the task is about inference speed, so the model needs no training),
  stored as float32 and used in float64;
- DATA_DIR/private/expected.json: the hidden benchmark prompts that eval.py times, and the tokens
  the original implementation (reference.py, a pristine copy of env/inference.py) generates for
  them. It checks that every greedy choice wins by a clear margin, so a correct faster
  implementation, whose float64 rounding differs, still makes the same choices. The prompts
  come from a seed drawn here at random, not from SEED: this file is published, and a
  submission that could draw the prompts again would generate their tokens before it is timed.

The expected tokens depend on reference.py: edit this file too (so that it runs again) when the
model code in reference.py changes.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

# One BLAS thread, as in inference.py: many threads on these small matrices are slower, and much
# slower on a busy machine. Set before numpy is imported, which is when numpy reads it.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import numpy as np  # noqa: E402

import reference  # noqa: E402 - the pristine model code, next to this file

SEED = 1234
VOCAB = 256  # bytes
DIM = 128
N_LAYERS = 4
N_HEADS = 4
HIDDEN = 384  # SwiGLU width, 3 x DIM as in Llama (8/3 x DIM, rounded up)
ROPE_THETA = 10000.0
NORM_EPS = 1e-5
LOGIT_SCALE = 3.0  # makes the next-byte distribution peaked rather than almost uniform

# The hidden benchmark: one batch of prompts per timed run (fresh prompts each time, so caching
# outputs across calls cannot help), each batch with the same prompt lengths. eval.py keeps the
# fastest run: many short runs make it likely that one runs while the machine is quiet.
TIMED_RUNS = 8
PROMPT_LENGTHS = (16, 24, 32, 40)
MAX_NEW_TOKENS = 40
MIN_LOGIT_GAP = 1e-6  # float64 rounding differences are about 1e-13 at these logit sizes


def make_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def matrix(rows: int, cols: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(rows)).astype(np.float32)

    def norm() -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)

    weights = {"embedding": rng.standard_normal((VOCAB, DIM)).astype(np.float32)}
    for layer in range(N_LAYERS):
        prefix = f"layers.{layer}."
        weights[prefix + "attention_norm"] = norm()
        for name in ("wq", "wk", "wv", "wo"):
            weights[prefix + name] = matrix(DIM, DIM)
        weights[prefix + "ffn_norm"] = norm()
        weights[prefix + "w1"] = matrix(DIM, HIDDEN)
        weights[prefix + "w3"] = matrix(DIM, HIDDEN)
        weights[prefix + "w2"] = matrix(HIDDEN, DIM)
    weights["norm"] = norm()
    weights["output"] = matrix(DIM, VOCAB, LOGIT_SCALE)
    weights["n_layers"] = np.array(N_LAYERS)
    weights["n_heads"] = np.array(N_HEADS)
    weights["rope_theta"] = np.array(ROPE_THETA)
    weights["norm_eps"] = np.array(NORM_EPS)
    return weights


def random_prompts(rng: np.random.Generator) -> list[list[int]]:
    """Printable ASCII strings of the benchmark's lengths, in a random order."""
    lengths = rng.permutation(PROMPT_LENGTHS)
    return [rng.integers(32, 127, size=int(length)).tolist() for length in lengths]


def smallest_logit_gap(model: reference.TinyLlama, prompt: list[int], output: list[int]) -> float:
    """The smallest margin between the chosen token's logit and the runner-up's, over the steps."""
    tokens = prompt + output
    logits = model.forward(tokens)[len(prompt) - 1 : -1]  # the logits each choice was made from
    top_two = np.sort(logits, axis=-1)[:, -2:]
    if not np.array_equal(np.argmax(logits, axis=-1), output):
        raise RuntimeError("reference.generate disagrees with reference.forward")
    return float((top_two[:, 1] - top_two[:, 0]).min())


def main(data_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    np.savez(data / "model.npz", **make_weights(rng))

    model = reference.load_model(data / "model.npz")
    hidden = np.random.default_rng(secrets.randbits(128))
    runs: list[dict[str, object]] = []
    while len(runs) < TIMED_RUNS:
        prompts = random_prompts(hidden)
        outputs = reference.generate(model, prompts, MAX_NEW_TOKENS)
        gap = min(smallest_logit_gap(model, p, o) for p, o in zip(prompts, outputs, strict=True))
        if gap >= MIN_LOGIT_GAP:  # otherwise a greedy choice is nearly a tie: draw again
            runs.append({"prompts": prompts, "outputs": outputs, "smallest_logit_gap": gap})
    expected = {"max_new_tokens": MAX_NEW_TOKENS, "runs": runs}
    (private / "expected.json").write_text(json.dumps(expected), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python prepare.py DATA_DIR")
    main(Path(sys.argv[1]))
