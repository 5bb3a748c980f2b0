"""Assemble the agent team a config describes: the planner's cascade, the profiled workers,
the expert and the research-log memory, all sharing one set of lifelines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetml.agents.cascade import Cascade, Level, Lifelines
from budgetml.agents.expert import expert_action
from budgetml.agents.history import Step, failed_edit, ran_cleanly
from budgetml.agents.llm_worker import LLMWorker
from budgetml.agents.memory import ResearchLog, retrieve, summarise_step
from budgetml.agents.planner import Planner
from budgetml.agents.prompting import PromptRenderer
from budgetml.agents.recorder import CallRecorder
from budgetml.agents.workers import worker_actions
from budgetml.config import ModelEntry, RunConfig
from budgetml.env.actions import ACTIONS, FINAL_ANSWER, Action
from budgetml.llm.base import Model


@dataclass(frozen=True)
class ResearchLogMemory:
    """The paper's retrieval (R) mode: every step is summarised into the log, and the parts
    relevant to the current plan are recalled into the next planner prompt."""

    worker: LLMWorker
    log: ResearchLog

    def recall(self, current_plan: str) -> str:
        return retrieve(self.worker, self.log, current_plan)

    def record(self, step: Step) -> None:
        reply = step.reply
        summarise_step(
            self.worker, self.log, step.number, reply.action, reply.action_input, step.observation
        )


EXTENDED_ACTIONS = frozenset({"Read File", "Write File", "Append File", "Edit Script Segment (AI)"})
"""Ours, beyond the paper's Table 1 (MLAgentBench's research agent): `action_set: extended`."""


@dataclass(frozen=True)
class Team:
    planner: Planner
    actions: dict[str, Action]
    lifelines: Lifelines


def assemble_team(
    config: RunConfig,
    research_problem: str,
    model_for: Callable[[ModelEntry], Model],
    recorder: CallRecorder,
    workspace: Path,
    research_log: Path,
    starter_script: str = "train.py",
) -> Team:
    """The run's team; its file inputs come from `workspace`, its memory from `research_log`."""
    lifelines = Lifelines(config.lifelines)
    entry = config.worker_model
    worker = LLMWorker(model_for(entry), entry.max_tokens, config.temperature.worker, recorder)
    log = ResearchLog(research_log)
    programmatic = [a for a in ACTIONS if a.name != FINAL_ANSWER]
    final = [a for a in ACTIONS if a.name == FINAL_ANSWER]
    helpers = list(
        worker_actions(
            worker,
            log,
            research_problem,
            config.retrieval,
            last_run=lambda script: last_run_of(planner.history, script),
            last_failure=lambda script: last_run_of(planner.history, script, failed=True),
            edit_versions=config.edit_versions,
            skip_same_code=config.skip_known_results,
            failed_before=(
                (lambda action, args: failed_edit(planner.history, action, dict(args)))
                if config.skip_known_results
                else (lambda action, args: 0)
            ),
        )
    )
    if config.expert is not None:
        expert = config.expert
        helpers.append(
            expert_action(
                model_for(expert),
                expert.max_tokens,
                config.temperature.planner,
                lifelines,
                recorder,
                lambda: planner.last_prompt,  # the prompt of the step that asks for help
            )
        )
    actions = tuple(
        a
        for a in (*programmatic, *helpers, *final)
        if config.action_set == "extended" or a.name not in EXTENDED_ACTIONS
    )
    cascade = Cascade(
        levels=tuple(Level(model_for(e), e.retries, e.max_tokens) for e in config.planner),
        repeat_limit=config.repeat_limit,
        lifelines=lifelines,
        recorder=recorder,
        climb_for=frozenset(config.climb_for),
    )
    planner = Planner(
        cascade=cascade,
        actions=actions,
        renderer=PromptRenderer(actions, config.planner_history, starter_script),
        temperature=config.temperature.planner,
        short_term_steps=config.short_term_steps,
        recorder=recorder,
        memory=ResearchLogMemory(worker, log) if config.retrieval else None,
        workspace=workspace,
        constrained=config.constrained_replies,
        skip_known_results=config.skip_known_results,
        guide_steps=config.guide_steps,
    )
    return Team(planner, {a.name: a for a in planner.actions}, lifelines)


def last_run_of(history: Sequence[Step], script: str, failed: bool = False) -> str | None:
    """The observation of the last Execute Script of `script` in `history` (that failed, with
    `failed`), if any."""
    for step in reversed(history):
        if step.reply.action != "Execute Script":
            continue
        if step.reply.action_input.get("script_name") != script:
            continue
        if not failed or not ran_cleanly(step):
            return step.observation
    return None
