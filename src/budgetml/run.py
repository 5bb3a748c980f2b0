"""One run: plan → act → observe → record, until Final Answer or the step cap; then score."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from budgetml import __version__
from budgetml.agents.cascade import PlanningFailed
from budgetml.agents.history import Step
from budgetml.agents.team import Team, assemble_team
from budgetml.checkpoint import Checkpoints
from budgetml.config import RunConfig
from budgetml.env.actions import FINAL_ANSWER, ActionContext, execute
from budgetml.env.project import stop_if_unscorable
from budgetml.env.sandbox import Sandbox
from budgetml.env.task import Baseline, Task
from budgetml.env.workspace import Workspace
from budgetml.errors import ModelError
from budgetml.handback import keep_start
from budgetml.llm.base import Completion, Message
from budgetml.llm.budget import BudgetExhausted
from budgetml.llm.ledger import CostLedger
from budgetml.llm.stack import MakeModel, ModelStack, build_models
from budgetml.provenance import code_commit
from budgetml.run_dir import RunDir
from budgetml.scorekeeper import Scorekeeper, StepScore, scores_during_run
from budgetml.summary import RunSummary, Status, improvement, is_success
from budgetml.trace import (
    BaselineMeasured,
    ContextTrimmed,
    Escalation,
    FormatFailure,
    LlmCall,
    OutOfBudget,
    RunEnd,
    RunError,
    RunStart,
    StepDone,
    Trace,
)


@dataclass
class RunRecorder:
    """Puts every model call in the trace and the ledger, and counts what the summary reports."""

    trace: Trace
    ledger: CostLedger
    format_failures: int = 0
    escalations: int = 0
    expert_calls: int = 0

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        self.ledger.add(completion)
        if agent == "expert":
            self.expert_calls += 1
        self.trace.write(
            LlmCall(
                agent=agent,
                model=completion.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                reply=completion.text,
                input_tokens=completion.usage.input_tokens,
                output_tokens=completion.usage.output_tokens,
                cached_input_tokens=completion.usage.cached_input_tokens,
                cost_usd=completion.cost_usd,
                cached=completion.cached,
                latency_s=round(completion.latency_s, 4),
                recovered=completion.recovered,
            )
        )

    def format_failure(self, model: str, attempt: int, error: str) -> None:
        self.format_failures += 1
        self.trace.write(FormatFailure(model=model, attempt=attempt, error=error))

    def escalation(self, from_model: str, to_model: str, reason: str) -> None:
        self.escalations += 1
        self.trace.write(Escalation(from_model=from_model, to_model=to_model, reason=reason))

    def context_trimmed(self, model: str, shown_steps: int) -> None:
        self.trace.write(ContextTrimmed(model=model, shown_steps=shown_steps))


@dataclass(frozen=True)
class RunState:
    """Where a run stands after a complete step: what a checkpoint gives back on resume."""

    baseline: Baseline
    steps: tuple[Step, ...] = ()
    lifelines_used: int = 0
    undo: Mapping[str, Sequence[str | None]] = field(default_factory=dict)
    best: StepScore | None = None
    last_score: StepScore | None = None
    format_failures: int = 0
    escalations: int = 0
    expert_calls: int = 0


@dataclass(frozen=True)
class ScoredStep(Step):
    """A finished step as `on_step` gets it: with its score when scoring changed the score."""

    score: StepScore | None = None
    metric: str = "score"

    def score_note(self) -> str | None:
        """E.g. "accuracy 0.712 (best so far)", for the step's console line."""
        if self.score is None:
            return None
        if self.score.value is None:
            return f"{self.metric} invalid"
        best = " (best so far)" if self.score.best else ""
        return f"{self.metric} {self.score.value:.6g}{best}"


@dataclass
class RunOutcome:
    status: Status = "max_steps"
    steps: list[Step] = field(default_factory=list)
    final_answer: str | None = None
    error: str | None = None


def start_run(
    task: Task,
    config: RunConfig,
    *,
    config_label: str,
    run_dir: Path,
    seed: int = 0,
    make_model: MakeModel | None = None,
    on_step: Callable[[Step], None] = lambda step: None,
    on_note: Callable[[str], None] = lambda note: None,
) -> RunSummary:
    """Run the agent team on `task` in a fresh `run_dir` and score what it leaves.

    Problems with the set-up (a missing key, an unpriced model, a used run directory) raise
    before anything is written; a model that fails mid-run ends the run with status `error`.
    `on_step` gets each step as a `ScoredStep`, with its score when that changed.
    """
    layout = RunDir(run_dir)
    with build_models(config, seed, make_model) as models:
        layout.claim(config)
        with layout.held():
            return run_task(
                task,
                config,
                config_label=config_label,
                run_dir=layout,
                seed=seed,
                models=models,
                state=None,
                on_step=on_step,
                on_note=on_note,
            )


def run_task(
    task: Task,
    config: RunConfig,
    *,
    config_label: str,
    run_dir: RunDir,
    seed: int,
    models: ModelStack,
    state: RunState | None,
    worked_before_s: float = 0.0,
    on_step: Callable[[Step], None] = lambda step: None,
    on_note: Callable[[str], None] = lambda note: None,
) -> RunSummary:
    """Take the run from `state` (None: set it up first) to Final Answer or the step cap, and
    score it. The caller holds `run_dir` (`RunDir.held`) and has put its files as `state`
    says (a new run: none yet); `models` answer every call; `worked_before_s` is the time
    earlier processes spent on the run.
    """
    started = time.monotonic() - worked_before_s
    sandbox = Sandbox.for_run(run_dir.root, config.sandbox, task.root)
    python = config.sandbox.python or sys.executable
    with Trace(run_dir.trace) as trace:
        fresh = state is None
        if state is None:
            baseline = _set_up(task, config_label, seed, sandbox, python, run_dir, trace, on_note)
            state = RunState(baseline)
        recorder = RunRecorder(
            trace, models.ledger, state.format_failures, state.escalations, state.expert_calls
        )
        workspace = Workspace(run_dir.workspace, run_dir.backups, task.read_only)
        workspace.restore_undo_state(state.undo)
        timeout = config.sandbox.script_timeout_s or task.spec.script_timeout_s
        context = ActionContext(workspace, sandbox, python, timeout)
        team = assemble_team(
            config,
            task.research_problem,
            models.for_entry,
            recorder,
            run_dir.workspace,
            run_dir.research_log,
            starter_script=task.spec.starter_script,
        )
        team.lifelines.used = state.lifelines_used
        checkpoints = Checkpoints(run_dir, trace, workspace, team.lifelines, len(state.steps))
        scores = Scorekeeper(
            task, sandbox, python, run_dir, trace, scores_during_run(task), state.best
        )
        scores.last = state.last_score
        scores.settle()  # a resumed run keeps the best its checkpoint names
        scores.start()
        if fresh:
            checkpoints.save(0, scores.checkpoint_fields())
        loop = Loop(team, context, config, trace, on_step, checkpoints, scores)
        outcome = loop.run(task, state.steps)
        on_note("scoring the workspace")
        score = scores.final(len(outcome.steps), checkpoints.latest())
        summary = _summarise(
            task,
            config_label,
            seed,
            outcome,
            scores.end_baseline or state.baseline,
            score,
            scores.best,
            recorder,
            time.monotonic() - started,
        )
        run_dir.write_summary(summary)
        scores.settle()
        trace.write(RunEnd(status=summary.status, success=summary.success))
    return summary


def _set_up(
    task: Task,
    config_label: str,
    seed: int,
    sandbox: Sandbox,
    python: str,
    run_dir: RunDir,
    trace: Trace,
    on_note: Callable[[str], None],
) -> Baseline:
    """Record the start, prepare the task, get the baseline and make the workspace."""
    trace.write(
        RunStart(
            task=task.name,
            task_dir=str(task.root),
            config=config_label,
            seed=seed,
            metric=task.spec.metric,
            higher_is_better=task.spec.higher_is_better,
            direction=task.describe_direction(),
            python=python,
            budgetml_version=__version__,
            code_commit=code_commit(),
        )
    )
    on_note(f"{task.spec.metric}: {task.describe_direction()}")
    task.prepare(on_note)
    on_note("measuring the baseline" if task.spec.baseline is None else "baseline from task.yaml")
    baseline = task.measure_baseline(sandbox, python, run_dir.root)
    trace.write(BaselineMeasured(value=baseline.value, source=baseline.source))
    on_note(f"baseline {task.spec.metric} = {baseline.value} ({baseline.source})")
    stop_if_unscorable(task, baseline, lambda why: trace.write(RunError(step=0, message=why)))
    task.make_workspace(run_dir.workspace)
    keep_start(run_dir)
    return baseline


@dataclass
class Loop:
    """Plan → act → score → observe → record, step after step; worker and expert actions may
    call models too. Each complete step but the last is a checkpoint to resume from."""

    team: Team
    context: ActionContext
    config: RunConfig
    trace: Trace
    on_step: Callable[[Step], None]
    checkpoints: Checkpoints
    scores: Scorekeeper

    def run(self, task: Task, done: Sequence[Step]) -> RunOutcome:
        """The steps after those `done` already, to Final Answer, the step cap or an error."""
        outcome = RunOutcome(steps=list(done))
        for number in range(len(done) + 1, self.config.max_steps + 1):
            try:
                step = self.take(task, number, outcome.steps)
                outcome.steps.append(step)
                if step.reply.action == FINAL_ANSWER:
                    outcome.status = "completed"
                    outcome.final_answer = str(step.reply.action_input["final_answer"])
                    return outcome
                self.team.planner.observe(step)
                self.checkpoints.save(number, self.scores.checkpoint_fields())
                self.scores.settle()
            except (PlanningFailed, ModelError) as exc:
                outcome.status, outcome.error = "error", str(exc)
                self.trace.write(RunError(step=number, message=str(exc)))
                return outcome
            except BudgetExhausted as exc:
                outcome.status = "budget_exhausted"
                self.trace.write(OutOfBudget(step=number, message=str(exc)))
                return outcome
        return outcome

    def take(self, task: Task, number: int, steps: Sequence[Step]) -> Step:
        """One step: the planner's action, executed, recorded, scored if it changed anything
        the evaluation reads (the last step is scored once the loop ends)."""
        steps_left = self.config.max_steps - number + 1
        reply = self.team.planner.next_action(task.research_problem, steps, steps_left)
        limit = self.config.sandbox.output_limit_chars
        observation = execute(
            self.team.actions[reply.action], self.context, reply.action_input, limit
        )
        step = Step(number, reply, reply.ignored_note() + observation)
        self.trace.write(
            StepDone(
                step=number,
                action=reply.action,
                action_input=reply.action_input,
                observation=step.observation,
                reply=reply.raw,
            )
        )
        before = self.scores.last
        last = reply.action == FINAL_ANSWER or number == self.config.max_steps
        score = None if last else self.scores.after_step(step, self.checkpoints.latest())
        shown = score if score is not None and self.scores.changed(score, before) else None
        self.on_step(ScoredStep(number, reply, step.observation, shown, task.spec.metric))
        return step


def _summarise(
    task: Task,
    config_label: str,
    seed: int,
    outcome: RunOutcome,
    baseline: Baseline,
    score: StepScore,
    best: StepScore | None,
    recorder: RunRecorder,
    wall_seconds: float,
) -> RunSummary:
    change = improvement(score.value, baseline.value)
    best_change = improvement(best.value, baseline.value) if best else None
    return RunSummary(
        task=task.name,
        config=config_label,
        seed=seed,
        status=outcome.status,
        steps=len(outcome.steps),
        metric=task.spec.metric,
        higher_is_better=task.spec.higher_is_better,
        direction_reason=task.direction_reason,
        direction_guessed=task.direction_guessed,
        baseline=baseline.value,
        baseline_source=baseline.source,
        score=score.value,
        score_error=score.error,
        improvement=change,
        success=is_success(change, task.spec.higher_is_better, baseline.noise),
        best_score=best.value if best else None,
        best_step=best.step if best else None,
        best_improvement=best_change,
        best_success=is_success(best_change, task.spec.higher_is_better, baseline.noise),
        cost_usd=round(recorder.ledger.cost_usd, 8),
        cost_usd_free_tier=round(recorder.ledger.cost_usd_free_tier, 8),
        spent_usd=round(recorder.ledger.spent_usd, 8),
        tokens=recorder.ledger.tokens_summary(),
        escalations=recorder.escalations,
        expert_calls=recorder.expert_calls,
        format_failures=recorder.format_failures,
        wall_seconds=round(wall_seconds, 3),
        final_answer=outcome.final_answer,
        error=outcome.error,
    )
