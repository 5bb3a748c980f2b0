"""Builds the pbc-progression data from `pbcseq`: lab visits of 312 patients with primary
biliary cholangitis (Mayo Clinic trial, 1974-1984), split by patient.

Run as `python prepare.py DATA_DIR`. Each row is one visit of a patient followed by another
visit; the target is the serum bilirubin measured at that next visit, and the days until it
are given. A third of the patients (those with two visits or more) are test patients: for each,
one visit drawn at random is the query (data/test.csv, without target), and the visits before
it are its history (data/test_history.csv, same layout as train.csv, targets included since
they are past measurements). The next visits of test patients are never shown, so a row's
target cannot be read off a later row. Writes DATA_DIR/env/data/{train,test_history,test}.csv
and DATA_DIR/private/test_labels.csv (row_id, next_bili), which only eval.py sees.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetml.data.rpackage import load_r_dataset

SEED = 20240611
TEST_FRACTION = 1 / 3
LABS = [
    "ascites", "hepato", "spiders", "edema", "bili", "chol", "albumin", "alk_phos", "ast",
    "platelet", "protime", "stage",
]  # fmt: skip


def main(data_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    raw = load_r_dataset("r-cran-survival", "survival", "pbcseq").rename(
        columns={"alk.phos": "alk_phos"}
    )
    # Patients get new ids in a random order. futime and status (time to and kind of the
    # study's end point: death, transplant or censoring) are left out: they tell the future.
    old_ids = np.sort(raw["id"].unique())
    new_id = dict(zip(old_ids, rng.permutation(len(old_ids)) + 1, strict=True))
    visits = pd.DataFrame(
        {
            "patient_id": raw["id"].map(new_id).astype("int64"),
            "day": raw["day"].astype("int64"),
            "age": raw["age"].astype(float).round(2),
            "sex": raw["sex"].astype(str),
            "trt": raw["trt"].astype("int64").map({1: "D-penicillamine", 0: "placebo"}),
            **{lab: raw[lab].astype(float) for lab in LABS},
        }
    )
    for lab in LABS:  # whole-number columns are written without ".0"; edema is 0, 0.5 or 1
        if lab != "edema" and (visits[lab].dropna() % 1 == 0).all():
            visits[lab] = visits[lab].astype("Int64")
    visits = visits.sort_values(["patient_id", "day"], ignore_index=True)
    visits.insert(1, "visit", visits.groupby("patient_id").cumcount())
    visits.insert(0, "row_id", visits.patient_id.astype(str) + "_" + visits.visit.astype(str))
    following = visits.groupby("patient_id")
    visits["days_to_next"] = following["day"].shift(-1) - visits["day"]
    visits["next_bili"] = following["bili"].shift(-1)
    pairs = visits.dropna(subset=["next_bili"]).copy()  # a patient's last visit has no next
    pairs["days_to_next"] = pairs["days_to_next"].astype("int64")

    patients = np.sort(pairs.patient_id.unique())
    test_patients = rng.choice(patients, size=round(len(patients) * TEST_FRACTION), replace=False)
    is_test = pairs.patient_id.isin(test_patients)
    train, test_pairs = pairs[~is_test], pairs[is_test]
    # One query visit per test patient, drawn uniformly among its visits that have a next one.
    query_visit = {
        patient: int(rng.integers(count))
        for patient, count in test_pairs.groupby("patient_id").size().items()
    }
    cut = test_pairs.patient_id.map(query_visit)
    history = test_pairs[test_pairs.visit < cut]
    query = test_pairs[test_pairs.visit == cut]

    env = data_dir / "env" / "data"
    private = data_dir / "private"
    env.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    train.to_csv(env / "train.csv", index=False)
    history.to_csv(env / "test_history.csv", index=False)
    query.drop(columns="next_bili").to_csv(env / "test.csv", index=False)
    query[["row_id", "next_bili"]].to_csv(private / "test_labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
