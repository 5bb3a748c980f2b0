"""A sweep: every (task, config, seed) as an isolated run, resumable, under one budget.

Resumability contract (DIR is the sweep folder):
- a row is finished only once its run's summary.json exists; a finished row is never rerun;
- a run whose summary.json exists but whose row is not finished (the sweep was killed between
  the two) is recorded from that summary, not rerun;
- a run cut off by a kill (its row still says running) goes on from its last checkpoint in
  the same directory, as `budgetml run --resume` would: the replies it paid for after that
  checkpoint are served from its trace, never bought twice — when its recorded config.yaml is
  the one this sweep would give it (else it starts again, as below);
- any other run with a non-empty directory (crashed, or not resumable) is moved aside to
  `seed-N.attemptK` and started again in a fresh directory.

Budget rule (`budget_usd`, the cap for all runs recorded in DIR): `left` = cap − money charged
by every attempt so far − the caps reserved by runs in flight. A run whose config has a cap C
starts only if C ≤ left and gets C; a run without a cap starts only if left > 0 and gets
`left` as its cap (so uncapped runs under a sweep cap go one at a time). A run that does not
fit stays pending; rerunning with a larger cap starts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

from budgetml.bench.executors import Executor, RunJob, RunResult
from budgetml.bench.store import ResultStore, RunKey, RunRecord
from budgetml.config import RunConfig, load_config
from budgetml.env.task import builtin_task_names, find_task
from budgetml.errors import BudgetMLError
from budgetml.run_dir import RunDir
from budgetml.trace import LlmCall, of_kind

RESULTS_FILE = "results.sqlite"
T = TypeVar("T")


@dataclass(frozen=True)
class RunSpec:
    key: RunKey
    task_ref: str
    config_ref: str
    config: RunConfig
    config_sha256: str

    @property
    def run_dir(self) -> str:
        """Relative to the sweep folder."""
        return f"runs/{_slug(self.key.task)}/{_slug(self.key.config)}/seed-{self.key.seed}"


@dataclass(frozen=True)
class SweepOutcome:
    total: int
    finished: int
    successes: int
    crashed: int
    not_started: int
    spent_usd: float


class SweepObserver(Protocol):
    def sweep_started(self, total: int, done: int, successes: int, spent_usd: float) -> None: ...

    def run_started(self, spec: RunSpec, budget_usd: float | None) -> None: ...

    def run_ended(self, record: RunRecord, spent_usd: float) -> None: ...


class SilentObserver:
    def sweep_started(self, total: int, done: int, successes: int, spent_usd: float) -> None:
        pass

    def run_started(self, spec: RunSpec, budget_usd: float | None) -> None:
        pass

    def run_ended(self, record: RunRecord, spent_usd: float) -> None:
        pass


def plan_sweep(tasks: Sequence[str], configs: Sequence[str], runs: int) -> list[RunSpec]:
    """Expand tasks × configs × seeds 0..runs-1, seed-major so early results cover every cell.

    Tasks are built-in names (`all` = every one) or folders; configs are presets or YAML files,
    labelled by the preset name or the file's stem.
    """
    if runs < 1:
        raise BudgetMLError("--runs must be at least 1")
    task_refs = [n for ref in tasks for n in (builtin_task_names() if ref == "all" else [ref])]
    named_tasks = _unique(
        [(find_task(ref).name, _task_ref(ref)) for ref in dict.fromkeys(task_refs)], "task"
    )
    named_configs = _unique([_load(ref) for ref in dict.fromkeys(configs)], "config")
    if not named_tasks or not named_configs:
        raise BudgetMLError("a sweep needs at least one task and one config")
    return [
        RunSpec(RunKey(task, label, seed), task_ref, config_ref, config, _sha256(config))
        for seed in range(runs)
        for task, task_ref in named_tasks
        for label, (config_ref, config) in named_configs
    ]


def run_sweep(
    specs: Sequence[RunSpec],
    out: Path,
    executor: Executor,
    budget_usd: float | None = None,
    observer: SweepObserver | None = None,
) -> SweepOutcome:
    """Run every spec not yet finished in `out`; returns the state of these specs afterwards."""
    observer = observer or SilentObserver()
    out.mkdir(parents=True, exist_ok=True)
    with _sweep_lock(out), contextlib.closing(ResultStore(out / RESULTS_FILE)) as store:
        attempts = [_prepare(store, spec, out, budget_usd) for spec in specs]
        todo = [attempt.spec for attempt in attempts if attempt is not None]
        resume = {attempt.spec.key for attempt in attempts if attempt and attempt.resume}
        spent = sum(record.charged_usd for record in store.records())
        keys_todo = {spec.key for spec in todo}
        done = [store.get(spec.key) for spec in specs if spec.key not in keys_todo]
        successes = sum(1 for r in done if r and r.summary and r.summary.success)
        observer.sweep_started(len(specs), len(done), successes, spent)
        _schedule(todo, resume, out, executor, store, budget_usd, spent, observer)
        records = [store.get(spec.key) for spec in specs]
        return SweepOutcome(
            total=len(specs),
            finished=sum(1 for r in records if r and r.state == "finished"),
            successes=sum(1 for r in records if r and r.summary and r.summary.success),
            crashed=sum(1 for r in records if r and r.state == "crashed"),
            not_started=sum(1 for r in records if r and r.state == "pending"),
            spent_usd=sum(record.charged_usd for record in store.records()),
        )


def _schedule(
    todo: list[RunSpec],
    resume: set[RunKey],
    out: Path,
    executor: Executor,
    store: ResultStore,
    budget_usd: float | None,
    spent: float,
    observer: SweepObserver,
) -> None:
    pending = list(todo)
    reserved: dict[RunKey, float] = {}
    specs = {spec.key: spec for spec in todo}
    cwd = os.getcwd()
    try:
        while True:
            while len(reserved) < executor.slots:
                left = None if budget_usd is None else budget_usd - spent - sum(reserved.values())
                picked = _next_affordable(pending, left)
                if picked is None:
                    break
                spec, cap = picked
                pending.remove(spec)
                reserved[spec.key] = cap or 0.0
                config = spec.config if cap is None else spec.config.with_settings(budget_usd=cap)
                store.mark_running(spec.key, cap, time.time())
                observer.run_started(spec, cap)
                run_dir = str(out / spec.run_dir)
                executor.submit(
                    RunJob(spec.key, spec.task_ref, config, run_dir, cwd, spec.key in resume)
                )
            if not reserved:
                return
            result = executor.wait_one()
            del reserved[result.key]
            spent += _write_row(store, specs[result.key], out, result)
            record = store.get(result.key)
            assert record is not None
            observer.run_ended(record, spent)
    finally:
        executor.close()


def _next_affordable(
    pending: list[RunSpec], left: float | None
) -> tuple[RunSpec, float | None] | None:
    """The first pending run the budget can cover, and the cap it gets (see the module doc)."""
    for spec in pending:
        cap = spec.config.budget_usd
        if left is None:
            return spec, cap
        if cap is None and left > 0:
            return spec, left
        if cap is not None and cap <= left + 1e-12:
            return spec, cap
    return None


def _write_row(store: ResultStore, spec: RunSpec, out: Path, result: RunResult) -> float:
    """Write the row for an ended run; returns the money it charged."""
    run_dir = RunDir(out / spec.run_dir)
    duration = result.finished_at - result.started_at
    if result.summary is not None and run_dir.summary.is_file():
        store.mark_finished(spec.key, result.summary, result.finished_at, duration)
        return result.summary.spent_usd
    crash = result.crash or (
        f"the run ended but {run_dir.summary} is missing; on a Ray cluster the sweep "
        "folder must be on a file system every node shares"
    )
    charged = trace_spend(run_dir)
    store.mark_crashed(spec.key, crash, charged, result.finished_at, duration)
    return charged


@dataclass(frozen=True)
class _Attempt:
    spec: RunSpec  # a resumed run under a sweep budget carries the cap it was given then
    resume: bool


def _prepare(
    store: ResultStore, spec: RunSpec, out: Path, budget_usd: float | None
) -> _Attempt | None:
    """Register the spec and say how its next attempt starts (None: it has finished)."""
    record = store.register(
        spec.key, spec.run_dir, spec.task_ref, spec.config_ref, spec.config_sha256
    )
    if record.state == "finished":
        return None
    layout = RunDir(out / spec.run_dir)
    run_dir = layout.root
    summary = layout.read_summary()
    if summary is not None:  # killed after summary.json was written but before the row was
        finished_at = layout.summary.stat().st_mtime
        store.mark_finished(spec.key, summary, finished_at, None)
        return None
    recorded = _recorded_config(layout) if record.state == "running" else None
    if recorded is not None and _resumable(recorded, spec.config, budget_usd):
        # what it charged so far is in the summary it will write, and counts against its cap
        return _Attempt(replace(spec, config=recorded), resume=True)
    if record.state != "crashed":  # an attempt cut off before its row was written
        store.add_charge(spec.key, trace_spend(layout))
    if run_dir.exists() and any(run_dir.iterdir()):
        os.replace(run_dir, _attempt_dir(run_dir, max(record.attempts, 1)))
    return _Attempt(spec, resume=False)


def _recorded_config(run_dir: RunDir) -> RunConfig | None:
    """The config a cut-off attempt ran with, if it got as far as writing one and a trace."""
    if not run_dir.trace.is_file():
        return None
    try:
        return run_dir.read_config()
    except (OSError, BudgetMLError):
        return None


def _resumable(recorded: RunConfig, config: RunConfig, budget_usd: float | None) -> bool:
    """Whether the cut-off attempt ran with the config this sweep would give it: the same
    settings, and its own cap — or, under a sweep budget, the cap it was handed then."""
    if budget_usd is None:
        return recorded == config
    return (
        recorded.budget_usd is not None
        and recorded.with_settings(budget_usd=config.budget_usd) == config
    )


def trace_spend(run_dir: RunDir) -> float:
    """Money charged by the model calls in a run's trace (calls served from a cache are free)."""
    return sum(call.cost_usd for call in of_kind(run_dir.events(), LlmCall) if not call.cached)


def _attempt_dir(run_dir: Path, attempt: int) -> Path:
    while (candidate := run_dir.with_name(f"{run_dir.name}.attempt{attempt}")).exists():
        attempt += 1
    return candidate


@contextlib.contextmanager
def _sweep_lock(out: Path) -> Iterator[None]:
    """One sweep process per folder; the OS drops the lock when the process dies."""
    with (out / ".sweep.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BudgetMLError(f"another `budgetml bench` is already running in {out}") from None
        yield


def _task_ref(ref: str) -> str:
    path = Path(ref).expanduser()
    return str(path.resolve()) if path.is_dir() else ref


def _load(ref: str) -> tuple[str, tuple[str, RunConfig]]:
    label, config = load_config(ref)
    path = Path(ref).expanduser()
    if path.is_file():
        return path.stem, (str(path.resolve()), config)
    return label, (ref, config)


def _unique(named: list[tuple[str, T]], what: str) -> list[tuple[str, T]]:
    seen: dict[str, T] = {}
    for name, value in named:
        if name in seen:
            raise BudgetMLError(f"two {what}s are both named {name!r}; rename one")
        seen[name] = value
    return named


def _sha256(config: RunConfig) -> str:
    return hashlib.sha256(config.to_yaml().encode()).hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "_"
