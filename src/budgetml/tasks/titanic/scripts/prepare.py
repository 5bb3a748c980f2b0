"""Builds the titanic data: a seeded, stratified 70/30 split of 1,046 Titanic passengers.

Run as `python prepare.py DATA_DIR`. Writes DATA_DIR/env/data/train.csv (features and
survived), DATA_DIR/env/data/test.csv (features only) and DATA_DIR/private/test_labels.csv
(PassengerId, Survived), which only eval.py sees.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetml.data.rpackage import load_r_dataset

SEED = 20240611
TEST_FRACTION = 0.30


def main(data_dir: Path) -> None:
    passengers = load_r_dataset("r-cran-earth", "earth", "etitanic").reset_index(drop=True)
    passengers = pd.DataFrame(
        {
            "pclass": passengers.pclass.astype(str),
            "survived": passengers.survived.astype("int64"),
            "sex": passengers.sex.astype(str),
            "age": passengers.age.astype(float).round(4),
            "sibsp": passengers.sibsp.astype("int64"),
            "parch": passengers.parch.astype("int64"),
        }
    )

    # Ids follow a random order, so neither an Id nor the row order says anything.
    rng = np.random.default_rng(SEED)
    passengers = passengers.iloc[rng.permutation(len(passengers))].reset_index(drop=True)
    passengers.insert(0, "PassengerId", np.arange(1, len(passengers) + 1))

    # Stratified: the same share of survivors in train and test.
    is_test = np.zeros(len(passengers), dtype=bool)
    for _, rows in passengers.groupby("survived").groups.items():
        n_test = round(len(rows) * TEST_FRACTION)
        is_test[rng.choice(np.asarray(rows), size=n_test, replace=False)] = True
    train, test = passengers[~is_test], passengers[is_test]

    env = data_dir / "env" / "data"
    private = data_dir / "private"
    env.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns="survived").to_csv(env / "test.csv", index=False)
    labels = test[["PassengerId", "survived"]].rename(columns={"survived": "Survived"})
    labels.to_csv(private / "test_labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
