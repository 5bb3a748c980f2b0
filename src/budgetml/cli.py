"""The `budgetml` command: parse arguments, call the layers, print with rich."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer._click import exceptions as usage  # typer 0.29 carries its own click

from budgetml import bench_cli, handback_cli
from budgetml.agents.history import Step
from budgetml.config import RunConfig, load_config, preset_names
from budgetml.console import output_console
from budgetml.env.project import Project, project_task
from budgetml.env.sandbox import Sandbox
from budgetml.env.task import builtin_task_names, find_task
from budgetml.errors import BudgetMLError
from budgetml.models_cli import models_app
from budgetml.project_cli import init_task
from budgetml.replay import replay_run
from budgetml.resume import read_run, resume_run
from budgetml.run import ScoredStep, start_run
from budgetml.run_dir import RunDir, recorded_task, started
from budgetml.summary import RunSummary, improvement, is_success
from budgetml.trace import BaselineMeasured, first

app = typer.Typer(
    help="BudgetML: cheap LLM agents that improve ML projects.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = output_console()
errors = output_console(stderr=True, soft_wrap=True)


@app.command()
def run(
    task: Annotated[
        str | None,
        typer.Argument(
            help="a built-in task name or a task folder (may be left out with --resume)",
            show_default=False,
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="use this model in every role")] = None,
    api_base: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server URL for --model")
    ] = None,
    config: Annotated[str | None, typer.Option(help="preset name or YAML file")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="step cap (default 30)")] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed passed to the models (default 0)", show_default=False)
    ] = None,
    budget_usd: Annotated[
        float | None, typer.Option(min=0, help="hard cap in USD: no call that could cross it")
    ] = None,
    cache: Annotated[
        bool | None,
        typer.Option("--cache/--no-cache", help="answer repeated calls from the response cache"),
    ] = None,
    retrieval: Annotated[
        bool | None,
        typer.Option("--retrieval/--no-retrieval", help="research-log summaries and retrieval"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="run directory (default runs/...)")] = None,
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better",
            help="override the metric's direction",
            show_default=False,
        ),
    ] = None,
    goal: Annotated[
        str | None, typer.Option(help="for any folder: what to improve, in words (with --eval)")
    ] = None,
    eval_command: Annotated[
        str | None,
        typer.Option("--eval", help="for any folder: shell command that prints the score"),
    ] = None,
    metric: Annotated[
        str | None, typer.Option(help="for any folder: the score's name (default score)")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="go on with the killed run in this run directory from its last complete step",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the agent on a task until Final Answer or the step cap, then score it.

    TASK is a built-in task, a task folder, or any project folder given with --goal and --eval.
    """
    settings = {
        "max_steps": max_steps,
        "budget_usd": budget_usd,
        "cache": cache,
        "retrieval": retrieval,
    }
    given = any(v is not None for v in (config, model, api_base, *settings.values()))
    if resume is not None:
        if goal is not None or eval_command is not None or metric is not None:
            raise BudgetMLError(
                "--goal, --eval and --metric describe a new project; --resume goes on with the "
                "recorded task, so leave them out"
            )
        if out is not None and out.resolve() != resume.resolve():
            raise BudgetMLError("--resume goes on in the run's own directory; leave --out out")
        flags = (model, api_base, settings)
        _resume(resume, task, (config, *flags) if given else None, seed, higher_is_better)
        return
    if task is None:
        raise BudgetMLError(
            "name the task to run: a built-in task (`budgetml tasks` lists them) or a task folder"
        )
    if goal is not None or eval_command is not None or metric is not None:
        if goal is None or eval_command is None:
            raise BudgetMLError("a project folder needs both --goal TEXT and --eval COMMAND")
        project = Project(Path(task), goal, eval_command, metric or "score", higher_is_better)
        found = project_task(project)
    else:
        found = find_task(task)
    if higher_is_better is not None:
        found = found.with_direction(higher_is_better)
    label, run_config = _run_config(config, model, api_base, settings)
    seed = seed or 0
    run_dir = out or Path("runs") / f"{found.name}-{time.strftime('%Y%m%d-%H%M%S')}-s{seed}"
    models = " → ".join(entry.model for entry in run_config.planner)
    console.print(f"[bold]BudgetML[/] task [cyan]{found.name}[/] · planner {models} · {run_dir}")
    summary = start_run(
        found,
        run_config,
        config_label=label,
        run_dir=run_dir,
        seed=seed,
        on_step=lambda step: _print_step(step, run_config.max_steps),
        on_note=lambda note: console.print(f"[dim]· {note}[/]"),
    )
    _finish(summary, run_dir)


def _run_config(
    config: str | None, model: str | None, api_base: str | None, settings: dict[str, Any]
) -> tuple[str, RunConfig]:
    """The preset or file, then --model in every role, then the other settings given."""
    label, run_config = load_config(config)
    if model is not None:
        run_config = run_config.with_model(model, api_base)
    elif api_base:
        raise BudgetMLError("--api-base needs --model (the model served at that address)")
    given = {k: v for k, v in settings.items() if v is not None}
    return label, run_config.with_settings(**given)


def _resume(
    run_dir: Path,
    task: str | None,
    flags: tuple[str | None, str | None, str | None, dict[str, Any]] | None,
    seed: int | None,
    higher_is_better: bool | None,
) -> None:
    """`run --resume`: a finished run is left alone; a killed one goes on as recorded, and
    settings given again must be the recorded ones (those not given are taken from it)."""
    done = RunDir(run_dir).read_summary()
    if done is not None:
        console.print(f"{run_dir} has already finished (status {done.status}); nothing to resume")
        return
    recorded = read_run(run_dir, task, seed)
    chosen = None
    if flags is not None:
        config, model, api_base, settings = flags
        base = config or str(recorded.run_dir.config)
        chosen = _run_config(base, model, api_base, settings)[1]
    max_steps = recorded.config.max_steps
    console.print(f"[bold]BudgetML[/] resuming [cyan]{recorded.task.name}[/] · {run_dir}")
    summary = resume_run(
        recorded,
        config=chosen,
        higher_is_better=higher_is_better,
        on_step=lambda step: _print_step(step, max_steps),
        on_note=lambda note: console.print(f"[dim]· {note}[/]"),
    )
    _finish(summary, run_dir)


def _finish(summary: RunSummary, run_dir: Path) -> None:
    _print_summary(summary, run_dir)
    if summary.status == "error":
        raise BudgetMLError(f"the run stopped early: {summary.error}")


config_app = typer.Typer(help="Show the shipped configuration presets.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.command("bench")(bench_cli.bench)
app.command("report")(bench_cli.report)
app.command("reproduce")(bench_cli.reproduce)
app.command("init-task")(init_task)
app.command("diff")(handback_cli.diff)
app.command("apply")(handback_cli.apply)


@config_app.command("list")
def config_list() -> None:
    """List the presets."""
    for name in preset_names():
        console.print(name)


@config_app.command("show")
def config_show(
    name: Annotated[str, typer.Argument(help="a preset name or a YAML file")],
) -> None:
    """Print a preset (or file) fully resolved, every default included."""
    _, config = load_config(name)
    console.print(config.to_yaml(), highlight=False, markup=False)


@app.command()
def replay(
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    out: Annotated[Path | None, typer.Option(help="where to write the replay")] = None,
) -> None:
    """Re-execute a run from its recorded replies, calling no model; compare the outcome."""
    target = out or run_dir.with_name(run_dir.name + "-replay")
    result = replay_run(run_dir, target, on_note=lambda note: console.print(f"[dim]· {note}[/]"))
    table = Table("", "original", "replay")
    table.add_row("actions", str(len(result.original_actions)), str(len(result.replayed_actions)))
    for name in ("status", "score", "success", "best_score", "best_step", "cost_usd"):
        table.add_row(
            name, str(getattr(result.original, name)), str(getattr(result.replayed, name))
        )
    console.print(table)
    console.print(
        f"same actions: {'yes' if result.same_actions else 'NO'}; prompts that differed "
        f"from the recording (e.g. a printed runtime): {result.prompt_mismatches}"
    )
    console.print(f"replay written to {target}")
    if not result.same_actions:
        raise BudgetMLError("the replay diverged from the original run's actions")


@app.command("eval")
def evaluate(run_dir: Annotated[Path, typer.Argument(help="a run directory")]) -> None:
    """Score a finished run's workspace again."""
    layout = RunDir(run_dir)
    if not layout.trace.is_file() or not layout.workspace.is_dir():
        raise BudgetMLError(
            f"{run_dir} is not a run directory (no {layout.trace.name} or {layout.workspace.name}/)"
        )
    events = layout.events()
    start = started(events)
    if start is None:
        raise BudgetMLError(f"{layout.trace} has no run_start event; the run never started")
    task = recorded_task(start)
    recorded = first(events, BaselineMeasured)
    baseline = recorded.value if recorded else None
    sandbox = Sandbox.for_run(run_dir, layout.read_config().sandbox, task.root)
    score = task.score(layout.workspace, sandbox, start.python or sys.executable)
    change = improvement(score.value, baseline)
    table = Table(show_header=False, box=None)
    table.add_row("task", task.name)
    table.add_row(task.spec.metric, _fmt(score.value) if score.error is None else score.error)
    table.add_row("baseline", _fmt(baseline))
    table.add_row("improvement", _pct(change))
    table.add_row("success", str(is_success(change, task.spec.higher_is_better)))
    console.print(table)


@app.command()
def tasks() -> None:
    """List the built-in tasks."""
    table = Table(box=None, pad_edge=False)
    wide = console.width >= 100  # the category is the column a narrow terminal can spare
    for column in ("name", "stands in for", "metric", "better", "baseline", "category")[
        : 6 if wide else 5
    ]:
        table.add_column(column, no_wrap=True)
    for name in builtin_task_names():
        spec = find_task(name).spec
        baseline = "per run" if spec.baseline is None else _fmt(spec.baseline)
        table.add_row(
            name,
            spec.stands_in_for or "-",
            spec.metric,
            "higher" if spec.higher_is_better else "lower",
            baseline,
            *([spec.category] if wide else []),
        )
    console.print(table)


@app.command()
def prepare(
    names: Annotated[
        list[str] | None, typer.Argument(help="tasks to prepare (default: every built-in task)")
    ] = None,
) -> None:
    """Build the data of built-in tasks now (runs also do it on first use)."""
    for name in names or builtin_task_names():
        task = find_task(name)
        if not (task.scripts_dir / "prepare.py").is_file():
            console.print(f"{task.name}: no data to build")
            continue
        started = time.monotonic()
        with console.status(f"preparing {task.name}"):
            task.prepare()
        console.print(f"{task.name}: ready in {time.monotonic() - started:.1f} s ({task.data_dir})")


def _print_step(step: Step, max_steps: int) -> None:
    args = json.dumps(step.reply.action_input, ensure_ascii=False)
    args = _printable(args if len(args) <= 120 else args[:117] + "...")
    note = step.score_note() if isinstance(step, ScoredStep) else None
    scored = f" [cyan]· {escape(note)}[/]" if note else ""
    console.print(
        f"[bold]step {step.number}/{max_steps}[/] [green]{step.reply.action}[/] {escape(args)}"
        + scored,
        highlight=False,
    )
    for line in step.observation.strip().splitlines()[:3]:
        console.print(f"  [dim]{escape(_printable(line[:160]))}[/]", highlight=False)


def _printable(text: str) -> str:
    """What a script or a model wrote, safe for a terminal: no control sequences or NULs."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def _print_summary(summary: RunSummary, run_dir: Path) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("status", summary.status + (f" ({summary.error})" if summary.error else ""))
    table.add_row("steps", str(summary.steps))
    table.add_row(
        f"baseline {summary.metric}", f"{_fmt(summary.baseline)} ({summary.baseline_source})"
    )
    score = (
        _fmt(summary.score) if summary.score_error is None else f"invalid: {summary.score_error}"
    )
    table.add_row(f"final {summary.metric}", score)
    better = "higher" if summary.higher_is_better else "lower"
    table.add_row("improvement", f"{_pct(summary.improvement)} ({better} is better)")
    table.add_row("success", "[green]yes[/]" if summary.success else "[red]no[/]")
    if summary.best_before_last:
        table.add_row(
            f"best {summary.metric}",
            f"{_fmt(summary.best_score)} at step {summary.best_step} "
            f"({_pct(summary.best_improvement)}): budgetml diff {run_dir} --best",
        )
    table.add_row(
        "cost",
        f"${summary.cost_usd:.4f} (free tier: ${summary.cost_usd_free_tier:.4f}; "
        f"charged now: ${summary.spent_usd:.4f})",
    )
    table.add_row("run directory", str(run_dir))
    console.print(table)


def _fmt(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.6g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def main() -> None:
    """Entry point: a mistake of the user's is one line on stderr and exit code 1."""
    try:
        code = app(standalone_mode=False)
    except usage.NoArgsIsHelpError as exc:  # `budgetml` alone: the help, as before
        exc.show()
        sys.exit(exc.exit_code)
    except usage.ClickException as exc:  # an option out of range, unknown or missing
        errors.print(f"[red]error:[/] {escape(_click_message(exc))}", highlight=False)
        sys.exit(1)
    except typer.Abort:  # end of input at a prompt
        errors.print("[red]error:[/] no answer given (end of input)", highlight=False)
        sys.exit(1)
    except BudgetMLError as exc:
        errors.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except OSError as exc:  # a file or folder that cannot be used (e.g. a task's env/ is a file)
        where = f": {exc.filename}" if exc.filename else ""
        errors.print(f"[red]error:[/] {escape(str(exc.strerror or exc) + where)}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
    if code == 130:  # click turns Ctrl-C into exit code 130
        errors.print("interrupted")
    sys.exit(code if isinstance(code, int) else 0)


def _click_message(exc: usage.ClickException) -> str:
    """Click's message on one line, with where to read what is allowed."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, usage.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message
