"""Reference solution: an interpolated character 6-gram model (Witten-Bell smoothing).

Trains on data/train.txt, saves the counts to output/model.npz (lm.py reads them back) and
prints bits per character on data/valid.txt.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # numpy work only: extra threads only contend

from pathlib import Path

import numpy as np

import lm

train_text = Path("data/train.txt").read_text(encoding="ascii")
valid_text = Path("data/valid.txt").read_text(encoding="ascii")

model = lm.train(lm.encode(train_text))
Path("output").mkdir(exist_ok=True)
np.savez(lm.MODEL_FILE, **model)
print(f"Saved the model to {lm.MODEL_FILE}")

model = lm.load(".")
bits = -lm.next_char_log2_probs(model, valid_text).mean()
print(f"Validation bits per character: {bits:.4f}")
