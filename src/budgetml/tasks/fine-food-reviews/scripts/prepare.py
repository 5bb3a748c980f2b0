"""Builds the fine-food-reviews task data: `python prepare.py DATA_DIR`.

Reads `small_fine_foods` (the objects `training_data` and `testing_data`) from the R package
modeldata (Debian `r-cran-modeldata`) and keeps its own train/test split:
- DATA_DIR/env/data/train.csv: 4,000 reviews, `id,review,label` (label 1 = rated "great");
- DATA_DIR/env/data/test.csv: 1,000 reviews, `id,review`;
- DATA_DIR/private/test_labels.csv: `id,label` of the test reviews.
Rows are shuffled with a fixed seed and numbered in that order. The product code is left out:
every product appears in one review only, so it carries no signal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetml.data.rpackage import load_r_dataset

SEED = 0


def reviews(object_name: str, first_id: int, rng: np.random.Generator) -> pd.DataFrame:
    """One split of small_fine_foods, shuffled, with ids from `first_id` and a 0/1 label."""
    frame = load_r_dataset("r-cran-modeldata", "modeldata", object_name)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + len(frame)),
            "review": frame["review"].astype(str).str.strip(),
            "label": (frame["score"].astype(str) == "great").astype(int),
        }
    )


def main(data_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    train = reviews("training_data", 0, rng)
    test = reviews("testing_data", len(train), rng)

    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    train.to_csv(data / "train.csv", index=False)
    test[["id", "review"]].to_csv(data / "test.csv", index=False)
    test[["id", "label"]].to_csv(private / "test_labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
