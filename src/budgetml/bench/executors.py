"""Where a sweep's runs execute: local worker processes, or Ray tasks on a cluster.

Both run the same function, `execute_run`, on the same `RunJob`, and hand back a `RunResult`;
a run that raises comes back as a crash message, never as an exception in the sweep.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from budgetml.bench.store import RunKey
from budgetml.config import RunConfig
from budgetml.env.task import find_task
from budgetml.errors import BudgetMLError
from budgetml.resume import read_run, resume_run
from budgetml.run import start_run
from budgetml.summary import RunSummary


@dataclass(frozen=True)
class RunJob:
    """Everything a worker needs for one run; paths are absolute, the config carries its cap."""

    key: RunKey
    task_ref: str
    config: RunConfig
    run_dir: str
    cwd: str
    resume: bool = False  # go on from the last checkpoint of a cut-off attempt in run_dir


@dataclass(frozen=True)
class RunResult:
    key: RunKey
    summary: RunSummary | None
    crash: str | None
    started_at: float
    finished_at: float


def execute_run(job: RunJob) -> RunResult:
    """One isolated run in its own directory; any exception becomes the result's crash message."""
    started = time.time()
    try:
        if os.path.isdir(job.cwd):
            os.chdir(job.cwd)  # relative paths in configs mean what they meant to `bench`
        if job.resume:
            recorded = read_run(Path(job.run_dir), task=job.task_ref, seed=job.key.seed)
            summary = resume_run(recorded, config=job.config)
        else:
            summary = start_run(
                find_task(job.task_ref),
                job.config,
                config_label=job.key.config,
                run_dir=Path(job.run_dir),
                seed=job.key.seed,
            )
    except Exception as exc:
        return RunResult(job.key, None, describe_crash(exc), started, time.time())
    return RunResult(job.key, summary, None, started, time.time())


def describe_crash(exc: BaseException) -> str:
    """One line: the user's own message for a BudgetMLError, else the type and where it rose."""
    if isinstance(exc, BudgetMLError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Executor(Protocol):
    """Runs jobs concurrently, at most `slots` at a time (the sweep never submits more)."""

    slots: int

    def submit(self, job: RunJob) -> None: ...

    def wait_one(self) -> RunResult:
        """Block until one submitted job ends and return its result."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """Worker processes on this machine; 'spawn' so no thread or lock state leaks into them."""

    def __init__(self, workers: int = 1) -> None:
        self.slots = workers
        self._pool = self._new_pool()
        self._running: dict[Future[RunResult], RunJob] = {}
        self._broken = False

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.slots,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
        )

    def submit(self, job: RunJob) -> None:
        if self._broken:  # a worker died (killed, out of memory): start a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self._broken = self._new_pool(), False
        self._running[self._pool.submit(execute_run, job)] = job

    def wait_one(self) -> RunResult:
        done, _ = wait(self._running, return_when=FIRST_COMPLETED)
        future = next(iter(done))
        job = self._running.pop(future)
        try:
            return future.result()
        except BrokenProcessPool:
            self._broken = True
            return _crashed(job, "the worker process died during the run (killed or out of memory)")
        except Exception as exc:
            return _crashed(job, describe_crash(exc))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Each run is a Ray task declaring `num_cpus`; with `address` it goes to a running cluster.

    Workers write the run directory themselves, so on a multi-node cluster the sweep folder
    must be on a file system every node mounts at the same path.
    """

    def __init__(
        self, address: str | None = None, workers: int | None = None, num_cpus: float = 1.0
    ) -> None:
        import ray

        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise BudgetMLError(f"cannot start or reach {where}: {exc}") from None
        # No Ray-level retries: a retried task would find its half-written run directory.
        self._remote: Any = ray.remote(num_cpus=num_cpus, max_retries=0)(execute_run)
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.slots = workers or max(1, int(cpus // num_cpus))
        self._running: dict[Any, RunJob] = {}

    def submit(self, job: RunJob) -> None:
        self._running[self._remote.remote(job)] = job

    def wait_one(self) -> RunResult:
        ready, _ = self._ray.wait(list(self._running), num_returns=1)
        job = self._running.pop(ready[0])
        try:
            result: RunResult = self._ray.get(ready[0])
        except Exception as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            return _crashed(job, f"the Ray task failed: {lines[-1]}")
        return result

    def close(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        if self._owns:
            self._ray.shutdown()


def _die_with_parent() -> None:
    """A worker must not outlive a killed sweep: it would keep writing into a run directory the
    rerun moves aside. Linux only (prctl PR_SET_PDEATHSIG); elsewhere a no-op."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _crashed(job: RunJob, message: str) -> RunResult:
    now = time.time()
    return RunResult(job.key, None, message, now, now)
