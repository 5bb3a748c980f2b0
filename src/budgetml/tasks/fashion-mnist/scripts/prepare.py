"""Builds the fashion-mnist task data: `python prepare.py DATA_DIR`.

Reads Fashion-MNIST's IDX files from the Debian package `dataset-fashion-mnist` and keeps a
stratified subsample so that training stays quick on two CPU cores:
- DATA_DIR/env/data/train.npz: 12,000 images of the official training set (1,200 per class),
  `images` (uint8, N x 28 x 28) and `labels` (uint8);
- DATA_DIR/env/data/test.npz: 3,000 images of the official test set (300 per class),
  `ids` and `images`, no labels;
- DATA_DIR/private/test_labels.csv: `id,label` of those 3,000 test images.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

from budgetml.data.debian import package_dir

SEED = 0
TRAIN_PER_CLASS = 1200
TEST_PER_CLASS = 300


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip) as a uint8 array: a big-endian header, then the raw bytes."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` indices of every class, drawn at random, in shuffled order."""
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    return rng.permutation(np.concatenate(picked))


def main(data_dir: Path) -> None:
    source = package_dir("dataset-fashion-mnist") / "usr/share/datasets/fashion-mnist"
    rng = np.random.default_rng(SEED)
    train_x = read_idx(source / "train-images-idx3-ubyte.gz")
    train_y = read_idx(source / "train-labels-idx1-ubyte.gz")
    test_x = read_idx(source / "t10k-images-idx3-ubyte.gz")
    test_y = read_idx(source / "t10k-labels-idx1-ubyte.gz")

    train = stratified(train_y, TRAIN_PER_CLASS, rng)
    test = stratified(test_y, TEST_PER_CLASS, rng)
    ids = np.arange(len(test))

    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(data / "train.npz", images=train_x[train], labels=train_y[train])
    np.savez_compressed(data / "test.npz", ids=ids, images=test_x[test])
    with (private / "test_labels.csv").open("w", encoding="utf-8") as out:
        out.write("id,label\n")
        out.writelines(f"{i},{label}\n" for i, label in zip(ids, test_y[test], strict=True))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
