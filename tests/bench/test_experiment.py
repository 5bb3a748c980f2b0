"""Experiment files: a sweep written down, its paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetml.bench.experiment import load_experiment
from budgetml.config import load_config
from budgetml.env.task import find_task
from budgetml.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_names_next_to_the_file_become_paths_and_the_rest_stay_names(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("planner: [{model: 'scripted:x.json'}]\n")
    (tmp_path / "exp.yaml").write_text(
        "tasks: [titanic]\nconfigs: [mine.yaml, demo]\nruns: 2\nout: results/x\n"
    )
    experiment = load_experiment(tmp_path / "exp.yaml")
    assert experiment.tasks == ["titanic"]
    assert experiment.configs == [str(tmp_path / "mine.yaml"), "demo"]
    assert (experiment.runs, experiment.out) == (2, tmp_path / "results/x")


@pytest.mark.parametrize(
    ("content", "message"),
    [("tasks: [a]\nseeds: 3\n", "seeds"), ("runs: 0\n", "runs"), ("- a\n", "must be a mapping")],
)
def test_a_bad_experiment_file_is_one_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "exp.yaml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_experiment(tmp_path / "exp.yaml")


def test_the_table2_cpu_experiment_names_real_tasks_and_valid_configs() -> None:
    experiment = load_experiment(REPO / "experiments/table2-cpu/experiment.yaml")
    assert len(experiment.configs) == 8 and experiment.runs >= 3
    for config in experiment.configs:
        _, resolved = load_config(config)
        assert resolved.prices, f"{config} must price its local models as if hosted"
    assert {find_task(t).spec.stands_in_for for t in experiment.tasks} >= {
        "vectorization",
        "spaceship-titanic",
        "house-price",
    }
