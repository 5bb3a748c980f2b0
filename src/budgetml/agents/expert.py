"""Ask-the-expert: an action that hands the full planning context to the strong model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from budgetml.agents.cascade import Lifelines
from budgetml.agents.planner import EXPERT_ACTION
from budgetml.agents.prompting import TEMPLATES
from budgetml.agents.recorder import CallRecorder
from budgetml.env.actions import Action, ActionContext, ActionInput, ActionRefused
from budgetml.llm.base import Message, Model

EXPERT_PROFILE = "You are an expert in planning for solving machine learning tasks."


def expert_action(
    model: Model,
    max_tokens: int,
    temperature: float,
    lifelines: Lifelines,
    recorder: CallRecorder,
    planning_context: Callable[[], str],
) -> Action:
    """The action; each call spends one of the run's lifelines, and none is left refuses."""

    def ask_expert(context: ActionContext, args: Mapping[str, Any]) -> str:
        if not lifelines.take():
            raise ActionRefused(
                f"no lifelines left: all {lifelines.total} calls to the planning expert are "
                "spent; carry on with your own plan"
            )
        prompt = TEMPLATES.get_template("expert.j2").render(
            planning_context=planning_context(), stuck_on=str(args["stuck_on"])
        )
        messages = [Message("system", EXPERT_PROFILE), Message("user", prompt)]
        completion = model.complete(
            messages, agent="expert", temperature=temperature, max_tokens=max_tokens
        )
        recorder.llm_call("expert", messages, completion)
        left = lifelines.remaining
        return f"The planning expert's advice ({left} lifeline(s) left):\n{completion.text}"

    return Action(
        EXPERT_ACTION,
        "Use this when you are stuck: a stronger planning expert reads your whole situation and "
        "proposes a plan and the next action. It can be used only a few times per run.",
        (ActionInput("stuck_on", "what you are stuck on and what you have tried"),),
        "the expert's plan and proposed next action",
        ask_expert,
    )
