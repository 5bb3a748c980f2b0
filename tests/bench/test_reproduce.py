"""Replaying a sweep's cells from their recorded replies reproduces (or exposes) its numbers."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from budgetml.bench.reproduce import reproduce_cells
from tests.bench.conftest import RUNS


def test_every_cell_of_a_finished_sweep_reproduces_from_its_replies(
    local_sweep: Path, tmp_path: Path
) -> None:
    checks = reproduce_cells(local_sweep, tmp_path / "replays")
    assert [(c.task, c.config) for c in checks] == [
        ("tiny-accuracy", "eager"),
        ("tiny-accuracy", "lazy"),
        ("tiny-loss", "eager"),
        ("tiny-loss", "lazy"),
    ]
    assert all(check.reproduced for check in checks)
    eager_on_accuracy = checks[0]
    assert eager_on_accuracy.replayed.runs == RUNS
    assert eager_on_accuracy.replayed.successes == RUNS
    assert eager_on_accuracy.replayed.mean_cost_usd > 0
    lazy_on_accuracy = checks[1]
    assert lazy_on_accuracy.replayed.successes == 0
    assert lazy_on_accuracy.replayed.mean_cost_usd_free_tier == 0
    assert (
        tmp_path / "replays" / "runs" / "tiny-loss" / "lazy" / "seed-2" / "summary.json"
    ).is_file()


def test_a_recorded_number_the_replies_do_not_give_is_reported(
    local_sweep: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(local_sweep, sweep)
    with sqlite3.connect(sweep / "results.sqlite") as db:
        db.execute(
            "UPDATE runs SET success = 0 WHERE task = 'tiny-accuracy' AND config = 'eager' "
            "AND seed = 1"
        )
    checks = reproduce_cells(sweep, tmp_path / "replays", tasks={"tiny-accuracy"})
    assert [(c.config, c.reproduced) for c in checks] == [("eager", False), ("lazy", True)]
    assert (checks[0].recorded.successes, checks[0].replayed.successes) == (RUNS - 1, RUNS)


def test_the_command_names_the_cells_that_did_not_reproduce(
    local_sweep: Path, tmp_path: Path
) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(local_sweep, sweep)
    command = [sys.executable, "-m", "budgetml", "reproduce", str(sweep), "--configs", "lazy"]
    passed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert passed.returncode == 0, passed.stderr
    assert "all 2 cell(s) reproduced" in passed.stdout
    written = (sweep / "reproduced.md").read_text()
    assert "the runs were made at commit" in written
    assert "made by other code" not in passed.stderr  # the fixture sweep ran this very code
    assert "| tiny-accuracy | lazy | 3 | 0 → 0 |" in written and "| NO |" not in written
    with sqlite3.connect(sweep / "results.sqlite") as db:
        db.execute("UPDATE runs SET cost_usd = cost_usd + 1 WHERE config = 'lazy' AND seed = 0")
    failed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "2 of 2 cell(s) did not reproduce" in failed.stderr
    assert (sweep / "reproduced.md").read_text().count("| NO |") == 2
