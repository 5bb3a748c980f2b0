"""One recorded planner step sampled again: the prompt the run sent, and the prompt this commit
renders from the same history, each with seeds 0..K-1 under this commit's reply format for that
step (the grammar, for an embedded model), so a change to how the prompt shows the history is
measured on the very step where a trace showed the problem.

For each reply it prints the action and input, and whether the input copies a step line of the
history (the line's " -> " outcome, or an observation's "Here is the diff", inside an input
value: traces of the 1.5B on ames-house-price). The workspace the step's file choices come from
is the run's latest checkpoint, a stand-in for the one at that step. The model is real (the
run's planner model at `--level`); nothing is written to the run directory.

    .venv/bin/python benchmarks/planner_step.py RUN_DIR --step 9 --samples 3
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from budgetml.agents.reply_format import reply_format
from budgetml.agents.team import assemble_team
from budgetml.llm.base import Completion, Message
from budgetml.llm.stack import build_models
from budgetml.resume import recorded_step
from budgetml.run_dir import RunDir, recorded_task, started
from budgetml.trace import Event, LlmCall, StepDone

COPIED = (" -> ", "Here is the diff")


class _Ignored:
    """The benchmark records nothing: calls go to stdout, not to a trace."""

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        pass

    def format_failure(self, model: str, attempt: int, error: str) -> None:
        pass

    def escalation(self, from_model: str, to_model: str, reason: str) -> None:
        pass

    def context_trimmed(self, model: str, shown_steps: int) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--step", type=int, required=True, help="the step to plan again")
    parser.add_argument("--samples", type=int, default=3, help="seeds 0..K-1 per prompt")
    parser.add_argument("--level", type=int, default=-1, help="cascade level (-1: the top)")
    parser.add_argument("--skip-recorded", action="store_true", help="sample this commit only")
    args = parser.parse_args()
    layout = RunDir(args.run_dir)
    config = layout.read_config()
    events = layout.events()
    start = started(events)
    if start is None:
        raise SystemExit(f"{args.run_dir}: the run never started")
    task = recorded_task(start)
    history = tuple(recorded_step(e) for e in events if isinstance(e, StepDone))
    history = tuple(s for s in history if s.number < args.step)
    if len(history) != args.step - 1:
        raise SystemExit(f"{args.run_dir}: the trace has no step {args.step - 1}")
    recorded = _first_planner_call(events, args.step)
    entry = config.planner[args.level]
    snapshots = sorted(layout.checkpoints.glob("step-*"), key=lambda p: int(p.name[5:]))
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Path(scratch) / "workspace"
        shutil.copytree(snapshots[-1] if snapshots else task.root, workspace, symlinks=True)
        copies = {"recorded": 0, "this commit": 0}
        for seed in range(args.samples):
            with build_models(config, seed) as models:
                team = assemble_team(
                    config,
                    task.research_problem,
                    models.for_entry,
                    _Ignored(),
                    workspace,
                    Path(scratch) / "research_log.md",
                    starter_script=task.spec.starter_script,
                )
                planner = team.planner
                steps_left = config.max_steps - len(history)
                rendered = planner.conversation(task.research_problem, history, steps_left)
                shape = reply_format(planner.options(history))
                model = models.for_entry(entry)
                for name, messages in (("recorded", recorded), ("this commit", rendered)):
                    if not messages or (name == "recorded" and args.skip_recorded):
                        continue
                    completion = model.complete(
                        messages,
                        agent="planner",
                        temperature=config.temperature.planner,
                        max_tokens=entry.max_tokens,
                        reply_format=shape if config.constrained_replies else None,
                    )
                    copied = _copies_a_step_line(completion.text)
                    copies[name] += copied
                    print(f"--- {name}, seed {seed}: copies a step line: {copied}", flush=True)
                    print(_action_lines(completion.text), flush=True)
        for name, count in copies.items():
            if name == "recorded" and (not recorded or args.skip_recorded):
                continue
            print(f"{name}: {count} of {args.samples} replies copy a step line into an input")


def _first_planner_call(events: Sequence[Event], step: int) -> list[Message]:
    """The messages of the first planner call made for `step` (after step-1 was done)."""
    done = 0
    for event in events:
        if isinstance(event, StepDone):
            done = event.step
        elif isinstance(event, LlmCall) and event.agent == "planner" and done == step - 1:
            return [Message(m["role"], m["content"]) for m in event.messages]  # type: ignore[arg-type]
    return []


def _copies_a_step_line(reply: str) -> bool:
    _, _, inputs = reply.partition("Action Input:")
    return any(marker in inputs for marker in COPIED)


def _action_lines(reply: str) -> str:
    at = reply.find("Action:")
    text = reply[at:] if at >= 0 else reply
    return text if len(text) <= 600 else text[:600] + " [...]"


if __name__ == "__main__":
    main()
