"""The language model's interface: the evaluation imports this file and calls its functions.

Keep the three functions below, their names and what they return; change everything else
(the model, how it is stored, how it computes probabilities) as you like. The evaluation:
  1. calls `load(workspace)` once, in a fresh Python process whose working directory is the
     workspace, and `next_char_log2_probs(model, text)` on the held-out text; the score is
     bits per character, -mean(log2 probabilities), lower is better;
  2. calls `load(workspace)` again in another fresh process, and
     `next_char_distribution(model, text[:i])` at about 100 random positions i. Each
     distribution must sum to 1 (within 1e-3) over ALPHABET, and must agree (within 0.01 bits)
     with the log-probability that step 1 claimed for the character that actually comes next.
The probability of a character may depend only on the characters before it.

Texts use the fixed alphabet ALPHABET: newline, then the 95 printable ASCII characters (space
to "~"). The training and held-out texts contain nothing else: when the data was prepared,
any other character was replaced with the placeholder "~" (Austen never uses "~"; only one "£"
in the six novels became one). Give every character of ALPHABET a non-zero probability.
"""

from pathlib import Path

import numpy as np

ALPHABET = "\n" + "".join(chr(code) for code in range(32, 127))
PLACEHOLDER = "~"  # stands for any character outside ALPHABET
MODEL_FILE = Path("output") / "model.npz"

# Index in ALPHABET of each character code below 128; the placeholder's for the others.
_ASCII_INDEX = np.full(128, ALPHABET.index(PLACEHOLDER), dtype=np.int64)
_ASCII_INDEX[[ord(c) for c in ALPHABET]] = np.arange(len(ALPHABET))


def encode(text: str) -> np.ndarray:
    """The characters of `text` as indices into ALPHABET (others map to the placeholder)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return _ASCII_INDEX[np.minimum(codes, 127)]


def load(workspace: str | Path = ".") -> dict[str, np.ndarray]:
    """The model that train.py saved in `workspace`."""
    with np.load(Path(workspace) / MODEL_FILE) as saved:
        return {name: saved[name] for name in saved.files}


def next_char_log2_probs(model: dict[str, np.ndarray], text: str) -> np.ndarray:
    """Entry i is log2 P(text[i] | text[:i]); shape (len(text),)."""
    x = encode(text)
    probs = np.empty(len(x))
    if len(x) == 0:
        return probs
    probs[0] = _unigram(model)[x[0]]
    counts = model["bigram_counts"]
    # Add-one smoothing: every bigram counts once more than it was seen.
    probs[1:] = (counts[x[:-1], x[1:]] + 1) / (counts[x[:-1]].sum(axis=1) + len(ALPHABET))
    return np.log2(probs)


def next_char_distribution(model: dict[str, np.ndarray], context: str) -> dict[str, float]:
    """P(next character | context) for every character of ALPHABET."""
    if not context:
        probs = _unigram(model)
    else:
        row = model["bigram_counts"][encode(context[-1])[0]]
        probs = (row + 1) / (row.sum() + len(ALPHABET))
    return dict(zip(ALPHABET, probs.tolist(), strict=True))


def _unigram(model: dict[str, np.ndarray]) -> np.ndarray:
    """P(first character): character frequencies, add-one smoothed."""
    counts = model["bigram_counts"].sum(axis=0)
    return (counts + 1) / (counts.sum() + len(ALPHABET))
