"""Resume a killed run from its last complete step: `budgetml run --resume RUN_DIR`.

A run directory holds all a run needs to go on (run_dir.py): the recorded config, the trace
(steps, model calls, and in each checkpoint the lifelines used, the undo stacks, the size of
the research log and the best score so far) and the workspace snapshot of the last checkpoint
(checkpoint.py), with the best workspace that checkpoint names (scorekeeper.py). Calls made
after that checkpoint, before the kill, were paid for: the resumed run answers them from their
recorded replies, in order per model and agent, before it calls any model again, and counts
each once. A run killed before its first checkpoint starts over in the same directory.

Resuming is: read the record, put the directory back as the checkpoint left it, build the state
and the models (recorded replies on top), and hand both to `run_task`, which knows nothing of
this. `resume_run` is the one way in, for the CLI and the sweep's workers alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetml.agents.history import Step
from budgetml.agents.parser import FormatError, PlannerReply, parse_reply
from budgetml.checkpoint import keep_only, remove_tree, restore_workspace
from budgetml.config import RunConfig
from budgetml.env.task import Baseline, Task, find_task
from budgetml.errors import BudgetMLError, TaskError
from budgetml.llm import factory
from budgetml.llm.base import Completion, Model
from budgetml.llm.scripted import ScriptedModel
from budgetml.llm.stack import MakeModel, RecordedReplies, build_models, recorded_completion
from budgetml.run import RunState, run_task
from budgetml.run_dir import RunDir, recorded_task, started
from budgetml.scorekeeper import restored
from budgetml.summary import RunSummary
from budgetml.trace import (
    BaselineMeasured,
    Checkpoint,
    Escalation,
    Event,
    FormatFailure,
    LlmCall,
    Resumed,
    StepDone,
    Trace,
    current_events,
    last,
    of_kind,
)


@dataclass(frozen=True)
class RecordedRun:
    """What a run directory says about its run, read without changing anything."""

    run_dir: RunDir
    task: Task
    config: RunConfig
    config_label: str
    seed: int
    events: list[Event]  # every event in the file, superseded ones too


def read_run(run_dir: Path, task: str | None = None, seed: int | None = None) -> RecordedRun:
    """Read a killed run's directory; `task` and `seed`, when given, must be the recorded ones.

    They are needed only for a run killed before its `run_start` event was written.
    """
    layout = RunDir(run_dir)
    if not run_dir.is_dir():
        raise BudgetMLError(f"{run_dir} is not a run directory: no such folder")
    if not layout.config.is_file():
        raise BudgetMLError(
            f"{run_dir} holds no run to resume (it has no config.yaml); start the run again"
        )
    config = layout.read_config()
    events = layout.events(superseded=True)
    start = started(events)
    if start is None:
        if task is None:
            raise BudgetMLError(
                f"{run_dir} was killed before its run started; name the task again: "
                f"budgetml run TASK --resume {run_dir}"
            )
        return RecordedRun(layout, find_task(task), config, str(layout.config), seed or 0, events)
    recorded = recorded_task(start)
    if task is not None and not _same_task(task, recorded):
        raise BudgetMLError(
            f"{run_dir} is a run of the task in {recorded.root}, not of {task}; "
            "leave TASK out to resume it"
        )
    if seed is not None and seed != start.seed:
        raise BudgetMLError(
            f"{run_dir} was run with --seed {start.seed}; leave --seed out to resume it"
        )
    return RecordedRun(layout, recorded, config, start.config, start.seed, events)


def check_settings(
    run: RecordedRun, config: RunConfig | None = None, higher_is_better: bool | None = None
) -> None:
    """Refuse settings that differ from the recorded run's: a resumed run keeps its config."""
    if config is not None and config != run.config:
        ours, theirs = run.config.model_dump(), config.model_dump()
        key = next((k for k in ours if ours[k] != theirs.get(k)), "settings")
        raise BudgetMLError(
            f"{run.run_dir.root} was run with another configuration ({key} differs); --resume "
            "continues with its recorded config.yaml, so leave out --config, --model and the "
            "other settings"
        )
    if higher_is_better is not None and higher_is_better != run.task.spec.higher_is_better:
        recorded = "higher" if run.task.spec.higher_is_better else "lower"
        raise BudgetMLError(
            f"{run.run_dir.root} was run with {recorded} is better; leave the direction flag out"
        )


def resume_run(
    run: RecordedRun,
    *,
    config: RunConfig | None = None,
    higher_is_better: bool | None = None,
    make_model: MakeModel | None = None,
    on_step: Callable[[Step], None] = lambda step: None,
    on_note: Callable[[str], None] = lambda note: None,
) -> RunSummary:
    """Go on with a killed run from its last checkpoint, to the step cap, and score it.

    `config` and `higher_is_better`, when given, must be the recorded ones (`check_settings`).
    """
    check_settings(run, config, higher_is_better)
    point = ResumePoint.of(run)
    if point.checkpoint is None:
        on_note("the run was killed before its first step: starting it over in the same folder")
    else:
        on_note(
            f"resuming after step {point.checkpoint.step}; "
            f"{len(point.replies)} call(s) made since are answered from the trace"
        )
    build = make_model or (lambda e: factory.make_model(e, run.config.prices, run.seed))
    with (
        build_models(
            run.config, run.seed, lambda entry: point.at_position(build(entry)), point.replies
        ) as models,
        run.run_dir.held(),
    ):
        state = point.restore()
        for completion in point.done_calls:
            models.ledger.add(completion)
        return run_task(
            run.task,
            run.config,
            config_label=run.config_label,
            run_dir=run.run_dir,
            seed=run.seed,
            models=models,
            state=state,
            worked_before_s=point.elapsed_s,
            on_step=on_step,
            on_note=on_note,
        )


@dataclass
class ResumePoint:
    """A killed run's state at its last checkpoint, and what putting it back takes."""

    run: RecordedRun
    checkpoint: Checkpoint | None  # None: killed before the first checkpoint, start over
    state: RunState | None
    done_calls: list[Completion]
    replies: RecordedReplies
    used: Counter[tuple[str, str]]  # calls per (model, agent) so far, for scripted models
    superseded: int
    elapsed_s: float

    @classmethod
    def of(cls, run: RecordedRun) -> ResumePoint:
        events = run.events
        current = current_events(events)
        elapsed = _elapsed(events)
        at = next(
            (i for i in range(len(current) - 1, -1, -1) if isinstance(current[i], Checkpoint)),
            -1,
        )
        if at < 0:
            nothing = RecordedReplies("recovered")
            return cls(run, None, None, [], nothing, Counter(), 0, elapsed)
        checkpoint, before = current[at], current[:at]
        assert isinstance(checkpoint, Checkpoint)
        raw_at = next(i for i, event in enumerate(events) if event is checkpoint)
        tail = [e for e in of_kind(events[raw_at + 1 :], LlmCall) if not e.recovered]
        calls = of_kind(before, LlmCall)
        best, last_score = restored(checkpoint)
        if best is not None and not run.run_dir.best(best.step).is_dir():
            raise BudgetMLError(
                f"{run.run_dir.root}: the best workspace of step {best.step} is missing from "
                f"{run.run_dir.best_dir.name}/; the run cannot be resumed"
            )
        state = RunState(
            _baseline(run, before),
            _steps(run, before, checkpoint.step),
            checkpoint.lifelines_used,
            dict(checkpoint.undo),
            best,
            last_score,
            format_failures=len(of_kind(before, FormatFailure)),
            escalations=len(of_kind(before, Escalation)),
            expert_calls=sum(1 for call in calls if call.agent == "expert"),
        )
        return cls(
            run,
            checkpoint,
            state,
            [recorded_completion(call) for call in calls],
            RecordedReplies.of(tail, "recovered"),
            Counter((call.model, call.agent) for call in of_kind(current, LlmCall)),
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

    def restore(self) -> RunState | None:
        """Put the run directory back as the checkpoint left it (the caller holds it) and
        record the resumption; None: the run starts over."""
        layout = self.run.run_dir
        _stop_leftover_scripts(layout)
        with Trace(layout.trace) as trace:
            if self.checkpoint is None or self.state is None:
                for made in layout.made_by_the_run():
                    remove_tree(made)
                trace.write(Resumed(from_step=None, elapsed_before_s=round(self.elapsed_s, 3)))
                return None
            step = self.checkpoint.step
            if step > 0:
                restore_workspace(layout.snapshot(step), layout.workspace)
            else:
                self.run.task.prepare()
                restore_workspace(self.run.task.make_workspace, layout.workspace)
            keep_only(layout, (step,))
            _truncate(layout.research_log, self.checkpoint.research_log_bytes)
            trace.write(
                Resumed(
                    from_step=step,
                    recovered_calls=len(self.replies),
                    superseded_events=self.superseded,
                    elapsed_before_s=round(self.elapsed_s, 3),
                )
            )
        return self.state


def _same_task(name_or_path: str, recorded: Task) -> bool:
    try:
        return find_task(name_or_path).root.resolve() == recorded.root.resolve()
    except TaskError:  # e.g. a project folder, whose task folder BudgetML wrote elsewhere
        return False


def _baseline(run: RecordedRun, events: Sequence[Event]) -> Baseline:
    found = last(events, BaselineMeasured)
    if found is None:
        raise BudgetMLError(f"{run.run_dir.root}: the trace has a checkpoint but no baseline event")
    return Baseline(found.value, found.source)


def _steps(run: RecordedRun, events: Sequence[Event], last_step: int) -> tuple[Step, ...]:
    steps = tuple(recorded_step(e) for e in of_kind(events, StepDone))
    if [s.number for s in steps] != list(range(1, last_step + 1)):
        raise BudgetMLError(
            f"{run.run_dir.root}: the trace's steps do not lead up to its checkpoint at step "
            f"{last_step}"
        )
    if last_step > 0 and not run.run_dir.snapshot(last_step).is_dir():
        raise BudgetMLError(
            f"{run.run_dir.root}: the workspace snapshot of step {last_step} is missing from "
            f"{run.run_dir.checkpoints.name}/; the run cannot be resumed"
        )
    return steps


def recorded_step(event: StepDone) -> Step:
    """A finished step as the planner remembers it, parsed again from its recorded reply."""
    action, action_input, raw = event.action, dict(event.action_input), event.reply
    try:
        reply = parse_reply(raw, {action: tuple(action_input)})
    except FormatError:
        reply = PlannerReply(action, action_input, {}, raw)
    if (reply.action, reply.action_input) != (action, action_input):
        reply = PlannerReply(action, action_input, reply.sections, raw)
    return Step(event.step, reply, event.observation)


def _elapsed(events: Sequence[Event]) -> float:
    """Seconds the run worked before now: each process's first to last event, added up."""
    total = 0.0
    first = latest = None
    for event in events:
        moment = event.time
        if moment is None:
            continue
        if isinstance(event, Resumed) and first is not None and latest is not None:
            total += latest - first
            first = None
        first = moment if first is None else first
        latest = moment
    return total + (latest - first if first is not None and latest is not None else 0.0)


def _truncate(path: Path, size: int) -> None:
    """Drop what was appended after the checkpoint (a half-written entry included)."""
    if path.is_file() and path.stat().st_size > size:
        os.truncate(path, size)


def _stop_leftover_scripts(run_dir: RunDir) -> None:
    """Kill scripts the killed run left running: they would write into the workspace being
    restored. They are found by the sandbox's environment (HOME is the run's scratch folder);
    this reads /proc, so it does nothing where there is none."""
    marker = f"HOME={run_dir.scratch.resolve()}".encode()
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
