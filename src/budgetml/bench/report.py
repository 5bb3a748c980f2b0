"""The paper's Table 2 from a sweep folder: success % and cost per run, per task × config.

The input is a bench folder (its results.sqlite) or any folder of run directories made one by
one with `budgetml run` (each with summary.json and trace.jsonl).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from budgetml.bench.store import ResultStore
from budgetml.bench.sweep import RESULTS_FILE
from budgetml.errors import BudgetMLError
from budgetml.run_dir import SUMMARY_FILE
from budgetml.summary import RunSummary

AVERAGE = "Average"


@dataclass(frozen=True)
class ReportRun:
    """One run as the report shows it; `summary` is None for a run that crashed or never ended."""

    task: str
    config: str
    seed: int
    state: str
    run_dir: Path
    summary: RunSummary | None
    crash: str | None
    anchor: str


@dataclass(frozen=True)
class Cell:
    runs: int
    successes: float  # a fraction of runs for the average row
    success_pct: float
    cost_usd: float
    cost_usd_free_tier: float
    crashed: int

    @staticmethod
    def of(runs: Sequence[ReportRun]) -> Cell | None:
        done = [r.summary for r in runs if r.summary is not None]
        crashed = sum(1 for r in runs if r.state == "crashed")
        if not done:
            return None if not crashed else Cell(0, 0, 0.0, 0.0, 0.0, crashed)
        wins = sum(1 for s in done if s.success)
        return Cell(
            runs=len(done),
            successes=wins,
            success_pct=100.0 * wins / len(done),
            cost_usd=sum(s.cost_usd for s in done) / len(done),
            cost_usd_free_tier=sum(s.cost_usd_free_tier for s in done) / len(done),
            crashed=crashed,
        )

    @staticmethod
    def mean(cells: Sequence[Cell]) -> Cell | None:
        """Each task weighs the same (the paper's average row); n is the total of runs."""
        scored = [c for c in cells if c.runs]
        if not scored:
            return None
        return Cell(
            runs=sum(c.runs for c in scored),
            successes=sum(c.successes for c in scored),
            success_pct=sum(c.success_pct for c in scored) / len(scored),
            cost_usd=sum(c.cost_usd for c in scored) / len(scored),
            cost_usd_free_tier=sum(c.cost_usd_free_tier for c in scored) / len(scored),
            crashed=sum(c.crashed for c in cells),
        )


@dataclass(frozen=True)
class Table:
    tasks: list[str]
    configs: list[str]
    cells: dict[tuple[str, str], Cell | None]

    def average(self, config: str) -> Cell | None:
        cells = [self.cells[(task, config)] for task in self.tasks]
        return Cell.mean([c for c in cells if c is not None])

    def rows(self) -> list[tuple[str, list[Cell | None]]]:
        """The task rows and then the average row, each with one cell per config."""
        rows = [(task, [self.cells[(task, c)] for c in self.configs]) for task in self.tasks]
        return [*rows, (AVERAGE, [self.average(c) for c in self.configs])]


def collect_runs(folder: Path) -> list[ReportRun]:
    """The runs of a bench folder, or of a folder of run directories without results.sqlite."""
    if not folder.is_dir():
        raise BudgetMLError(f"{folder} is not a folder")
    runs = _from_store(folder) if (folder / RESULTS_FILE).is_file() else _from_folders(folder)
    if not runs:
        raise BudgetMLError(
            f"{folder} holds no runs: neither a {RESULTS_FILE} from `budgetml bench` nor run "
            "directories with summary.json from `budgetml run`"
        )
    return _with_unique_anchors(runs)


def build_table(runs: Sequence[ReportRun]) -> Table:
    tasks = sorted({r.task for r in runs})
    configs = sorted({r.config for r in runs})
    cells = {
        (task, config): Cell.of([r for r in runs if (r.task, r.config) == (task, config)])
        for task in tasks
        for config in configs
    }
    return Table(tasks, configs, cells)


def table_markdown(table: Table) -> str:
    header = ["task"]
    for config in table.configs:
        header += [f"{config} success", f"{config} $/run", f"{config} $/run (free tier)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, cells in table.rows():
        shown = f"**{name}**" if name == AVERAGE else name
        values = [shown]
        for cell in cells:
            values += [success_text(cell), money(cell, paid=True), money(cell, paid=False)]
        lines.append("| " + " | ".join(values) + " |")
    lines += [
        "",
        "Success: runs more than 10% better than the baseline, with the number of runs in "
        "brackets. Cost: average per run, pay-as-you-go and with free-tier models at $0. "
        f"{AVERAGE}: the mean over tasks (each task weighs the same); n counts all its runs.",
        "",
        *_by_config_lines(table),
    ]
    return "\n".join(lines) + "\n"


def _by_config_lines(table: Table) -> list[str]:
    """The same figures in the paper's layout: one row per configuration, which stays
    readable with many configurations."""
    header = [
        "config",
        *(f"{task} success" for task in table.tasks),
        "average success",
        "average $/run",
        "average $/run (free tier)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for config in table.configs:
        average = table.average(config)
        values = [
            config,
            *(success_text(table.cells[(task, config)]) for task in table.tasks),
            success_text(average),
            money(average, paid=True),
            money(average, paid=False),
        ]
        lines.append("| " + " | ".join(values) + " |")
    return lines


def table_csv(table: Table) -> str:
    header = ["task"]
    for config in table.configs:
        header += [
            f"{config} runs",
            f"{config} success %",
            f"{config} cost_usd per run",
            f"{config} cost_usd_free_tier per run",
            f"{config} crashed",
        ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for name, cells in table.rows():
        row = [name]
        for cell in cells:
            if cell is None or not cell.runs:
                row += ["0", "", "", "", str(cell.crashed if cell else 0)]
            else:
                row += [
                    str(cell.runs),
                    f"{cell.success_pct:.1f}",
                    f"{cell.cost_usd:.6f}",
                    f"{cell.cost_usd_free_tier:.6f}",
                    str(cell.crashed),
                ]
        writer.writerow(row)
    return buffer.getvalue()


def success_text(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    crashed = f", {cell.crashed} crashed" if cell.crashed else ""
    if not cell.runs:
        return f"– (n=0{crashed})"
    return f"{cell.success_pct:.1f}% (n={cell.runs}{crashed})"


def money(cell: Cell | None, *, paid: bool) -> str:
    if cell is None or not cell.runs:
        return "–"
    return dollars(cell.cost_usd if paid else cell.cost_usd_free_tier)


def dollars(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.001 else f"${value:.4f}"


def write_tables(folder: Path, runs: Sequence[ReportRun]) -> Table:
    table = build_table(runs)
    (folder / "table.md").write_text(table_markdown(table), encoding="utf-8")
    (folder / "table.csv").write_text(table_csv(table), encoding="utf-8")
    return table


def _from_store(folder: Path) -> list[ReportRun]:
    with contextlib.closing(ResultStore(folder / RESULTS_FILE, read_only=True)) as store:
        records = store.records()
    return [
        ReportRun(
            task=r.key.task,
            config=r.key.config,
            seed=r.key.seed,
            state=r.state,
            run_dir=folder / r.run_dir,
            summary=r.summary,
            crash=r.crash,
            anchor=anchor_for(r.key.task, r.key.config, r.key.seed),
        )
        for r in records
    ]


def _from_folders(folder: Path) -> list[ReportRun]:
    runs = []
    for path in sorted(folder.rglob(SUMMARY_FILE)):
        if any(_ATTEMPT.search(part) for part in path.parent.parts):
            continue
        try:
            summary = RunSummary.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            continue  # not a run's summary
        config = _config_label(summary.config)
        runs.append(
            ReportRun(
                task=summary.task,
                config=config,
                seed=summary.seed,
                state="finished",
                run_dir=path.parent,
                summary=summary,
                crash=None,
                anchor=anchor_for(summary.task, config, summary.seed),
            )
        )
    return runs


def _config_label(config: str) -> str:
    """`budgetml run --config dir/x.yaml` labels its runs with the path; bench says `x`."""
    return Path(config).stem if config.endswith((".yaml", ".yml")) else config


def anchor_for(task: str, config: str, seed: int) -> str:
    return f"run-{slug(task)}--{slug(config)}--seed-{seed}"


def cell_anchor(task: str, config: str) -> str:
    return f"cell-{slug(task)}--{slug(config)}"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _with_unique_anchors(runs: list[ReportRun]) -> list[ReportRun]:
    """Runs made one by one may share task, config and seed; number the repeats."""
    seen: dict[str, int] = {}
    unique = []
    for run in runs:
        count = seen.get(run.anchor, 0)
        seen[run.anchor] = count + 1
        anchor = run.anchor if count == 0 else f"{run.anchor}-{count + 1}"
        unique.append(replace(run, anchor=anchor))
    return unique


_ATTEMPT = re.compile(r"\.attempt\d+$")
