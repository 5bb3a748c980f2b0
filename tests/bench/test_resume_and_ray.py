"""`budgetml bench` as a user runs it: killed mid-sweep and resumed, and on a real Ray instance.

Both must give the table of an uninterrupted local sweep, byte for byte (the runs are scripted,
so deterministic; the tables hold no timing).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from budgetml.bench.sweep import RESULTS_FILE
from tests.bench.conftest import RUNS, SweepInputs

ALL_RUNS = 2 * 2 * RUNS


def bench_command(inputs: SweepInputs, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "budgetml", *inputs.cli_args(out, *extra)]


def bench_env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "BUDGETML_DATA_DIR": str(data_dir)}


def states(out: Path) -> list[tuple[str, str, int]]:
    """(state, run_dir, attempts) of every row; empty while the database does not exist yet."""
    if not (out / RESULTS_FILE).is_file():
        return []
    try:
        db = sqlite3.connect(f"file:{out / RESULTS_FILE}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT state, run_dir, attempts FROM runs").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:
        return []  # the table is being created


def a_run_is_half_done(out: Path) -> bool:
    rows = states(out)
    finished = sum(1 for state, _, _ in rows if state == "finished")
    half_done = any(
        state == "running"
        and (out / run_dir / "trace.jsonl").is_file()
        and not (out / run_dir / "summary.json").exists()
        for state, run_dir, _ in rows
    )
    return finished >= 3 and half_done


def test_a_killed_sweep_goes_on_from_its_cut_off_run_and_gives_the_same_table(
    sweep_inputs: SweepInputs, local_sweep: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    command = bench_command(sweep_inputs, out, "--workers", "1")
    env = bench_env(data_dir)
    sweep = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not a_run_is_half_done(out):
            assert sweep.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, f"no half-done run to kill: {states(out)}"
            time.sleep(0.01)
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    interrupted = states(out)
    cut_off = [run_dir for state, run_dir, _ in interrupted if state == "running"]
    assert cut_off
    assert sum(1 for state, _, _ in interrupted if state == "finished") < ALL_RUNS

    resumed = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming:" in resumed.stderr
    final = states(out)
    assert len(final) == ALL_RUNS and all(state == "finished" for state, _, _ in final)
    summaries = sorted((out / "runs").rglob("summary.json"))
    assert len(summaries) == ALL_RUNS, "a run finished twice, or one never finished"
    assert not list((out / "runs").rglob("*.attempt*")), "a cut-off run was started over"
    for run_dir in cut_off:  # it went on in its own folder from its last checkpoint
        assert '"event": "resumed"' in (out / run_dir / "trace.jsonl").read_text()
    assert (out / "table.md").read_bytes() == (local_sweep / "table.md").read_bytes()
    assert (out / "table.csv").read_bytes() == (local_sweep / "table.csv").read_bytes()


@pytest.fixture(scope="module")
def ray_address(data_dir: Path) -> Iterator[str]:
    """One local Ray instance for the module (starting one takes seconds)."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"BUDGETML_DATA_DIR": str(data_dir)}},
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_a_sweep_submitted_to_a_ray_cluster_gives_the_local_table(
    sweep_inputs: SweepInputs, local_sweep: Path, ray_address: str, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    command = bench_command(sweep_inputs, out, "--executor", "ray", "--ray-address", ray_address)
    result = subprocess.run(
        command, cwd=tmp_path, env=bench_env(data_dir), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "on 2 ray worker(s)" in result.stderr
    assert all(state == "finished" for state, _, _ in states(out)) and len(states(out)) == ALL_RUNS
    assert (out / "table.md").read_bytes() == (local_sweep / "table.md").read_bytes()
    assert (out / "table.csv").read_bytes() == (local_sweep / "table.csv").read_bytes()


def test_the_ray_executor_reuses_a_ray_instance_the_caller_started(
    sweep_inputs: SweepInputs, ray_address: str, tmp_path: Path
) -> None:
    import ray

    from budgetml.bench.executors import RayExecutor
    from budgetml.bench.sweep import plan_sweep, run_sweep

    specs = plan_sweep(sweep_inputs.tasks[:1], sweep_inputs.configs, 1)
    executor = RayExecutor()
    assert executor.slots == 2
    outcome = run_sweep(specs, tmp_path, executor)
    assert (outcome.finished, outcome.successes, outcome.crashed) == (2, 1, 0)
    assert ray.is_initialized()  # closing the executor left the caller's instance running


def test_local_workers_die_with_a_killed_sweep() -> None:
    """SIGKILL of the sweep process alone (not its group) must not leave a worker running."""
    script = (
        "from budgetml.bench.executors import LocalExecutor\n"
        "import os, time\n"
        "pool = LocalExecutor(1)._new_pool()\n"
        "print(pool.submit(os.getpid).result(), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived the killed sweep")
