"""Sweeps on real worker processes, a real SQLite file and real run directories."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from budgetml.bench.executors import LocalExecutor
from budgetml.bench.store import ResultStore, RunKey
from budgetml.bench.sweep import RESULTS_FILE, plan_sweep, run_sweep
from budgetml.errors import BudgetMLError
from budgetml.summary import RunSummary
from tests.bench.conftest import RUNS, SweepInputs, make_inputs, write_config


def rows(out: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(out / RESULTS_FILE)
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM runs ORDER BY task, config, seed").fetchall()
    finally:
        db.close()


def test_a_plan_expands_tasks_configs_and_seeds_seed_major(sweep_inputs: SweepInputs) -> None:
    specs = plan_sweep(sweep_inputs.tasks, sweep_inputs.configs, 2)
    assert [(s.key.seed, s.key.task, s.key.config) for s in specs] == [
        (seed, task, config)
        for seed in (0, 1)
        for task in ("tiny-accuracy", "tiny-loss")
        for config in ("eager", "lazy")  # YAML files are labelled by their stem
    ]
    assert specs[0].run_dir == "runs/tiny-accuracy/eager/seed-0"
    assert Path(specs[0].task_ref).is_absolute() and Path(specs[0].config_ref).is_absolute()


def test_all_means_every_builtin_task_and_presets_keep_their_names() -> None:
    from budgetml.env.task import builtin_task_names

    specs = plan_sweep(["all"], ["demo"], 1)
    assert {s.key.task for s in specs} == {
        s.key.task for s in plan_sweep(builtin_task_names(), ["demo"], 1)
    }
    assert {s.key.config for s in specs} == {"demo"} and specs[0].config_ref == "demo"


def test_two_configs_with_one_label_are_refused(sweep_inputs: SweepInputs, tmp_path: Path) -> None:
    twin = tmp_path / "eager.yaml"
    shutil.copy(sweep_inputs.configs[0], twin)
    with pytest.raises(BudgetMLError, match="both named 'eager'"):
        plan_sweep(sweep_inputs.tasks, [sweep_inputs.configs[0], str(twin)], 1)


def test_a_sweep_records_one_finished_row_per_run_with_the_summary_fields(
    local_sweep: Path,
) -> None:
    found = rows(local_sweep)
    assert len(found) == 2 * 2 * RUNS
    for row in found:
        assert row["state"] == "finished" and row["attempts"] == 1 and row["crash"] is None
        run_dir = local_sweep / row["run_dir"]
        summary = RunSummary.model_validate_json((run_dir / "summary.json").read_bytes())
        assert (summary.task, summary.config, summary.seed) == (
            row["task"],
            row["config"],
            row["seed"],
        )
        assert row["status"] == summary.status == "completed"
        assert row["cost_usd"] == summary.cost_usd and row["success"] == summary.success
        assert row["duration_s"] > 0 and row["finished_at"] >= row["started_at"]
        assert row["charged_usd"] == pytest.approx(summary.spent_usd)
    eager_accuracy = [r for r in found if (r["task"], r["config"]) == ("tiny-accuracy", "eager")]
    assert all(r["success"] == 1 for r in eager_accuracy)
    assert not any(r["success"] for r in found if r["config"] == "lazy")
    journal = sqlite3.connect(local_sweep / RESULTS_FILE).execute("PRAGMA journal_mode")
    assert journal.fetchone()[0] == "wal"


def test_rerunning_a_finished_sweep_starts_no_run(
    local_sweep: Path, sweep_inputs: SweepInputs
) -> None:
    before = [dict(row) for row in rows(local_sweep)]
    specs = plan_sweep(sweep_inputs.tasks, sweep_inputs.configs, RUNS)
    outcome = run_sweep(specs, local_sweep, LocalExecutor(workers=1))
    assert (outcome.finished, outcome.crashed, outcome.not_started) == (12, 0, 0)
    assert [dict(row) for row in rows(local_sweep)] == before


def test_a_changed_config_is_refused_for_a_folder_with_finished_runs(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    specs = plan_sweep(inputs.tasks[:1], inputs.configs[1:], 1)
    run_sweep(specs, tmp_path / "out", LocalExecutor())
    Path(inputs.configs[1]).write_text(
        Path(inputs.configs[1]).read_text() + "max_steps: 5\n", encoding="utf-8"
    )
    with pytest.raises(BudgetMLError, match="differs from the one the finished runs"):
        run_sweep(
            plan_sweep(inputs.tasks[:1], inputs.configs[1:], 1), tmp_path / "out", LocalExecutor()
        )


def test_a_crashing_run_is_recorded_and_retried_in_a_fresh_directory(tmp_path: Path) -> None:
    inputs = make_inputs(tmp_path / "in")
    broken = Path(inputs.tasks[0])
    (broken / "scripts" / "prepare.py").write_text(
        "import pathlib, sys\n"
        "sys.exit(0 if (pathlib.Path(__file__).parent / 'ready').exists() else 'not ready')\n"
    )
    out = tmp_path / "out"
    specs = plan_sweep(inputs.tasks, inputs.configs[1:], 1)
    outcome = run_sweep(specs, out, LocalExecutor())
    assert (outcome.finished, outcome.crashed) == (1, 1)
    crashed = next(r for r in rows(out) if r["state"] == "crashed")
    assert "prepare.py failed" in crashed["crash"] and crashed["status"] is None
    run_dir = out / crashed["run_dir"]
    assert (run_dir / "trace.jsonl").is_file()  # the run got as far as claiming its directory

    (broken / "scripts" / "ready").write_text("")
    outcome = run_sweep(specs, out, LocalExecutor())
    assert (outcome.finished, outcome.crashed) == (2, 0)
    retried = next(r for r in rows(out) if r["task"] == crashed["task"])
    assert retried["state"] == "finished" and retried["attempts"] == 2
    assert (run_dir / "summary.json").is_file()
    set_aside = run_dir.with_name(run_dir.name + ".attempt1")
    assert (set_aside / "trace.jsonl").is_file() and not (set_aside / "summary.json").exists()


def test_a_run_whose_summary_exists_is_recorded_not_rerun(tmp_path: Path) -> None:
    """The kill can fall between writing summary.json and committing the row."""
    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    specs = plan_sweep(inputs.tasks[:1], inputs.configs[1:], 1)
    run_sweep(specs, out, LocalExecutor())
    db = sqlite3.connect(out / RESULTS_FILE)
    with db:
        db.execute("UPDATE runs SET state = 'running', status = NULL, success = NULL")
    db.close()
    outcome = run_sweep(specs, out, LocalExecutor())
    assert outcome.finished == 1
    (row,) = rows(out)
    assert row["state"] == "finished" and row["attempts"] == 1 and row["status"] == "completed"
    assert not list((out / "runs").rglob("*.attempt*"))


def test_a_sweep_budget_gives_uncapped_runs_what_is_left_and_holds_back_costlier_caps(
    tmp_path: Path,
) -> None:
    inputs = make_inputs(tmp_path / "in")
    configs = tmp_path / "in" / "configs"
    capped = write_config(
        configs, "capped", configs / "lazy.json", "{input: 0.5, output: 1.0}", "budget_usd: 5\n"
    )
    specs = plan_sweep(inputs.tasks[:1], [inputs.configs[0], str(capped)], 2)
    out = tmp_path / "out"
    outcome = run_sweep(specs, out, LocalExecutor(), budget_usd=1.0)
    assert (outcome.finished, outcome.not_started) == (2, 2)
    eager = [r for r in rows(out) if r["config"] == "eager"]
    assert eager[0]["budget_usd"] == pytest.approx(1.0)  # uncapped: it gets what is left
    assert eager[1]["budget_usd"] == pytest.approx(1.0 - eager[0]["charged_usd"])
    assert all(r["state"] == "pending" for r in rows(out) if r["config"] == "capped")
    assert outcome.spent_usd == pytest.approx(sum(r["charged_usd"] for r in eager))


def test_a_second_sweep_on_the_same_folder_is_refused_while_one_runs(tmp_path: Path) -> None:
    from budgetml.bench.sweep import _sweep_lock

    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    with _sweep_lock(out), pytest.raises(BudgetMLError, match="already running"):
        run_sweep(plan_sweep(inputs.tasks[:1], inputs.configs[1:], 1), out, LocalExecutor())


def test_the_store_keeps_every_summary_field_as_a_column(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / RESULTS_FILE)
    store.register(RunKey("t", "c", 0), "runs/t/c/seed-0", "t", "c", "sha")
    columns = {
        row[1]
        for row in sqlite3.connect(tmp_path / RESULTS_FILE).execute("PRAGMA table_info(runs)")
    }
    store.close()
    assert set(RunSummary.model_fields) <= columns
    assert {"state", "attempts", "run_dir", "started_at", "finished_at", "duration_s"} <= columns


def cut_off_after_checkpoint(out: Path, run_dir: Path) -> None:
    """Make a finished run look cut off by a kill right after its last-but-one checkpoint (the
    last two snapshots are kept): its row says running, it has no summary, its trace ends there."""
    trace = run_dir / "trace.jsonl"
    lines = trace.read_text(encoding="utf-8").splitlines(keepends=True)
    checkpoints = [i for i, line in enumerate(lines) if '"event": "checkpoint"' in line]
    trace.write_text("".join(lines[: checkpoints[-2] + 1]), encoding="utf-8")
    (run_dir / "summary.json").unlink()
    db = sqlite3.connect(out / RESULTS_FILE)
    with db:
        db.execute(
            "UPDATE runs SET state = 'running', status = NULL, success = NULL, charged_usd = 0"
        )
    db.close()


@pytest.mark.parametrize("sweep_budget", [None, 1.0])
def test_a_cut_off_run_goes_on_from_its_checkpoint_without_paying_twice(
    tmp_path: Path, sweep_budget: float | None
) -> None:
    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    specs = plan_sweep(inputs.tasks[:1], inputs.configs[:1], 1)
    run_sweep(specs, out, LocalExecutor(), budget_usd=sweep_budget)
    (uninterrupted,) = [dict(row) for row in rows(out)]
    run_dir = out / uninterrupted["run_dir"]
    cut_off_after_checkpoint(out, run_dir)

    outcome = run_sweep(specs, out, LocalExecutor(), budget_usd=sweep_budget)
    assert (outcome.finished, outcome.crashed) == (1, 0)
    (resumed,) = [dict(row) for row in rows(out)]
    assert resumed["state"] == "finished" and resumed["attempts"] == 2
    events = (run_dir / "trace.jsonl").read_text().splitlines()
    assert sum('"event": "resumed"' in line for line in events) == 1
    assert not list((out / "runs").rglob("*.attempt*"))
    for column in ("status", "steps", "score", "success", "cost_usd", "tokens", "charged_usd"):
        assert resumed[column] == pytest.approx(uninterrupted[column]), column
    assert outcome.spent_usd == pytest.approx(uninterrupted["charged_usd"])
    assert resumed["budget_usd"] == uninterrupted["budget_usd"]


def test_a_cut_off_run_whose_config_changed_starts_again_in_a_fresh_directory(
    tmp_path: Path,
) -> None:
    inputs = make_inputs(tmp_path / "in")
    out = tmp_path / "out"
    specs = plan_sweep(inputs.tasks[:1], inputs.configs[:1], 1)
    run_sweep(specs, out, LocalExecutor())
    (first,) = rows(out)
    run_dir = out / first["run_dir"]
    cut_off_after_checkpoint(out, run_dir)
    recorded = run_dir / "config.yaml"
    assert "max_steps: 6" in recorded.read_text()
    recorded.write_text(recorded.read_text().replace("max_steps: 6", "max_steps: 5"))

    outcome = run_sweep(specs, out, LocalExecutor())
    assert outcome.finished == 1
    (again,) = rows(out)
    assert again["attempts"] == 2 and again["status"] == "completed"
    set_aside = run_dir.with_name(run_dir.name + ".attempt1")
    assert (set_aside / "trace.jsonl").is_file()
    assert '"event": "resumed"' not in (run_dir / "trace.jsonl").read_text()
