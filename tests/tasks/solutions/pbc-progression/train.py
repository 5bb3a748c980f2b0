# Reference solution: start from the current bilirubin and learn its change. Ridge regression on
# log(next_bili / bili) with the current labs and the patient's bilirubin history so far.
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = [
    "log_bili", "prev_log_bili", "first_log_bili", "mean_log_bili", "slope", "days_to_next",
    "day", "visit", "age", "male", "placebo", "edema", "ascites", "hepato", "spiders", "stage",
    "log_albumin", "log_protime", "log_ast", "log_alk_phos", "log_platelet", "log_chol",
]  # fmt: skip


def smape(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return 100 * float(np.mean(2 * np.abs(y_pred - y_true) / (np.abs(y_true) + np.abs(y_pred))))


def add_features(visits):
    """History features need each patient's earlier visits: pass all rows of all files."""
    visits = visits.sort_values(["patient_id", "visit"]).copy()
    visits["log_bili"] = np.log(visits["bili"])
    patient = visits.groupby("patient_id")
    visits["prev_log_bili"] = patient["log_bili"].shift(1)
    visits["first_log_bili"] = patient["log_bili"].transform("first")
    visits["mean_log_bili"] = patient["log_bili"].transform(lambda s: s.expanding().mean())
    years = patient["day"].diff() / 365.25
    visits["slope"] = (visits["log_bili"] - visits["prev_log_bili"]) / years
    visits["male"] = (visits["sex"] == "m").astype(float)
    visits["placebo"] = (visits["trt"] == "placebo").astype(float)
    for lab in ["albumin", "protime", "ast", "alk_phos", "platelet", "chol"]:
        visits[f"log_{lab}"] = np.log(visits[lab])
    return visits


def make_model():
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=10.0))


train = pd.read_csv("data/train.csv").assign(part="train")
test_history = pd.read_csv("data/test_history.csv").assign(part="test_history")
test = pd.read_csv("data/test.csv").assign(part="test")
visits = add_features(pd.concat([train, test_history, test], ignore_index=True))
labelled = visits[visits.part != "test"]
queries = visits[visits.part == "test"]
change = np.log(labelled["next_bili"]) - labelled["log_bili"]

# Cross-validate on the training patients only, keeping each patient in one fold.
own = labelled[labelled.part == "train"]
scores = []
for fit_rows, valid_rows in GroupKFold(n_splits=5).split(own, groups=own["patient_id"]):
    fit, valid = own.iloc[fit_rows], own.iloc[valid_rows]
    model = make_model().fit(fit[FEATURES], change.loc[fit.index])
    predicted = np.exp(valid["log_bili"] + model.predict(valid[FEATURES]))
    scores.append(smape(valid["next_bili"], predicted))
print(
    f"Cross-validation SMAPE: {np.mean(scores):.2f} (carry forward: "
    f"{smape(own['next_bili'], own['bili']):.2f})"
)

model = make_model().fit(labelled[FEATURES], change)
predictions = np.exp(queries["log_bili"] + model.predict(queries[FEATURES]))
pd.DataFrame({"row_id": queries["row_id"], "next_bili": predictions}).to_csv(
    "submission.csv", index=False
)
