"""Builds the ames-house-price data: a seeded 75/25 split of the 2,930 Ames house sales.

Run as `python prepare.py DATA_DIR`. Writes DATA_DIR/env/data/train.csv (features and
Sale_Price), DATA_DIR/env/data/test.csv (features only) and DATA_DIR/private/test_labels.csv
(Id, SalePrice), which only eval.py sees.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetml.data.rpackage import load_r_dataset

SEED = 20240611
TEST_FRACTION = 0.25


def main(data_dir: Path) -> None:
    houses = load_r_dataset("r-cran-modeldata", "modeldata", "ames").reset_index(drop=True)
    for column in houses.columns:
        if isinstance(houses[column].dtype, pd.CategoricalDtype):
            # modeldata spells one Sale_Type level "WD " with a trailing space.
            houses[column] = houses[column].astype(str).str.strip()
        elif str(houses[column].dtype) == "Int32":
            houses[column] = houses[column].astype("int64")

    # Ids follow a random order, so neither an Id nor the row order says anything about a house;
    # train gets the first 75% of the Ids, test the rest (as in Kaggle's files).
    order = np.random.default_rng(SEED).permutation(len(houses))
    houses = houses.iloc[order].reset_index(drop=True)
    houses.insert(0, "Id", np.arange(1, len(houses) + 1))
    n_test = round(len(houses) * TEST_FRACTION)
    train, test = houses.iloc[: len(houses) - n_test], houses.iloc[len(houses) - n_test :]

    env = data_dir / "env" / "data"
    private = data_dir / "private"
    env.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns="Sale_Price").to_csv(env / "test.csv", index=False)
    labels = test[["Id", "Sale_Price"]].rename(columns={"Sale_Price": "SalePrice"})
    labels.to_csv(private / "test_labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
