"""The language model's interface: the evaluation imports this file and calls its functions.

Reference solution: an interpolated character n-gram model (order 6) with Witten-Bell
smoothing. P(c | h) mixes the counts after the last 5, 4, ..., 1 characters and the character
frequencies: each order's estimate is (C(h c) + T(h) P_lower(c)) / (C(h) + T(h)), where C
counts what followed the context h in the training text and T(h) is the number of different
characters seen after it. Contexts never seen fall back to the lower order.

Texts use the fixed alphabet ALPHABET: newline, then the 95 printable ASCII characters; any
other character maps to the placeholder "~". Keep `load`, `next_char_log2_probs` and
`next_char_distribution`: the evaluation calls them (see the starter's lm.py).
"""

from pathlib import Path

import numpy as np

ALPHABET = "\n" + "".join(chr(code) for code in range(32, 127))
PLACEHOLDER = "~"  # stands for any character outside ALPHABET
MODEL_FILE = Path("output") / "model.npz"
ORDER = 6  # characters in an n-gram: 5 of context and the predicted one
V = len(ALPHABET)

# Index in ALPHABET of each character code below 128; the placeholder's for the others.
_ASCII_INDEX = np.full(128, ALPHABET.index(PLACEHOLDER), dtype=np.int64)
_ASCII_INDEX[[ord(c) for c in ALPHABET]] = np.arange(V)


def encode(text: str) -> np.ndarray:
    """The characters of `text` as indices into ALPHABET (others map to the placeholder)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return _ASCII_INDEX[np.minimum(codes, 127)]


def context_codes(x: np.ndarray, k: int) -> np.ndarray:
    """For each position i, the k characters before it as one integer; -1 where i < k."""
    code = np.zeros(len(x), dtype=np.int64)
    for back in range(1, k + 1):
        shifted = np.zeros(len(x), dtype=np.int64)
        shifted[back:] = x[:-back]
        code += shifted * V ** (back - 1)
    code[:k] = -1
    return code


def train(x: np.ndarray) -> dict[str, np.ndarray]:
    """Counts of the encoded training text `x`, as the arrays that lm.load returns."""
    model = {"unigram": np.bincount(x, minlength=V).astype(np.int64)}
    for k in range(1, ORDER):
        pairs = np.unique(context_codes(x, k)[k:] * V + x[k:], return_counts=True)
        contexts, which = np.unique(pairs[0] // V, return_inverse=True)
        model[f"pairs{k}"] = pairs[0]
        model[f"pair_counts{k}"] = pairs[1].astype(np.int32)
        model[f"contexts{k}"] = contexts
        model[f"context_totals{k}"] = np.bincount(which, weights=pairs[1]).astype(np.int64)
        model[f"context_types{k}"] = np.bincount(which).astype(np.int32)
    return model


def load(workspace: str | Path = ".") -> dict[str, np.ndarray]:
    """The model that train.py saved in `workspace`."""
    with np.load(Path(workspace) / MODEL_FILE) as saved:
        return {name: saved[name] for name in saved.files}


def next_char_log2_probs(model: dict[str, np.ndarray], text: str) -> np.ndarray:
    """Entry i is log2 P(text[i] | text[:i]); shape (len(text),)."""
    x = encode(text)
    codes = [context_codes(x, k) for k in range(1, ORDER)]
    return np.log2(_interpolated(model, codes, x))


def next_char_distribution(model: dict[str, np.ndarray], context: str) -> dict[str, float]:
    """P(next character | context) for every character of ALPHABET."""
    x = encode(context)
    codes = []
    for k in range(1, ORDER):
        code = -1
        if len(x) >= k:
            code = int(sum(int(x[-back]) * V ** (back - 1) for back in range(1, k + 1)))
        codes.append(np.full(V, code, dtype=np.int64))
    probs = _interpolated(model, codes, np.arange(V))
    return dict(zip(ALPHABET, probs.tolist(), strict=True))


def _interpolated(
    model: dict[str, np.ndarray], codes: list[np.ndarray], nxt: np.ndarray
) -> np.ndarray:
    """P(nxt[i] | context i), where codes[k - 1][i] is context i's last k characters."""
    unigram = model["unigram"]
    probs = ((unigram + 1) / (unigram.sum() + V))[nxt]
    for k, code in enumerate(codes, start=1):
        contexts = model[f"contexts{k}"]
        at = np.minimum(np.searchsorted(contexts, code), len(contexts) - 1)
        seen = (contexts[at] == code) & (code >= 0)
        pairs = model[f"pairs{k}"]
        pair = code * V + nxt
        at_pair = np.minimum(np.searchsorted(pairs, pair), len(pairs) - 1)
        count = np.where(seen & (pairs[at_pair] == pair), model[f"pair_counts{k}"][at_pair], 0)
        total = model[f"context_totals{k}"][at]
        types = model[f"context_types{k}"][at]
        mixed = (count + types * probs) / np.maximum(total + types, 1)
        probs = np.where(seen, mixed, probs)
    return probs
