"""`budgetml run` killed with SIGKILL at the worst moments, then `--resume`d: the run finishes
with the steps, actions, score and cost of an uninterrupted run, and the model server (a real
HTTP server on loopback) never sees a completed call twice."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from budgetml.trace import read_events
from tests.resume.harness import (
    MAX_STEPS,
    PLANNER,
    WORKER,
    copy_task,
    kill,
    outcome,
    prompt_key,
    resume,
    scripted_config,
    server_config,
    start,
    start_resume,
    tear_last_line,
    wait_for,
)
from tests.resume.server import TrajectoryServer

FIXTURE_TASK = Path(__file__).parents[1] / "fixtures" / "tasks" / "mlab-style"
CALLS = 6  # five planner calls and the Reflection's worker call


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The uninterrupted run, with how long it worked (first to last event)."""
    folder = tmp_path_factory.mktemp("reference")
    task = copy_task(FIXTURE_TASK, folder / "task")
    with TrajectoryServer(PLANNER, WORKER, MAX_STEPS) as server:
        process = start(task, server_config(folder, server.base_url), folder / "run")
        assert process.wait(timeout=300) == 0, (folder / "run.log").read_text()
        assert sorted(server.counts().values()) == [1] * CALLS
    times = [e.time or 0.0 for e in read_events(folder / "run" / "trace.jsonl")]
    return {**outcome(folder / "run"), "seconds": times[-1] - times[0]}


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def same_as(run_dir: Path, reference: dict[str, Any]) -> bool:
    if not (run_dir / "summary.json").is_file():
        return False
    expected = {k: v for k, v in reference.items() if k != "seconds"}
    return outcome(run_dir) == expected


def report(
    table: list[tuple[str, bool, bool]],
    point: str,
    result: subprocess.CompletedProcess[str],
    run_dir: Path,
    reference: dict[str, Any],
) -> None:
    same = same_as(run_dir, reference)
    table.append((point, result.returncode == 0, same))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert same, "the resumed run differs from the uninterrupted one"


def test_a_kill_during_a_model_call_pays_for_no_completed_call_twice(
    tmp_path: Path, reference: dict[str, Any], kill_table: list[tuple[str, bool, bool]]
) -> None:
    task = copy_task(FIXTURE_TASK, tmp_path / "task")
    run_dir = tmp_path / "run"
    with TrajectoryServer(PLANNER, WORKER, MAX_STEPS) as server:
        server.hold(4)  # the worker call inside step 3's Reflection; step 3's plan is paid
        process = start(task, server_config(tmp_path, server.base_url), run_dir)
        wait_for(server.held.is_set, process, "the held model call")
        kill(process)
        in_flight = server.requests[-1].key
        server.release()
        result = resume(run_dir)
        report(kill_table, "SIGKILL during an LLM call", result, run_dir, reference)
        counts = server.counts()
    assert counts.pop(in_flight) == 2  # the call cut off before its reply is the one made again
    assert sorted(counts.values()) == [1] * (CALLS - 1)
    assert "1 call(s) made since are answered from the trace" in result.stdout


def test_a_kill_during_execute_script_reruns_only_the_script(
    tmp_path: Path, reference: dict[str, Any], kill_table: list[tuple[str, bool, bool]]
) -> None:
    task = copy_task(FIXTURE_TASK, tmp_path / "task")
    run_dir = tmp_path / "run"
    with TrajectoryServer(PLANNER, WORKER, MAX_STEPS) as server:
        process = start(task, server_config(tmp_path, server.base_url), run_dir)
        started = run_dir / "workspace" / "started"
        wait_for(started.exists, process, "the script to start")
        kill(process)
        result = resume(run_dir)
        report(kill_table, "SIGKILL during Execute Script", result, run_dir, reference)
        assert sorted(server.counts().values()) == [1] * CALLS


def test_a_torn_trace_line_resumes_from_the_checkpoint_before_it(
    tmp_path: Path, reference: dict[str, Any], kill_table: list[tuple[str, bool, bool]]
) -> None:
    task = copy_task(FIXTURE_TASK, tmp_path / "task")
    run_dir = tmp_path / "run"
    with TrajectoryServer(PLANNER, WORKER, MAX_STEPS) as server:
        server.hold(5)  # step 4's plan: the last line written is step 3's checkpoint
        process = start(task, server_config(tmp_path, server.base_url), run_dir)
        wait_for(server.held.is_set, process, "the held model call")
        kill(process)
        in_flight = server.requests[-1].key
        server.release()
        assert tear_last_line(run_dir / "trace.jsonl")["event"] == "checkpoint"
        result = resume(run_dir)
        point = "SIGKILL while writing the trace (torn line)"
        report(kill_table, point, result, run_dir, reference)
        counts = server.counts()
    assert counts.pop(in_flight) == 2
    assert sorted(counts.values()) == [1] * (CALLS - 1)  # step 3's two calls came from the trace
    assert "2 call(s) made since are answered from the trace" in result.stdout


@pytest.fixture(scope="module")
def scripted_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The uninterrupted run with the scripted model (its token counts are estimates)."""
    folder = tmp_path_factory.mktemp("scripted-reference")
    task = copy_task(FIXTURE_TASK, folder / "task")
    process = start(task, scripted_config(folder), folder / "run")
    assert process.wait(timeout=300) == 0, (folder / "run.log").read_text()
    return without_model_names(outcome(folder / "run"))


def without_model_names(run: dict[str, Any]) -> dict[str, Any]:
    """A scripted model is named by its file's path, which differs between test folders."""
    return {**run, "tokens": list(run["tokens"].values())}


def test_a_scripted_run_killed_during_execute_script_goes_on_from_its_script(
    tmp_path: Path,
    scripted_reference: dict[str, Any],
    kill_table: list[tuple[str, bool, bool]],
) -> None:
    task = copy_task(FIXTURE_TASK, tmp_path / "task")
    run_dir = tmp_path / "run"
    process = start(task, scripted_config(tmp_path), run_dir)
    wait_for((run_dir / "workspace" / "started").exists, process, "the script to start")
    kill(process)
    result = resume(run_dir)
    finished = (run_dir / "summary.json").is_file()
    same = finished and without_model_names(outcome(run_dir)) == scripted_reference
    kill_table.append(("SIGKILL during Execute Script (scripted model)", finished, same))
    assert result.returncode == 0, result.stdout + result.stderr
    assert same


@pytest.mark.parametrize(
    "seed", [7, pytest.param(11, marks=pytest.mark.slow), pytest.param(12, marks=pytest.mark.slow)]
)
def test_kills_at_random_moments_resume_to_the_same_run(
    seed: int,
    tmp_path: Path,
    reference: dict[str, Any],
    kill_table: list[tuple[str, bool, bool]],
) -> None:
    """Kill the run, then the resumed run, at random moments (sometimes tearing the trace's
    last line as well); only a call cut off by a kill may be sent twice."""
    rng = random.Random(seed)
    task = copy_task(FIXTURE_TASK, tmp_path / "task")
    run_dir = tmp_path / "run"
    kills: list[str] = []
    last_before_kill: set[str] = set()
    trace = run_dir / "trace.jsonl"
    with TrajectoryServer(PLANNER, WORKER, MAX_STEPS) as server:
        process = start(task, server_config(tmp_path, server.base_url), run_dir)
        for _ in range(2):
            written = size(trace)
            while process.poll() is None and size(trace) <= written:
                time.sleep(0.01)  # until the process is past its imports, writing the trace
            time.sleep(rng.uniform(0.0, 1.0) * reference["seconds"])
            if process.poll() is not None:
                break
            kill(process)
            if server.requests:
                last_before_kill.add(server.requests[-1].key)
            torn = ""
            if rng.random() < 0.5 and (run_dir / "trace.jsonl").is_file():
                event = tear_last_line(run_dir / "trace.jsonl")
                torn = f", {event.get('event', 'a')} line torn"
                if event.get("event") == "llm_call":  # its record is lost: it is made again
                    last_before_kill.add(prompt_key(event))
            kills.append(f"{len(server.requests)} calls made{torn}")
            if (run_dir / "config.yaml").is_file():
                process = start_resume(task, run_dir)
            else:  # killed before it wrote anything: there is nothing to resume
                kills[-1] = "before the run directory was made"
                process = start(task, server_config(tmp_path, server.base_url), run_dir)
        finished = process.wait(timeout=300) == 0
        point = f"SIGKILL at random moments ({'; '.join(kills) or 'none landed'})"
        kill_table.append((point, finished, same_as(run_dir, reference)))
        counts = server.counts()
    assert finished, (tmp_path / "run.log").read_text()
    assert same_as(run_dir, reference)
    assert all(count == 1 or key in last_before_kill for key, count in counts.items())
    assert max(counts.values()) <= 1 + len(kills)
