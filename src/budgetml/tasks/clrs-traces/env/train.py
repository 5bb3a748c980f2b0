"""Baseline for clrs-traces: predict every node's BFS predecessor pointer from local features.

The model scores each candidate pointer i of a node j (j itself or one of its neighbours) with a
small MLP on features of the pair, then takes a softmax over j's candidates. It sees the graph
once, with no message passing, and ignores the hints. See baseline_model_description.txt.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

DATA = Path("data")
SEED = 0
EPOCHS = 20
BATCH_SIZE = 64  # graphs per step
torch.set_num_threads(1)  # the model is tiny: more threads only add overhead


def load_split(name):
    """One split as a dict of numpy arrays (see data_description.txt)."""
    with np.load(DATA / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


def candidate_features(adjacency, source):
    """Features of every (node j, candidate pointer i) pair, and which pairs are candidates.

    adjacency: (graphs, n, n) 0/1; source: (graphs,) index of the BFS source.
    Returns features (graphs, n, n, 6) and mask (graphs, n, n), True where i is j or a neighbour.
    """
    adjacency = torch.as_tensor(adjacency, dtype=torch.float32)
    graphs, n, _ = adjacency.shape
    is_self = torch.eye(n).expand(graphs, n, n)
    candidates = ((adjacency + is_self) > 0).float()
    # Position of i among j's candidates, ordered by node index, scaled to [0, 1).
    rank = (torch.cumsum(candidates, dim=2) - 1) / candidates.sum(dim=2, keepdim=True)
    is_source = nn.functional.one_hot(torch.as_tensor(source, dtype=torch.long), n).float()
    degree = adjacency.sum(dim=2) / 4.0  # mean degree is about 3 at every graph size
    features = torch.stack(
        [
            is_self,
            rank,
            is_source[:, None, :].expand(graphs, n, n),  # i is the source
            is_source[:, :, None].expand(graphs, n, n),  # j is the source
            degree[:, None, :].expand(graphs, n, n),  # degree of i
            degree[:, :, None].expand(graphs, n, n),  # degree of j
        ],
        dim=-1,
    )
    return features, candidates > 0


class PointerModel(nn.Module):
    """Scores each candidate pointer with an MLP on its pair features."""

    def __init__(self, num_features, hidden=32):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, features, mask):
        """Logits (graphs, n, n): row j is a distribution over j's pointer once softmaxed."""
        return self.mlp(features).squeeze(-1).masked_fill(~mask, -1e9)


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
        if epoch % 5 == 4:
            print(f"epoch {epoch + 1}: train loss {total / len(targets):.4f}")


@torch.no_grad()
def predict(model, split):
    """Predicted pointer of every node: (graphs, n) node indices."""
    features, mask = candidate_features(split["adjacency"], split["source"])
    return model(features, mask).argmax(dim=-1).numpy()


if __name__ == "__main__":
    torch.manual_seed(SEED)
    train, val, test = load_split("train"), load_split("val"), load_split("test")

    features, mask = candidate_features(train["adjacency"], train["source"])
    targets = torch.as_tensor(train["pi"], dtype=torch.long)
    model = PointerModel(features.shape[-1])
    fit(model, features, mask, targets)

    val_accuracy = (predict(model, val) == val["pi"]).mean()
    print(f"Validation accuracy (n={val['pi'].shape[1]}): {val_accuracy:.4f}")

    # One row per test node: graph index, node index, predicted pointer (a node index).
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
