"""Sweep fixtures: two seconds-long tasks and two scripted configs (fixed replies, not LLMs).

`eager` lists files, writes a better submission, runs a script and answers: it succeeds on
tiny-accuracy (0.6 → 0.9) and fails on tiny-loss (0.95 → 0.9 is only 5% lower). `lazy` answers
at once and never succeeds; its model is marked free-tier.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from budgetml.bench.executors import LocalExecutor
from budgetml.bench.report_html import write_report
from budgetml.bench.sweep import plan_sweep, run_sweep
from budgetml.run_dir import RunDir
from budgetml.summary import RunSummary, improvement, is_success
from tests.scripted_settings import EVERY_ACTION_YAML

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
        f"max_steps: 6\n{EVERY_ACTION_YAML}"
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


def write_run(
    folder: Path,
    config: str,
    task: str,
    scores: list[tuple[int, float | None]],
    *,
    baseline: float = 0.6,
    cost_usd: float = 0.0,
) -> Path:
    """A run directory as `budgetml run` leaves it (summary.json, trace.jsonl with its score
    events), for a run whose steps scored `scores` in order; the last one is the last step."""
    run_dir = folder / f"{task}-{config}"
    run_dir.mkdir(parents=True)
    best: tuple[int, float] | None = None
    events: list[dict[str, object]] = [
        {"event": "run_start", "task": task, "task_dir": task, "config": config, "seed": 0,
         "metric": "accuracy", "higher_is_better": True}
    ]  # fmt: skip
    for step, value in scores:
        new_best = value is not None and (best is None or value > best[1])
        if new_best and value is not None:
            best = (step, value)
        events.append({"event": "score", "step": step, "value": value, "best": new_best})
    last_step, last = scores[-1]
    events[-1]["final"] = True
    events.append({"event": "run_end", "status": "completed", "success": False})
    (run_dir / "trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = RunSummary(
        task=task, config=config, seed=0, status="completed", steps=last_step,
        metric="accuracy", higher_is_better=True, baseline=baseline, baseline_source="test",
        score=last, score_error=None if last is not None else "no submission",
        improvement=improvement(last, baseline),
        success=is_success(improvement(last, baseline), True),
        best_score=best[1] if best else None, best_step=best[0] if best else None,
        best_improvement=improvement(best[1], baseline) if best else None,
        best_success=is_success(improvement(best[1], baseline) if best else None, True),
        cost_usd=cost_usd, cost_usd_free_tier=0.0, spent_usd=cost_usd, tokens={},
        escalations=0, expert_calls=0, format_failures=0, wall_seconds=1.0,
        final_answer=None, error=None,
    )  # fmt: skip
    RunDir(run_dir).write_summary(summary)
    return run_dir
