"""Baseline language model: character bigrams with add-one smoothing.

Trains on data/train.txt, saves the model to output/model.npz (lm.py reads it back) and prints
bits per character on data/valid.txt. lm.py holds the functions the evaluation calls.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # numpy work only: extra threads only contend

from pathlib import Path

import numpy as np

import lm

train_text = Path("data/train.txt").read_text(encoding="ascii")
valid_text = Path("data/valid.txt").read_text(encoding="ascii")

x = lm.encode(train_text)
vocab = len(lm.ALPHABET)
# counts[a, b]: how often character b follows character a in the training text.
counts = np.bincount(x[:-1] * vocab + x[1:], minlength=vocab * vocab).reshape(vocab, vocab)

(Path("output")).mkdir(exist_ok=True)
np.savez(lm.MODEL_FILE, bigram_counts=counts)
print(f"Saved the model to {lm.MODEL_FILE}")

model = lm.load(".")
bits = -lm.next_char_log2_probs(model, valid_text).mean()
print(f"Validation bits per character: {bits:.4f}")
