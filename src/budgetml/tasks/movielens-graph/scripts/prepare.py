"""Builds the movielens-graph task data: `python prepare.py DATA_DIR`.

Reads `dslabs::movielens` (100,004 ratings of 9,066 movies by 671 users) from the Debian
package `r-cran-dslabs` and turns it into a node classification problem on the user-movie
graph, in the spirit of ogbn-arxiv:
- a movie's node id is its row in the feature matrix (ids shuffled with a fixed seed, so the id
  says nothing about the movie); users are numbered 0..670 in their own id space;
- label: the genre of the movies listed under a single genre, for the 6 most frequent such
  genres (2,614 labelled movies); the labelled movies are split 50/50, stratified by genre;
- DATA_DIR/env/data/edges.csv: `user,movie,rating`, one row per rating (the graph's edges);
- DATA_DIR/env/data/node_features.npz: scipy sparse CSR matrix, 9,066 movies x 3,038 features:
  TF-IDF of the title's words (words in at least 2 titles), then the release year
  standardised (missing years: 0, the mean);
- DATA_DIR/env/data/feature_names.txt: the name of each feature column;
- DATA_DIR/env/data/train_labels.csv: `movie,genre` of the 1,307 training movies;
- DATA_DIR/env/data/test_nodes.csv: `movie`, the 1,307 test movies, without labels;
- DATA_DIR/private/test_labels.csv: `movie,genre` of the test movies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split

from budgetml.data.rpackage import load_r_dataset

SEED = 0
N_GENRES = 6
MIN_TITLES_PER_WORD = 2


def main(data_dir: Path) -> None:
    ratings = load_r_dataset("r-cran-dslabs", "dslabs", "movielens")
    movies = (
        ratings.drop_duplicates("movieId")[["movieId", "title", "year", "genres"]]
        .sort_values("movieId")
        .reset_index(drop=True)
    )
    rng = np.random.default_rng(SEED)
    movies["node"] = rng.permutation(len(movies))
    movies = movies.sort_values("node").reset_index(drop=True)
    users = np.sort(ratings["userId"].unique())

    node_of_movie = dict(zip(movies["movieId"], movies["node"], strict=True))
    user_index = {int(u): i for i, u in enumerate(users)}
    edges = pd.DataFrame(
        {
            "user": ratings["userId"].map(user_index).astype(int).to_numpy(),
            "movie": ratings["movieId"].map(node_of_movie).astype(int).to_numpy(),
            "rating": ratings["rating"].to_numpy(),
        }
    ).sort_values(["user", "movie"], kind="stable")

    titles = movies["title"].fillna("").astype(str)
    vectorizer = TfidfVectorizer(min_df=MIN_TITLES_PER_WORD)
    words = vectorizer.fit_transform(titles)
    years = movies["year"].astype("float64").to_numpy()
    known = ~np.isnan(years)
    year_z = np.zeros(len(years))
    year_z[known] = (years[known] - years[known].mean()) / years[known].std()
    features = sp.hstack([words, sp.csr_matrix(year_z[:, None])]).tocsr().astype(np.float32)
    names = [*(f"title:{w}" for w in vectorizer.get_feature_names_out()), "year_standardised"]

    genres = movies["genres"].astype(str)
    single = genres[~genres.str.contains("|", regex=False)]
    kept = single.value_counts().index[:N_GENRES]
    labelled = movies.loc[genres.isin(kept), ["node"]].assign(genre=genres[genres.isin(kept)])
    train, test = train_test_split(
        labelled, test_size=0.5, random_state=SEED, stratify=labelled["genre"]
    )
    train, test = train.sort_values("node"), test.sort_values("node")

    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    edges.to_csv(data / "edges.csv", index=False)
    sp.save_npz(data / "node_features.npz", features, compressed=True)
    (data / "feature_names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    train.rename(columns={"node": "movie"}).to_csv(data / "train_labels.csv", index=False)
    test[["node"]].rename(columns={"node": "movie"}).to_csv(data / "test_nodes.csv", index=False)
    test.rename(columns={"node": "movie"}).to_csv(private / "test_labels.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
