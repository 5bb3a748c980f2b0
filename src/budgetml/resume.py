"""Resume a killed run from its last complete step: `budgetml run --resume RUN_DIR`.

A run directory holds all a run needs to go on: the recorded config, the trace (steps, model
calls, and in each `checkpoint` event the lifelines used, the undo stacks, the size of the
research log and the best score so far) and the workspace snapshot of the last checkpoint
(checkpoint.py), with the best workspace that checkpoint names (scorekeeper.py). Calls made
after that checkpoint, before the kill, were paid for: the resumed run answers them from their
recorded replies, in order per model and agent, before it calls any model again, and counts
each once. A run killed before its first checkpoint starts over in the same directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budgetml.agents.memory import RESEARCH_LOG_FILE
from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.agents.planner import Step
from budgetml.checkpoint import (
    CHECKPOINTS_DIR,
    keep_only,
    remove_tree,
    restore_workspace,
    snapshot_path,
)
from budgetml.config import ModelEntry, RunConfig, parse_recorded_config
from budgetml.env.task import Baseline, Task, find_task, load_task
from budgetml.errors import BudgetMLError, TaskError
from budgetml.handback import START_DIR
from budgetml.llm import factory as models
from budgetml.llm.base import Completion, Message, Model, ModelWrapper, ReplyFormat
from budgetml.llm.scripted import ScriptedModel
from budgetml.replay import recorded_completion
from budgetml.run import RunRecorder, RunState, run_task
from budgetml.scorekeeper import BEST_DIR, best_path, restored
from budgetml.summary import RunSummary
from budgetml.trace import Event, Trace, current_events, read_trace


@dataclass(frozen=True)
class RecordedRun:
    """What a run directory says about its run, read without changing anything."""

    run_dir: Path
    task: Task
    config: RunConfig
    config_label: str
    seed: int
    events: list[Event]  # every event in the file, superseded ones too


def finished_summary(run_dir: Path) -> RunSummary | None:
    """The run's summary if it finished (then there is nothing to resume)."""
    try:
        return RunSummary.model_validate_json((run_dir / "summary.json").read_bytes())
    except (OSError, ValueError):
        return None


def read_run(run_dir: Path, task: str | None = None, seed: int | None = None) -> RecordedRun:
    """Read a killed run's directory; `task` and `seed`, when given, must be the recorded ones.

    They are needed only for a run killed before its `run_start` event was written.
    """
    if not run_dir.is_dir():
        raise BudgetMLError(f"{run_dir} is not a run directory: no such folder")
    config_file, trace_file = run_dir / "config.yaml", run_dir / "trace.jsonl"
    if not config_file.is_file():
        raise BudgetMLError(
            f"{run_dir} holds no run to resume (it has no config.yaml); start the run again"
        )
    config = parse_recorded_config(
        config_file.read_text("utf-8", errors="replace"), str(config_file)
    )
    events = read_trace(trace_file, superseded=True) if trace_file.is_file() else []
    with _written_by_us(trace_file):
        return _recorded_run(run_dir, config, events, task, seed)


def _recorded_run(
    run_dir: Path, config: RunConfig, events: list[Event], task: str | None, seed: int | None
) -> RecordedRun:
    config_file = run_dir / "config.yaml"
    start = next((e for e in reversed(events) if e["event"] == "run_start"), None)
    if start is None:
        if task is None:
            raise BudgetMLError(
                f"{run_dir} was killed before its run started; name the task again: "
                f"budgetml run TASK --resume {run_dir}"
            )
        return RecordedRun(run_dir, find_task(task), config, str(config_file), seed or 0, events)
    recorded = _recorded_task(start)
    if task is not None and not _same_task(task, recorded):
        raise BudgetMLError(
            f"{run_dir} is a run of the task in {recorded.root}, not of {task}; "
            "leave TASK out to resume it"
        )
    if seed is not None and seed != int(start["seed"]):
        raise BudgetMLError(
            f"{run_dir} was run with --seed {start['seed']}; leave --seed out to resume it"
        )
    return RecordedRun(run_dir, recorded, config, str(start["config"]), int(start["seed"]), events)


def check_settings(
    run: RecordedRun, config: RunConfig | None = None, higher_is_better: bool | None = None
) -> None:
    """Refuse settings that differ from the recorded run's: a resumed run keeps its config."""
    if config is not None and config != run.config:
        ours, theirs = run.config.model_dump(), config.model_dump()
        key = next((k for k in ours if ours[k] != theirs.get(k)), "settings")
        raise BudgetMLError(
            f"{run.run_dir} was run with another configuration ({key} differs); --resume "
            "continues with its recorded config.yaml, so leave out --config, --model and the "
            "other settings"
        )
    if higher_is_better is not None and higher_is_better != run.task.spec.higher_is_better:
        recorded = "higher" if run.task.spec.higher_is_better else "lower"
        raise BudgetMLError(
            f"{run.run_dir} was run with {recorded} is better; leave the direction flag out"
        )


def resume_run(
    run: RecordedRun,
    *,
    make_model: Callable[[ModelEntry], Model] | None = None,
    on_step: Callable[[Step], None] = lambda step: None,
    on_note: Callable[[str], None] = lambda note: None,
) -> RunSummary:
    """Go on with a killed run from its last checkpoint, to the step cap, and score it."""
    with _written_by_us(run.run_dir / "trace.jsonl"):
        resumption = Resumption.of(run)
    if resumption.checkpoint is None:
        on_note("the run was killed before its first step: starting it over in the same folder")
    else:
        on_note(
            f"resuming after step {resumption.checkpoint['step']}; "
            f"{len(resumption.calls)} call(s) made since are answered from the trace"
        )
    build = make_model or (lambda e: models.make_model(e, run.config.prices, run.seed))
    return run_task(
        run.task,
        run.config,
        config_label=run.config_label,
        run_dir=run.run_dir,
        seed=run.seed,
        make_model=lambda entry: resumption.at_position(build(entry)),
        on_step=on_step,
        on_note=on_note,
        resume=resumption,
    )


@dataclass
class RecordedCalls:
    """Replies the killed run paid for after its last checkpoint, served again in order per
    model and agent; a recorded call is never made twice."""

    queues: dict[tuple[str, str], deque[Event]] = field(default_factory=dict)
    _served: list[Completion] = field(default_factory=list)

    @classmethod
    def of(cls, calls: Sequence[Event]) -> RecordedCalls:
        queues: dict[tuple[str, str], deque[Event]] = defaultdict(deque)
        for call in calls:
            queues[(str(call["model"]), str(call["agent"]))].append(call)
        return cls(dict(queues))

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues.values())

    def take(self, model: str, agent: str) -> Completion | None:
        queue = self.queues.get((model, agent))
        if not queue:
            return None
        completion = recorded_completion(queue.popleft())
        self._served.append(completion)
        return completion

    def was_served(self, completion: Completion) -> bool:
        for index, served in enumerate(self._served):
            if served is completion:
                del self._served[index]
                return True
        return False


@dataclass
class ServingRecorded(ModelWrapper):
    """Answers from the recorded calls while any are left for this model and agent."""

    calls: RecordedCalls

    def complete(
        self,
        messages: Sequence[Message],
        *,
        agent: str,
        temperature: float,
        max_tokens: int,
        reply_format: ReplyFormat | None = None,
    ) -> Completion:
        recorded = self.calls.take(self.name, agent)
        if recorded is not None:
            return recorded
        return self.inner.complete(
            messages,
            agent=agent,
            temperature=temperature,
            max_tokens=max_tokens,
            reply_format=reply_format,
        )


@dataclass
class Resumption:
    """A killed run's state at its last checkpoint, handed to `run_task`, which restores it
    (under the run directory's lock) and carries on."""

    run: RecordedRun
    checkpoint: Event | None  # None: killed before the first checkpoint, start over
    state: RunState | None
    done_calls: list[Completion]
    counts: Counter[str]
    calls: RecordedCalls
    used: Counter[tuple[str, str]]  # calls per (model, agent) so far, for scripted models
    superseded: int
    elapsed_s: float

    @classmethod
    def of(cls, run: RecordedRun) -> Resumption:
        events = run.events
        current = current_events(events)
        elapsed = _elapsed(events)
        at = next((i for i in range(len(current) - 1, -1, -1) if _is(current[i], "checkpoint")), -1)
        if at < 0:
            return cls(run, None, None, [], Counter(), RecordedCalls(), Counter(), 0, elapsed)
        checkpoint, before = current[at], current[:at]
        raw_at = next(i for i, event in enumerate(events) if event is checkpoint)
        tail = [e for e in events[raw_at + 1 :] if _is(e, "llm_call") and not e.get("recovered")]
        calls = [e for e in before if _is(e, "llm_call")]
        counts = Counter(str(e["event"]) for e in before)
        counts["expert_calls"] = sum(1 for e in calls if e["agent"] == "expert")
        best, last_score = restored(checkpoint)
        if best is not None and not best_path(run.run_dir, best.step).is_dir():
            raise BudgetMLError(
                f"{run.run_dir}: the best workspace of step {best.step} is missing from "
                f"{BEST_DIR}/; the run cannot be resumed"
            )
        state = RunState(
            _baseline(run, before),
            _steps(run, before, int(checkpoint["step"])),
            int(checkpoint.get("lifelines_used") or 0),
            dict(checkpoint.get("undo") or {}),
            best,
            last_score,
        )
        return cls(
            run,
            checkpoint,
            state,
            [recorded_completion(e) for e in calls],
            counts,
            RecordedCalls.of(tail),
            Counter((str(e["model"]), str(e["agent"])) for e in current if _is(e, "llm_call")),
            len(current) - at - 1,
            elapsed,
        )

    def at_position(self, model: Model) -> Model:
        """A scripted model replays its file in order: skip the replies the run has used."""
        if isinstance(model, ScriptedModel):
            for (name, agent), count in self.used.items():
                if name == model.name:
                    for _ in range(count):
                        model.complete([], agent=agent, temperature=0.0, max_tokens=1)
        return model

    def serve_recorded(self, model: Model) -> Model:
        return ServingRecorded(model, self.calls)

    def call_fields(self, completion: Completion) -> dict[str, Any]:
        return {"recovered": True} if self.calls.was_served(completion) else {}

    def restore(self, trace: Trace, recorder: RunRecorder) -> RunState | None:
        """Put the run directory back as the checkpoint left it; None: start over."""
        run_dir = self.run.run_dir
        _stop_leftover_scripts(run_dir)
        if self.checkpoint is None or self.state is None:
            started = ("workspace", "backups", CHECKPOINTS_DIR, BEST_DIR, START_DIR, "scratch")
            for name in (*started, RESEARCH_LOG_FILE):
                remove_tree(run_dir / name)
            trace.record("resumed", from_step=None, elapsed_before_s=round(self.elapsed_s, 3))
            return None
        step = int(self.checkpoint["step"])
        if step > 0:
            restore_workspace(snapshot_path(run_dir, step), run_dir / "workspace")
        else:
            self.run.task.prepare()
            restore_workspace(self.run.task.make_workspace, run_dir / "workspace")
        keep_only(run_dir, (step,))
        _truncate(run_dir / RESEARCH_LOG_FILE, int(self.checkpoint.get("research_log_bytes") or 0))
        trace.record(
            "resumed",
            from_step=step,
            recovered_calls=len(self.calls),
            superseded_events=self.superseded,
            elapsed_before_s=round(self.elapsed_s, 3),
        )
        for completion in self.done_calls:
            recorder.ledger.record(completion)
        recorder.format_failures = self.counts["format_failure"]
        recorder.escalations = self.counts["escalation"]
        recorder.expert_calls = self.counts["expert_calls"]
        return self.state


@contextlib.contextmanager
def _written_by_us(trace: Path) -> Iterator[None]:
    """A trace whose events lack what BudgetML writes (edited by hand?) is one line, too."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise BudgetMLError(
            f"{trace} does not read as a BudgetML trace ({type(exc).__name__}: {exc}); "
            "the run cannot be resumed"
        ) from None


def _is(event: Event, name: str) -> bool:
    return event["event"] == name


def _recorded_task(start: Event) -> Task:
    try:
        task = load_task(Path(str(start["task_dir"])))
    except TaskError as exc:
        raise TaskError(f"the run's task cannot be loaded any more: {exc}") from None
    return task.with_direction(bool(start["higher_is_better"]))


def _same_task(name_or_path: str, recorded: Task) -> bool:
    try:
        return find_task(name_or_path).root.resolve() == recorded.root.resolve()
    except TaskError:  # e.g. a project folder, whose task folder BudgetML wrote elsewhere
        return False


def _baseline(run: RecordedRun, events: Sequence[Event]) -> Baseline:
    found = next((e for e in reversed(events) if _is(e, "baseline")), None)
    if found is None:
        raise BudgetMLError(f"{run.run_dir}: the trace has a checkpoint but no baseline event")
    value = found.get("value")
    return Baseline(None if value is None else float(value), str(found.get("source", "")))


def _steps(run: RecordedRun, events: Sequence[Event], last: int) -> tuple[Step, ...]:
    steps = tuple(_step(e) for e in events if _is(e, "step"))
    if [s.number for s in steps] != list(range(1, last + 1)):
        raise BudgetMLError(
            f"{run.run_dir}: the trace's steps do not lead up to its checkpoint at step {last}"
        )
    if last > 0 and not snapshot_path(run.run_dir, last).is_dir():
        raise BudgetMLError(
            f"{run.run_dir}: the workspace snapshot of step {last} is missing from "
            f"{CHECKPOINTS_DIR}/; the run cannot be resumed"
        )
    return steps


def _step(event: Event) -> Step:
    """A finished step as the planner remembers it, parsed again from its recorded reply."""
    action, action_input = str(event["action"]), dict(event["action_input"])
    raw = str(event.get("reply", ""))
    try:
        reply = parse_reply(raw, {action: tuple(action_input)})
    except FormatError:
        reply = PlannerReply(action, action_input, {}, raw)
    if (reply.action, reply.action_input) != (action, action_input):
        reply = PlannerReply(action, action_input, reply.sections, raw)
    return Step(int(event["step"]), reply, str(event["observation"]))


def _elapsed(events: Sequence[Event]) -> float:
    """Seconds the run worked before now: each process's first to last event, added up."""
    total = 0.0
    first = last = None
    for event in events:
        moment = event.get("time")
        if not isinstance(moment, int | float):
            continue
        if _is(event, "resumed") and first is not None and last is not None:
            total += last - first
            first = None
        first = moment if first is None else first
        last = moment
    return total + (last - first if first is not None and last is not None else 0.0)


def _truncate(path: Path, size: int) -> None:
    """Drop what was appended after the checkpoint (a half-written entry included)."""
    if path.is_file() and path.stat().st_size > size:
        os.truncate(path, size)


def _stop_leftover_scripts(run_dir: Path) -> None:
    """Kill scripts the killed run left running: they would write into the workspace being
    restored. They are found by the sandbox's environment (HOME is the run's scratch folder);
    this reads /proc, so it does nothing where there is none."""
    marker = f"HOME={(run_dir / 'scratch').resolve()}".encode()
    proc = Path("/proc")
    if not proc.is_dir():
        return
    own = os.getpgid(0)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                group = os.getpgid(int(entry.name))
                if group != own:
                    os.killpg(group, signal.SIGKILL)
