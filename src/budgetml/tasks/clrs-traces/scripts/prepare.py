"""Builds the clrs-traces data: breadth-first search run on random graphs, traced step by step.

Usage: python prepare.py DATA_DIR. Like the CLRS benchmark (Velickovic et al., 2022), the data is
generated: each sample is a random Erdos-Renyi graph and a source node (the inputs), the state of
BFS after every round (the hints) and the BFS-tree predecessor of every node (the output). Train
and validation graphs are small; test graphs are larger (out of distribution, as in CLRS).

Writes DATA_DIR/env/data/{train,val,test}.npz (test without hints or outputs) and
DATA_DIR/private/test_pi.npy (the test outputs, read only by eval.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SEED = 20240601
# (split, number of graphs, nodes per graph); test graphs are 4x larger, as CLRS tests 64 vs 16.
SPLITS = (("train", 1000, 16), ("val", 100, 32), ("test", 200, 64))
# Edge probability c / n with c drawn per graph: a constant expected degree keeps graphs of every
# size sparse, so BFS needs several rounds (a dense graph is solved in two).
MEAN_DEGREE_RANGE = (1.5, 4.0)


def bfs(adjacency: np.ndarray, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CLRS's `bfs`: every round, each reached node i claims its unclaimed neighbours j.

    Returns the hints (reach_h, pi_h: the state before each round, shape (rounds, n)) and the
    output pi. Ties go to the lowest-index reached neighbour; unreached nodes and the source
    point to themselves.
    """
    n = adjacency.shape[0]
    reach = np.zeros(n, dtype=np.int8)
    pi = np.arange(n)
    reach[source] = 1
    reach_hints, pi_hints = [], []
    while True:
        previous = reach.copy()
        reach_hints.append(previous.copy())
        pi_hints.append(pi.copy())
        for i in range(n):
            for j in range(n):
                if adjacency[i, j] > 0 and previous[i] == 1:
                    if pi[j] == j and j != source:
                        pi[j] = i
                    reach[j] = 1
        if np.array_equal(reach, previous):
            break
    return np.array(reach_hints), np.array(pi_hints), pi


def random_graph(rng: np.random.Generator, n: int) -> np.ndarray:
    """An undirected Erdos-Renyi graph without self-loops, as a 0/1 adjacency matrix."""
    p = rng.uniform(*MEAN_DEGREE_RANGE) / n
    upper = np.triu(rng.random((n, n)) < p, k=1)
    return (upper | upper.T).astype(np.int8)


def make_split(rng: np.random.Generator, count: int, n: int) -> dict[str, np.ndarray]:
    adjacency = np.zeros((count, n, n), dtype=np.int8)
    source = rng.integers(0, n, size=count)
    # A BFS takes at most n rounds (plus the one that finds nothing new); pad hints to n + 1.
    reach_h = np.zeros((count, n + 1, n), dtype=np.int8)
    pi_h = np.zeros((count, n + 1, n), dtype=np.int16)
    hint_lengths = np.zeros(count, dtype=np.int16)
    pi = np.zeros((count, n), dtype=np.int16)
    for g in range(count):
        adjacency[g] = random_graph(rng, n)
        reach_hints, pi_hints, pi[g] = bfs(adjacency[g], int(source[g]))
        rounds = len(reach_hints)
        hint_lengths[g] = rounds
        reach_h[g, :rounds] = reach_hints
        pi_h[g, :rounds] = pi_hints
        # Past the end, repeat the final state, as CLRS pads its hint trajectories.
        reach_h[g, rounds:] = reach_hints[-1]
        pi_h[g, rounds:] = pi_hints[-1]
    pos = np.broadcast_to(np.arange(n, dtype=np.int16), (count, n)).copy()
    return {
        "adjacency": adjacency,
        "source": source.astype(np.int16),
        "pos": pos,
        "reach_h": reach_h,
        "pi_h": pi_h,
        "hint_lengths": hint_lengths,
        "pi": pi,
    }


def main(data_dir: Path) -> None:
    rng = np.random.default_rng(SEED)
    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    for name, count, n in SPLITS:
        split = make_split(rng, count, n)
        if name == "test":
            np.save(private / "test_pi.npy", split["pi"])
            split = {key: split[key] for key in ("adjacency", "source", "pos")}
        np.savez_compressed(data / f"{name}.npz", **split)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python prepare.py DATA_DIR")
    main(Path(sys.argv[1]))
