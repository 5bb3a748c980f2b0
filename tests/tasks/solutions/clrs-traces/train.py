"""Reference solution for clrs-traces: learn one BFS round from the hints, then roll it out.

As in the CLRS baselines, the model is trained to predict the next hint (every node's pointer
after one more round) from the current one (which nodes are reached, where they point), with the
last hint mapped to the output. At test time it starts from the initial state (only the source
reached, every node pointing to itself) and applies itself round after round until nothing
changes, so the number of rounds grows with the graph.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

DATA = Path("data")
SEED = 0
EPOCHS = 8
BATCH_SIZE = 256  # transitions per step
torch.set_num_threads(1)  # the model is tiny: more threads only add overhead


def load_split(name):
    """One split as a dict of numpy arrays (see data_description.txt)."""
    with np.load(DATA / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


def step_features(adjacency, source, reach, pi):
    """Features of every (node j, candidate pointer i) pair given the current BFS state.

    adjacency (graphs, n, n), source (graphs,), reach (graphs, n) 0/1, pi (graphs, n) pointers.
    Returns features (graphs, n, n, 7) and mask (graphs, n, n), True where i is j or a neighbour.
    """
    adjacency = torch.as_tensor(adjacency, dtype=torch.float32)
    reach = torch.as_tensor(reach, dtype=torch.float32)
    graphs, n, _ = adjacency.shape
    is_self = torch.eye(n).expand(graphs, n, n)
    candidates = ((adjacency + is_self) > 0).float()
    rank = (torch.cumsum(candidates, dim=2) - 1) / candidates.sum(dim=2, keepdim=True)
    is_source = nn.functional.one_hot(torch.as_tensor(source, dtype=torch.long), n).float()
    current = nn.functional.one_hot(torch.as_tensor(pi, dtype=torch.long), n).float()
    features = torch.stack(
        [
            is_self,
            rank,
            is_source[:, None, :].expand(graphs, n, n),
            is_source[:, :, None].expand(graphs, n, n),
            reach[:, None, :].expand(graphs, n, n),  # i is reached
            reach[:, :, None].expand(graphs, n, n),  # j is reached
            current,  # i is j's pointer now
        ],
        dim=-1,
    )
    return features, candidates > 0


class StepModel(nn.Module):
    """Scores each candidate pointer after one more BFS round."""

    def __init__(self, num_features=7, hidden=32):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(num_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, features, mask):
        return self.mlp(features).squeeze(-1).masked_fill(~mask, -1e9)


def transitions(split):
    """(state, next pointers) pairs from the hint trajectories; the last hint leads to pi."""
    graphs, rounds = [], []
    for g, length in enumerate(split["hint_lengths"]):
        graphs += [g] * int(length)
        rounds += range(int(length))
    graphs, rounds = np.array(graphs), np.array(rounds)
    last = rounds + 1 >= split["hint_lengths"][graphs]
    following = np.minimum(rounds + 1, split["pi_h"].shape[1] - 1)
    targets = np.where(last[:, None], split["pi"][graphs], split["pi_h"][graphs, following])
    features, mask = step_features(
        split["adjacency"][graphs],
        split["source"][graphs],
        split["reach_h"][graphs, rounds],
        split["pi_h"][graphs, rounds],
    )
    return features, mask, torch.as_tensor(targets, dtype=torch.long)


def fit(model, features, mask, targets):
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    n = targets.shape[1]
    for epoch in range(EPOCHS):
        order = torch.randperm(len(targets))
        total = 0.0
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            logits = model(features[batch], mask[batch])
            loss = nn.functional.cross_entropy(logits.reshape(-1, n), targets[batch].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch + 1}: train loss {total / len(targets):.4f}")


@torch.no_grad()
def predict(model, split):
    """Roll the learned round out from the initial state until the pointers stop changing."""
    adjacency, source = split["adjacency"], split["source"]
    graphs, n, _ = adjacency.shape
    nodes = torch.arange(n)
    reach = nn.functional.one_hot(torch.as_tensor(source, dtype=torch.long), n).bool()
    pi = nodes.expand(graphs, n).clone()
    for _ in range(n):
        features, mask = step_features(adjacency, source, reach.float(), pi)
        new_pi = model(features, mask).argmax(dim=-1)
        reach = reach | (new_pi != nodes)  # a node with a pointer elsewhere has been reached
        if torch.equal(new_pi, pi):
            break
        pi = new_pi
    return pi.numpy()


if __name__ == "__main__":
    torch.manual_seed(SEED)
    train, val, test = load_split("train"), load_split("val"), load_split("test")

    model = StepModel()
    fit(model, *transitions(train))

    val_accuracy = (predict(model, val) == val["pi"]).mean()
    print(f"Validation accuracy (n={val['pi'].shape[1]}): {val_accuracy:.4f}")

    pi = predict(model, test)
    graphs, n = pi.shape
    submission = pd.DataFrame(
        {
            "graph": np.repeat(np.arange(graphs), n),
            "node": np.tile(np.arange(n), graphs),
            "pi": pi.reshape(-1),
        }
    )
    submission.to_csv("submission.csv", index=False)
