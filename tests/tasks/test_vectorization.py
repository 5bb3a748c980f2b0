"""vectorization's evaluation: a layer is timed only on work it really did, on inputs it could
not know in advance."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from budgetml.env.sandbox import Sandbox
from budgetml.env.task import Score, find_task

# Each cheat replaces train.py; the starter stays importable as train_starter.
COMPUTES_ONLY_THE_CHECKED_IMAGES = """
import numpy as np
import train_starter

class Conv2DLayer(train_starter.Conv2DLayer):
    def forward(self, features_batch):
        part = super().forward(features_batch[[0, -1]])
        output = np.zeros((len(features_batch), *part.shape[1:]))
        output[[0, -1]] = part
        return output
"""

# eval.py's benchmark drew its weights and batches from a seed it publishes: the layer works
# them all out before it is timed and looks the answers up; unknown batches get zeros.
KNOWS_THE_BENCHMARK_BATCHES = """
import numpy as np
import train_starter

def _convolve(x, kernels, biases, stride, padding, activation):
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    size = kernels.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]
    out = np.einsum("bhwcij,ijcf->bhwf", windows, kernels) + biases.reshape(-1)
    return np.maximum(out, 0) if activation == "relu" else out

_rng = np.random.default_rng(0)
_kernels = _rng.standard_normal((3, 3, 3, 8))
_biases = _rng.standard_normal((1, 1, 1, 8))
_KNOWN = {}
for _ in range(10):
    _features = _rng.standard_normal((8, 64, 64, 3))
    _KNOWN[_features.tobytes()] = _convolve(_features, _kernels, _biases, 2, 2, "relu")

class Conv2DLayer(train_starter.Conv2DLayer):
    def forward(self, features_batch):
        if len(features_batch) != 8:  # the correctness checks, untimed
            return _convolve(features_batch, self.kernel_matrices, self.biases,
                             self.stride, self.padding, self.activation)
        known = _KNOWN.get(np.ascontiguousarray(features_batch).tobytes())
        return known if known is not None else np.zeros((8, 32, 32, 8))
"""


def score_with(train_source: str, tmp_path: Path) -> Score:
    task = find_task("vectorization")
    workspace = tmp_path / "workspace"
    task.make_workspace(workspace)
    shutil.copyfile(workspace / "train.py", workspace / "train_starter.py")
    (workspace / "train.py").write_text(train_source, encoding="utf-8")
    return task.score(workspace, Sandbox(tmp_path / "scratch"), sys.executable)


@pytest.mark.parametrize(
    "cheat",
    [COMPUTES_ONLY_THE_CHECKED_IMAGES, KNOWS_THE_BENCHMARK_BATCHES],
    ids=["computes-only-the-checked-images", "knows-the-benchmark-batches"],
)
def test_a_layer_that_skips_work_it_is_timed_on_gets_no_score(cheat: str, tmp_path: Path) -> None:
    score = score_with(cheat, tmp_path)
    assert score.value is None, score
    assert "differs from the original implementation" in (score.error or "")
