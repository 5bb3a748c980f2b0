"""Greedy text generation with a tiny Llama-style language model, in numpy, with a KV cache.

Reference solution: the prompt is run through the model once (prefill), keeping every layer's
keys and values; each new token then runs alone, attending to the cached keys and values, so a
step costs one token's work instead of the whole sequence's. Rotary tables are computed once.
Same arithmetic, same float64 precision: the generated tokens are those of the original.
"""

import os
import time
from pathlib import Path

# The matrices are small: one BLAS thread is fastest, and steady on a busy machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402 - after the thread settings, which numpy reads when imported

MODEL_PATH = Path("data/model.npz")
MAX_POSITIONS = 4096  # rotary tables are precomputed up to this sequence length


class TinyLlama:
    """The model: weights, precomputed rotary tables, and a forward pass over new tokens."""

    def __init__(self, weights):
        self.weights = {name: np.asarray(w, dtype=np.float64) for name, w in weights.items()}
        self.n_layers = int(weights["n_layers"])
        self.n_heads = int(weights["n_heads"])
        self.dim = self.weights["embedding"].shape[1]
        self.head_dim = self.dim // self.n_heads
        self.rope_theta = float(weights["rope_theta"])
        self.norm_eps = float(weights["norm_eps"])
        w = self.weights
        self.layers = [
            {
                name: w[f"layers.{layer}.{name}"]
                for name in ("attention_norm", "ffn_norm", "wq", "wk", "wv", "wo", "w1", "w2", "w3")
            }
            for layer in range(self.n_layers)
        ]
        half = self.head_dim // 2
        frequencies = 1.0 / self.rope_theta ** (np.arange(half) / half)
        angles = np.arange(MAX_POSITIONS, dtype=np.float64)[:, None] * frequencies[None, :]
        self.cos = np.cos(angles)[:, None, :]  # (positions, 1, half)
        self.sin = np.sin(angles)[:, None, :]
        self.scale = np.sqrt(self.head_dim)

    def rms_norm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.norm_eps) * weight

    def rotary(self, x, start):
        """Rotary embedding of x (tokens, heads, head_dim) at positions start, start + 1, ..."""
        half = self.head_dim // 2
        cos, sin = self.cos[start : start + x.shape[0]], self.sin[start : start + x.shape[0]]
        x1, x2 = x[..., :half], x[..., half:]
        return np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)

    def attention(self, x, p, cache, start):
        """Causal attention of the new tokens x (tokens, dim) to the cache and to each other."""
        tokens = x.shape[0]
        q = (x @ p["wq"]).reshape(tokens, self.n_heads, self.head_dim)
        k = (x @ p["wk"]).reshape(tokens, self.n_heads, self.head_dim)
        v = (x @ p["wv"]).reshape(tokens, self.n_heads, self.head_dim)
        q, k = self.rotary(q, start), self.rotary(k, start)
        end = start + tokens
        cache["k"][start:end] = k
        cache["v"][start:end] = v
        keys, values = cache["k"][:end], cache["v"][:end]
        out = np.empty((tokens, self.n_heads, self.head_dim))
        for h in range(self.n_heads):
            scores = q[:, h, :] @ keys[:, h, :].T / self.scale  # (tokens, end)
            if tokens > 1:
                future = np.triu(np.ones((tokens, end), dtype=bool), k=start + 1)
                scores = np.where(future, -np.inf, scores)
            scores = scores - scores.max(axis=-1, keepdims=True)
            probabilities = np.exp(scores)
            probabilities = probabilities / probabilities.sum(axis=-1, keepdims=True)
            out[:, h, :] = probabilities @ values[:, h, :]
        return out.reshape(tokens, self.dim) @ p["wo"]

    def feed_forward(self, x, p):
        gate = x @ p["w1"]
        up = x @ p["w3"]
        return (gate / (1.0 + np.exp(-gate)) * up) @ p["w2"]

    def new_cache(self, length):
        shape = (length, self.n_heads, self.head_dim)
        return [{"k": np.empty(shape), "v": np.empty(shape)} for _ in range(self.n_layers)]

    def forward(self, tokens, cache, start):
        """Logits of the token after the last of tokens, which sit at positions start, ..."""
        w = self.weights
        x = w["embedding"][np.asarray(tokens)]
        for p, layer_cache in zip(self.layers, cache, strict=True):
            x = x + self.attention(self.rms_norm(x, p["attention_norm"]), p, layer_cache, start)
            x = x + self.feed_forward(self.rms_norm(x, p["ffn_norm"]), p)
        return self.rms_norm(x[-1:], w["norm"]) @ w["output"]


def load_model(path=MODEL_PATH):
    """The model with the weights stored at path."""
    with np.load(path) as data:
        return TinyLlama({name: data[name] for name in data.files})


def generate(model, prompts, max_new_tokens):
    """Greedy decoding: the max_new_tokens most likely next tokens after each prompt."""
    outputs = []
    for prompt in prompts:
        cache = model.new_cache(len(prompt) + max_new_tokens)
        logits = model.forward(list(prompt), cache, 0)
        position = len(prompt)
        new_tokens = []
        while True:
            next_token = int(np.argmax(logits[-1]))
            new_tokens.append(next_token)
            if len(new_tokens) == max_new_tokens:
                break
            logits = model.forward([next_token], cache, position)
            position += 1
        outputs.append(new_tokens)
    return outputs


#### DO NOT EDIT ######

PROMPTS = [
    "It is a truth universally acknowledged",
    "The quick brown fox",
    "def fibonacci(n):",
    "Once upon a time, in a land far away,",
    "To be, or not to be",
    "SELECT name FROM users",
    "The weather today is",
    "import numpy as np",
]
MAX_NEW_TOKENS = 48

if __name__ == "__main__":
    model = load_model()
    prompts = [list(text.encode("utf-8")) for text in PROMPTS]
    start = time.perf_counter()
    outputs = generate(model, prompts, MAX_NEW_TOKENS)
    elapsed = time.perf_counter() - start
    total_tokens = sum(len(tokens) for tokens in outputs)
    print("First generation:", repr(bytes(outputs[0]).decode("utf-8", errors="replace")))
    print("Tokens per second:", total_tokens / elapsed)

#### DO NOT EDIT ######
