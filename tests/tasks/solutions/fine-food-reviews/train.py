"""Amazon fine-food reviews: is a review rating its product "great"? Writes test probabilities."""

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

SEED = 0


def make_model():
    """TF-IDF of words and word pairs (sublinear counts), then a logistic regression."""
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    return make_pipeline(words, LogisticRegression(C=10, max_iter=1000))


if __name__ == "__main__":
    train = pd.read_csv("data/train.csv")
    test = pd.read_csv("data/test.csv")

    # Measure accuracy on a held-out fifth of the training reviews.
    fit_part, valid_part = train_test_split(
        train, test_size=0.2, random_state=SEED, stratify=train["label"]
    )
    model = make_model().fit(fit_part["review"], fit_part["label"])
    valid_accuracy = np.mean(model.predict(valid_part["review"]) == valid_part["label"])
    print(f"validation accuracy: {valid_accuracy:.4f}")

    # Refit on every training review, then predict the test reviews.
    model = make_model().fit(train["review"], train["label"])
    probabilities = model.predict_proba(test["review"])  # columns: P(label 0), P(label 1)

    # One row per test review: its id, then the probability of each class.
    submission = pd.DataFrame(
        {"id": test["id"], "0": probabilities[:, 0], "1": probabilities[:, 1]}
    )
    submission.to_csv("submission.csv", index=False)
