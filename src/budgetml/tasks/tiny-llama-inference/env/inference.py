"""Greedy text generation with a tiny Llama-style language model, in numpy.

The model is a decoder-only transformer over bytes (vocabulary of 256): token embeddings, then
layers of RMSNorm, causal multi-head self-attention with rotary position embeddings (RoPE),
RMSNorm and a SwiGLU feed-forward network, each with a residual connection; a final RMSNorm and a
linear head give the next-byte logits. Its weights are in data/model.npz; it computes in float64.

`load_model(path)` and `generate(model, prompts, max_new_tokens)` are what the evaluation calls.
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


class TinyLlama:
    """The model: a dict of weight arrays and the forward pass."""

    def __init__(self, weights):
        self.weights = {name: np.asarray(w, dtype=np.float64) for name, w in weights.items()}
        self.n_layers = int(weights["n_layers"])
        self.n_heads = int(weights["n_heads"])
        self.dim = self.weights["embedding"].shape[1]
        self.head_dim = self.dim // self.n_heads
        self.rope_theta = float(weights["rope_theta"])
        self.norm_eps = float(weights["norm_eps"])

    def rms_norm(self, x, weight):
        """Scale each row of x (tokens, dim) to unit root mean square, then by weight."""
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.norm_eps) * weight

    def rotary(self, x, positions):
        """Rotate pairs of features of x (tokens, heads, head_dim) by position-dependent angles."""
        half = self.head_dim // 2
        frequencies = 1.0 / self.rope_theta ** (np.arange(half) / half)
        angles = positions[:, None] * frequencies[None, :]  # (tokens, half)
        cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
        x1, x2 = x[..., :half], x[..., half:]
        return np.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)

    def attention(self, x, layer, positions):
        """Causal multi-head self-attention over the whole sequence x (tokens, dim)."""
        w = self.weights
        tokens = x.shape[0]
        q = (x @ w[f"layers.{layer}.wq"]).reshape(tokens, self.n_heads, self.head_dim)
        k = (x @ w[f"layers.{layer}.wk"]).reshape(tokens, self.n_heads, self.head_dim)
        v = (x @ w[f"layers.{layer}.wv"]).reshape(tokens, self.n_heads, self.head_dim)
        q, k = self.rotary(q, positions), self.rotary(k, positions)
        out = np.zeros((tokens, self.n_heads, self.head_dim))
        for h in range(self.n_heads):
            scores = q[:, h, :] @ k[:, h, :].T / np.sqrt(self.head_dim)  # (tokens, tokens)
            # Each token attends to itself and the tokens before it.
            future = np.triu(np.ones((tokens, tokens), dtype=bool), k=1)
            scores = np.where(future, -np.inf, scores)
            scores = scores - scores.max(axis=-1, keepdims=True)
            probabilities = np.exp(scores)
            probabilities = probabilities / probabilities.sum(axis=-1, keepdims=True)
            out[:, h, :] = probabilities @ v[:, h, :]
        return out.reshape(tokens, self.dim) @ w[f"layers.{layer}.wo"]

    def feed_forward(self, x, layer):
        """SwiGLU: (silu(x W1) * (x W3)) W2."""
        w = self.weights
        gate = x @ w[f"layers.{layer}.w1"]
        up = x @ w[f"layers.{layer}.w3"]
        return (gate / (1.0 + np.exp(-gate)) * up) @ w[f"layers.{layer}.w2"]

    def forward(self, tokens):
        """Logits (len(tokens), vocab) of the next token after every prefix of tokens."""
        w = self.weights
        positions = np.arange(len(tokens), dtype=np.float64)
        x = w["embedding"][np.asarray(tokens)]
        for layer in range(self.n_layers):
            h = self.rms_norm(x, w[f"layers.{layer}.attention_norm"])
            x = x + self.attention(h, layer, positions)
            h = self.rms_norm(x, w[f"layers.{layer}.ffn_norm"])
            x = x + self.feed_forward(h, layer)
        return self.rms_norm(x, w["norm"]) @ w["output"]


def load_model(path=MODEL_PATH):
    """The model with the weights stored at path."""
    with np.load(path) as data:
        return TinyLlama({name: data[name] for name in data.files})


def generate(model, prompts, max_new_tokens):
    """Greedy decoding: the max_new_tokens most likely next tokens after each prompt.

    prompts: list of lists of token ids (bytes, 0..255). Returns one list of max_new_tokens
    token ids per prompt. Every step runs the model over the whole sequence so far.
    """
    outputs = []
    for prompt in prompts:
        tokens = list(prompt)
        new_tokens = []
        for _ in range(max_new_tokens):
            logits = model.forward(tokens)
            next_token = int(np.argmax(logits[-1]))
            tokens.append(next_token)
            new_tokens.append(next_token)
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
