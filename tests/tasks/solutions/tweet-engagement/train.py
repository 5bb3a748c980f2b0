"""Tweet engagement: predict how much a tweet is retweeted and liked; write test-set predictions.

The two targets are log(1 + retweets) and log(1 + favourites). The score is MCRMSE: the root
mean squared error of each target, averaged over the two targets (lower is better).
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer

SEED = 0
TARGETS = ["log_retweets", "log_favorites"]


def mcrmse(y_true, y_pred):
    """Mean over the target columns of each column's root mean squared error."""
    return np.mean(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2, axis=0)))


def features(tweets):
    """The text, the posting date in years since 2009, and the app the tweet was sent from."""
    posted = pd.to_datetime(tweets["created_at"])
    return pd.DataFrame(
        {
            "text": tweets["text"],
            "years": (posted - pd.Timestamp("2009-01-01")).dt.days / 365.25,
            "source": tweets["source"],
        }
    )


def make_model():
    """TF-IDF of words and word pairs, a smooth curve over time (engagement grew a hundredfold
    from 2009 to 2017), the posting app one-hot, then a ridge regression of both targets."""
    columns = ColumnTransformer(
        [
            ("text", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"),
            ("date", SplineTransformer(n_knots=30, degree=3), ["years"]),
            ("source", OneHotEncoder(handle_unknown="ignore", min_frequency=5), ["source"]),
        ]
    )
    return make_pipeline(columns, Ridge(alpha=1.0))


if __name__ == "__main__":
    train = pd.read_csv("data/train.csv")
    test = pd.read_csv("data/test.csv")

    # Measure the error on a held-out fifth of the training tweets.
    fit_part, valid_part = train_test_split(train, test_size=0.2, random_state=SEED)
    model = make_model().fit(features(fit_part), fit_part[TARGETS])
    print(
        f"validation MCRMSE: {mcrmse(valid_part[TARGETS], model.predict(features(valid_part))):.4f}"
    )

    # Refit on every training tweet, then predict the test tweets.
    model = make_model().fit(features(train), train[TARGETS])
    predictions = model.predict(features(test))

    # One row per test tweet: its id, then the predicted value of each target.
    submission = pd.DataFrame(predictions, columns=TARGETS)
    submission.insert(0, "id", test["id"])
    submission.to_csv("submission.csv", index=False)
