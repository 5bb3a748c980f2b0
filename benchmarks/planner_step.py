"""One recorded planner step sampled again: the prompt the run sent, and the prompt this commit
renders from the same history, each with seeds 0..K-1 under this commit's reply format for that
step (the grammar, for an embedded model), so a change to how the prompt shows the history is
measured on the very step where a trace showed the problem.

For each reply it prints the action and input, and whether the input copies a step line of the
history (the line's " -> " outcome, or an observation's "Here is the diff", inside an input
value: traces of the 1.5B on ames-house-price). The workspace the step's file choices come from
is the run's latest checkpoint, a stand-in for the one at that step. The model is real (the
run's planner model at `--level`); nothing is written to the run directory.

With `--cascade`, each seed plans the step through this commit's whole cascade instead (its
tries, refusals and climbs, as a run would): it prints each refused try and the reply taken,
and counts the replies whose first try, and whose reply taken, copies the prompt's own wording
into an input the model was to write (textutil.COPY_CHARS characters in a row of the
instructions). The first try is the reply a commit without such a rule would take
(experiments/embedded-team/candidates/copied-wording-rule.patch is one).

    .venv/bin/python benchmarks/planner_step.py RUN_DIR --step 9 --samples 3
    .venv/bin/python benchmarks/planner_step.py RUN_DIR --step 4 --samples 3 --cascade
"""

from __future__ import annotations

import argparse
import json
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
from budgetml.textutil import copied_passage
from budgetml.trace import Event, LlmCall, StepDone

COPIED = (" -> ", "Here is the diff")
WRITTEN_INPUTS = frozenset({"edit_instruction", "things_to_look_for", "things_to_reflect_on"})
"""The inputs a planner writes in its own words (the others name files, lines, or answers)."""


class _Ignored:
    """The benchmark records nothing to a trace; the planner's tries are kept for `--cascade`."""

    def __init__(self) -> None:
        self.planner_replies: list[str] = []

    def llm_call(self, agent: str, messages: Sequence[Message], completion: Completion) -> None:
        if agent == "planner":
            self.planner_replies.append(completion.text)

    def format_failure(self, model: str, attempt: int, error: str) -> None:
        print(f"    refused try {attempt} ({model}): {error[:300]}", flush=True)

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
    parser.add_argument("--cascade", action="store_true", help="plan through the cascade")
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
        wording = {"first try": 0, "reply taken": 0}
        for seed in range(args.samples):
            recorder = _Ignored()
            with build_models(config, seed) as models:
                team = assemble_team(
                    config,
                    task.research_problem,
                    models.for_entry,
                    recorder,
                    workspace,
                    Path(scratch) / "research_log.md",
                    starter_script=task.spec.starter_script,
                )
                planner = team.planner
                steps_left = config.max_steps - len(history)
                if args.cascade:
                    reply = planner.next_action(task.research_problem, history, steps_left)
                    instructions = planner.renderer.instructions("")
                    first = _copies_wording(recorder.planner_replies[0], instructions)
                    taken = _copies_wording(reply.raw, instructions)
                    wording["first try"] += first
                    wording["reply taken"] += taken
                    calls = len(recorder.planner_replies)
                    print(f"--- seed {seed}: {calls} planner call(s); first try copies the "
                          f"wording: {first}; reply taken: {taken}")  # fmt: skip
                    print(f"Action: {reply.action}\nAction Input: {reply.action_input}", flush=True)
                    continue
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
        if args.cascade:
            for name, count in wording.items():
                print(f"{name}: {count} of {args.samples} copy the prompt's wording into an input")
            return
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


def _copies_wording(reply: str, instructions: str) -> bool:
    """An input the model was to write holds a passage of the instructions."""
    _, _, inputs = reply.partition("Action Input:")
    try:
        values = json.loads(inputs.strip() or reply)
    except json.JSONDecodeError:
        return bool(copied_passage(inputs, instructions))
    if not isinstance(values, dict):
        return False
    if "action_input" in values and isinstance(values["action_input"], dict):
        values = values["action_input"]
    return any(
        copied_passage(str(values[key]), instructions) for key in WRITTEN_INPUTS & values.keys()
    )


def _action_lines(reply: str) -> str:
    at = reply.find("Action:")
    text = reply[at:] if at >= 0 else reply
    return text if len(text) <= 600 else text[:600] + " [...]"


if __name__ == "__main__":
    main()
