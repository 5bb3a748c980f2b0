"""How much prompt processing prefix reuse saves the embedded local model on planner prompts.

Runs N consecutive planner prompts (the real planner.j2 with the real actions and a growing
history built from the demo's replies) through LocalModel three ways: without prefix reuse,
with it, and with it while a worker's call comes between every two planner calls. For each it
prints the prompt-processing time, measured by llama.cpp's own perf counters (t_p_eval_ms), and
the generation rate both as llama.cpp times its decode steps (n_eval / t_eval_ms) and as seen
from outside (output tokens over wall-clock time minus the prompt time; it adds sampling and
Python overhead).

    python benchmarks/local_prefix_reuse.py [--model PATH.gguf] [--steps 30] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import llama_cpp

from budgetml.agents.cascade import Cascade, Lifelines
from budgetml.agents.history import Step
from budgetml.agents.parser import PlannerReply
from budgetml.agents.planner import Planner
from budgetml.agents.prompting import PLANNER_PROFILE, PromptRenderer
from budgetml.env.actions import ACTIONS
from budgetml.llm.base import Message
from budgetml.llm.local import LocalModel
from budgetml.llm.model_registry import model_path
from budgetml.llm.pricing import FREE

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"
SHORT_TERM_STEPS = 3
WORKER = [
    Message("system", "You are a worker that edits Python files as instructed."),
    Message("user", "Vectorise the forward pass of Conv2DLayer in this file:\n"),
]


@dataclass
class Totals:
    """Sums over the planner calls of one mode."""

    calls: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    p_eval_tokens: int = 0
    p_eval_s: float = 0.0
    output_tokens: int = 0
    eval_tokens: int = 0
    eval_s: float = 0.0
    wall_s: float = 0.0

    def add(self, model: LocalModel, messages: list[Message], max_tokens: int) -> None:
        ctx = model.llama.ctx
        llama_cpp.llama_perf_context_reset(ctx)
        done = model.complete(messages, agent="planner", temperature=0.2, max_tokens=max_tokens)
        perf = llama_cpp.llama_perf_context(ctx)
        self.calls += 1
        self.prompt_tokens += done.usage.input_tokens
        self.reused_tokens += done.usage.cached_input_tokens
        self.p_eval_tokens += perf.n_p_eval
        self.p_eval_s += perf.t_p_eval_ms / 1000
        self.output_tokens += done.usage.output_tokens
        self.eval_tokens += perf.n_eval
        self.eval_s += perf.t_eval_ms / 1000
        self.wall_s += done.latency_s


def planner_prompts(research_problem: str, steps: int) -> list[list[Message]]:
    """The planner's messages at steps 1..`steps`, each step adding a demo reply to history."""
    demo = resources.files("budgetml") / "demo" / "vectorization-demo.json"
    replies: list[str] = json.loads(demo.read_text(encoding="utf-8"))
    code = (resources.files("budgetml") / "tasks/vectorization/env/train.py").read_text("utf-8")
    cascade = Cascade(
        levels=(),  # only prompt() is used: no model is asked
        repeat_limit=3,
        lifelines=Lifelines(total=0),
        recorder=None,  # type: ignore[arg-type]
    )
    planner = Planner(
        cascade=cascade,
        actions=ACTIONS,
        renderer=PromptRenderer(ACTIONS),
        temperature=0.0,
        short_term_steps=SHORT_TERM_STEPS,
        recorder=None,  # type: ignore[arg-type]
    )
    history: list[Step] = []
    prompts = []
    for number in range(1, steps + 1):
        prompt = planner.prompt(research_problem, history, steps_left=steps - number + 1)
        prompts.append([Message("system", PLANNER_PROFILE), Message("user", prompt)])
        reply = PlannerReply("Inspect Script Lines", {}, {}, replies[number % len(replies)])
        start = (number * 700) % len(code)
        history.append(Step(number, reply, code[start : start + 1200]))
    return prompts


def run_mode(path: Path, args: argparse.Namespace, reuse: bool, interleave: bool) -> Totals:
    """A mode starts from a research problem of its own, so it shares no prefix with the others."""
    problem = resources.files("budgetml") / "tasks/vectorization/scripts/research_problem.txt"
    label = f"(benchmark mode: reuse={reuse} interleave={interleave})\n"
    prompts = planner_prompts(label + problem.read_text("utf-8"), args.steps)
    model = LocalModel("local/bench", path, FREE, seed=0, n_ctx=args.n_ctx, reuse_prefix=reuse)
    totals = Totals()
    for messages in prompts:
        totals.add(model, messages, args.max_tokens)
        if interleave:
            worker = [WORKER[0], Message("user", WORKER[1].content + messages[1].content[-2000:])]
            model.complete(worker, agent="worker", temperature=0.2, max_tokens=args.max_tokens)
    return totals


def report(name: str, t: Totals) -> None:
    wall_gen_s = t.wall_s - t.p_eval_s
    print(
        f"{name:<26} prompt {t.prompt_tokens / t.calls:7.0f} tok/call, reused "
        f"{t.reused_tokens / t.calls:7.0f}, evaluated {t.p_eval_tokens / t.calls:6.0f} | "
        f"prompt time {t.p_eval_s:7.2f} s ({t.p_eval_tokens / max(t.p_eval_s, 1e-9):6.0f} tok/s) | "
        f"generation {t.eval_tokens / max(t.eval_s, 1e-9):5.1f} tok/s (llama.cpp), "
        f"{t.output_tokens / max(wall_gen_s, 1e-9):5.1f} tok/s (wall) | wall {t.wall_s:7.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help=f"a GGUF (default: pulled {DEFAULT_MODEL})")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--n-ctx", type=int, default=8192)
    args = parser.parse_args()
    path: Path = args.model or model_path(DEFAULT_MODEL)
    if not path.is_file():
        print(
            f"no GGUF at {path}: pass --model PATH or run `budgetml models pull`", file=sys.stderr
        )
        return 1
    start = time.perf_counter()
    LocalModel("local/bench", path, FREE, n_ctx=args.n_ctx)  # load (and keep) the model
    print(f"model {path.name}: loaded in {time.perf_counter() - start:.2f} s; "
          f"{args.steps} planner calls per mode, max_tokens {args.max_tokens}")  # fmt: skip
    off = run_mode(path, args, reuse=False, interleave=False)
    report("no prefix reuse", off)
    on = run_mode(path, args, reuse=True, interleave=False)
    report("prefix reuse", on)
    mixed = run_mode(path, args, reuse=True, interleave=True)
    report("reuse, worker in between", mixed)
    print(
        f"prompt processing, no reuse / reuse: {off.p_eval_s / max(on.p_eval_s, 1e-9):.1f}x "
        f"(llama.cpp time), {off.wall_s / on.wall_s:.1f}x (wall time of whole calls); "
        f"with a worker in between: {off.p_eval_s / max(mixed.p_eval_s, 1e-9):.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
