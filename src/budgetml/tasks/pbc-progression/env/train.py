import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import GroupKFold


def smape(y_true, y_pred):
    """SMAPE in percent (the score of this task; lower is better).

    100 * mean(|pred - true| / ((|true| + |pred|) / 2)), counting 0 where both are 0.
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    denominator = (np.abs(y_true) + np.abs(y_pred)) / 2
    safe = np.where(denominator == 0, 1.0, denominator)
    return 100 * float(np.mean(np.where(denominator == 0, 0.0, np.abs(y_pred - y_true) / safe)))


def get_features(data):
    """The model inputs of each row. Only who the patient is and when the next visit comes
    are used for now; data_description.txt describes the other columns."""
    X = pd.DataFrame(index=data.index)
    X["age"] = data["age"]
    X["male"] = (data["sex"] == "m").astype(float)
    X["placebo"] = (data["trt"] == "placebo").astype(float)
    X["day"] = data["day"]
    X["days_to_next"] = data["days_to_next"]
    return X


if __name__ == "__main__":
    # One row per visit that has a next visit; next_bili is the target. test_history.csv has the
    # earlier visits of the test patients in the same layout, and test.csv the visits to predict.
    train = pd.read_csv("data/train.csv")
    test_history = pd.read_csv("data/test_history.csv")
    test = pd.read_csv("data/test.csv")

    X = get_features(train)
    y = train["next_bili"]
    groups = train["patient_id"]  # validate on patients the model has not seen, as in the test

    def make_model():
        return RandomForestRegressor(
            n_estimators=100, min_samples_leaf=10, random_state=0, n_jobs=2
        )

    # ***********************************************
    # In this part of the code, train and evaluate the model. The cross-validation below keeps
    # each patient's visits in a single fold.
    # ***********************************************

    scores = []
    for fold, (fit_rows, valid_rows) in enumerate(GroupKFold(n_splits=5).split(X, y, groups)):
        model = make_model().fit(X.iloc[fit_rows], y.iloc[fit_rows])
        score = smape(y.iloc[valid_rows], model.predict(X.iloc[valid_rows]))
        scores.append(score)
        print(f"Fold {fold}: SMAPE {score:.2f}")
    print(f"Cross-validation SMAPE: {np.mean(scores):.2f} +- {np.std(scores):.2f}")

    model = make_model().fit(X, y)

    # ***********************************************
    # End of the main training module
    # ***********************************************

    predictions = model.predict(get_features(test))
    submission = pd.DataFrame({"row_id": test["row_id"], "next_bili": predictions})
    submission.to_csv("submission.csv", index=False)
