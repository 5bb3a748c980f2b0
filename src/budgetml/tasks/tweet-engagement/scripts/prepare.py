"""Builds the tweet-engagement task data: `python prepare.py DATA_DIR`.

Reads `trump_tweets` from the R package dslabs (Debian `r-cran-dslabs`): 20,761 tweets of
@realDonaldTrump, 2009-05 to 2018-01 (the archive holds no retweets of other accounts). The
targets are log1p(retweet_count) and log1p(favorite_count). The tweets are shuffled with a
fixed seed and split at random, 80% / 20%:
- DATA_DIR/env/data/train.csv: `id,created_at,source,text,log_retweets,log_favorites`;
- DATA_DIR/env/data/test.csv: `id,created_at,source,text`;
- DATA_DIR/private/test_labels.csv: `id,log_retweets,log_favorites` of the test tweets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from budgetml.data.rpackage import load_r_dataset

SEED = 0
TEST_SHARE = 0.2
TARGETS = ["log_retweets", "log_favorites"]


def main(data_dir: Path) -> None:
    tweets = load_r_dataset("r-cran-dslabs", "dslabs", "trump_tweets")
    rng = np.random.default_rng(SEED)
    tweets = tweets.iloc[rng.permutation(len(tweets))].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "id": np.arange(len(tweets)),
            # Seconds since 1970 (UTC) in R; written as an ISO date and time, UTC.
            "created_at": pd.to_datetime(tweets["created_at"].astype(float), unit="s").dt.strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "source": tweets["source"].astype(str),
            # Three tweets hold carriage returns, which CSV readers take for line ends.
            "text": tweets["text"].astype(str).str.replace("\r\n?", "\n", regex=True),
            "log_retweets": np.log1p(tweets["retweet_count"].astype(float)).round(6),
            "log_favorites": np.log1p(tweets["favorite_count"].astype(float)).round(6),
        }
    )
    n_test = round(len(frame) * TEST_SHARE)
    train, test = frame.iloc[n_test:], frame.iloc[:n_test]

    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    train.sort_values("id").to_csv(data / "train.csv", index=False)
    test.drop(columns=TARGETS).to_csv(data / "test.csv", index=False)
    test[["id", *TARGETS]].to_csv(private / "test_labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
