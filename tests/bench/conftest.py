"""Sweep fixtures: two seconds-long tasks and two scripted configs (fixed replies, not LLMs).

`eager` lists files, writes a better submission, runs a script and answers: it succeeds on
tiny-accuracy (0.6 → 0.9) and fails on tiny-loss (0.95 → 0.9 is only 5% lower). `lazy` answers
at once and never succeeds; its model is marked free-tier.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from budgetml.bench.executors import LocalExecutor
from budgetml.bench.report_html import write_report
from budgetml.bench.sweep import plan_sweep, run_sweep

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = 3


@dataclass(frozen=True)
class SweepInputs:
    tasks: list[str]
    configs: list[str]
    root: Path

    def cli_args(self, out: Path, *extra: str) -> list[str]:
        return [
            "bench",
            "--tasks",
            ",".join(self.tasks),
            "--configs",
            ",".join(self.configs),
            "--runs",
            str(RUNS),
            "--out",
            str(out),
            *extra,
        ]


def write_config(folder: Path, name: str, script: Path, price: str, extra: str = "") -> Path:
    model = f"scripted:{script}"
    path = folder / f"{name}.yaml"
    path.write_text(
        f'planner: [{{model: "{model}", retries: 1}}]\n'
        f"max_steps: 6\n"
        f'prices: {{"{model}": {price}}}\n{extra}',
        encoding="utf-8",
    )
    return path


def make_inputs(root: Path) -> SweepInputs:
    """Copies of the fixture tasks and configs whose scripted models name absolute paths."""
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    configs = root / "configs"
    eager = write_config(configs, "eager", configs / "eager.json", "{input: 1.0, output: 2.0}")
    lazy = write_config(
        configs, "lazy", configs / "lazy.json", "{input: 0.5, output: 1.0, free_tier: true}"
    )
    tasks = [str(root / "tasks" / "tiny-accuracy"), str(root / "tasks" / "tiny-loss")]
    return SweepInputs(tasks, [str(eager), str(lazy)], root)


@pytest.fixture(scope="session")
def sweep_inputs(tmp_path_factory: pytest.TempPathFactory) -> SweepInputs:
    return make_inputs(tmp_path_factory.mktemp("bench-inputs"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


@pytest.fixture(autouse=True)
def private_data_dir(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prepared task data goes to a temporary folder, not the user's cache."""
    monkeypatch.setenv("BUDGETML_DATA_DIR", str(data_dir))


@pytest.fixture(scope="session")
def local_sweep(
    sweep_inputs: SweepInputs, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Path:
    """One uninterrupted 2 × 2 × 3 sweep on two local workers, with its report written."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BUDGETML_DATA_DIR", str(data_dir))
        out = tmp_path_factory.mktemp("local-sweep")
        specs = plan_sweep(sweep_inputs.tasks, sweep_inputs.configs, RUNS)
        run_sweep(specs, out, LocalExecutor(workers=2))
        write_report(out)
    return out
