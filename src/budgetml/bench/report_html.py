"""`report.html`: one offline file with the table, the plots and every run's trace.

Everything is inline (CSS, SVG, a few lines of JS that open a linked run); the page loads
nothing from anywhere, so it can be mailed, archived or opened without a network.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

from budgetml.bench.behaviour import (
    HEADER,
    ConfigBehaviour,
    behaviour_by_config,
    write_behaviour,
)
from budgetml.bench.charts import Point, bars_svg, color_for, scatter_svg, score_steps_svg
from budgetml.bench.report import (
    AVERAGE,
    Cell,
    ReportRun,
    Table,
    cell_anchor,
    collect_runs,
    dollars,
    money,
    success_text,
    write_tables,
)
from budgetml.bench.trace_view import StepView, read_scores, read_steps, short_model, truncate
from budgetml.run_dir import RunDir
from budgetml.summary import RunSummary

OBSERVATION_CHARS = 1500
INPUT_CHARS = 400
TASK_MAJOR_CONFIGS = 3
"""Up to this many configurations the table has a row per task (three columns per config);
with more it has the paper's layout, a row per configuration, so it fits the page."""

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 20px 60px;
color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:24px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid
#ddd;padding-bottom:4px}h3{font-size:15px;margin:20px 0 6px}
nav a{margin-right:14px}a{color:#0b5cad}
table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top}
th{background:#f5f5f7;text-align:left}
table.results td.num{text-align:right;white-space:nowrap}table.results tr.average td{font-weight:
600;background:#fafafa}.seeds{font-size:12px}.seeds a{margin-right:4px;text-decoration:none}
.legend span{display:inline-block;margin-right:16px}.legend i{display:inline-block;width:12px;
height:12px;margin-right:5px;vertical-align:-1px}
.charts{display:flex;flex-wrap:wrap;gap:24px}
details.run{border:1px solid #ddd;border-radius:6px;margin:6px 0;padding:4px 10px}
details.run>summary{cursor:pointer}details.run:target,section.cell:target{outline:2px solid #0b5cad}
.ok{color:#0a7d32}.fail{color:#b3261e}.crash{color:#8a4b00}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.facts dt{color:#666}dl.facts dd{margin:0}
table.trace{width:100%;font-size:13px;margin:8px 0}table.trace td.num{text-align:right;
white-space:nowrap}pre{white-space:pre-wrap;word-break:break-word;margin:0;max-height:18em;
overflow:auto;font-size:12px;background:#f7f7f9;padding:4px}
.mark{display:block;font-size:12px}.esc{color:#8a4b00}.expert{color:#6b2fa3}.ff{color:#666}
.model{overflow-wrap:anywhere}table.trace td:nth-child(2){min-width:11em}
.wide{overflow-x:auto;max-width:100%}svg.scores{display:block;margin:4px 0}
"""

_SCRIPT = """
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));if(!id){return;}
var el=document.getElementById(id);if(!el){return;}
for(var d=el;d;d=d.parentElement){if(d.tagName==="DETAILS"){d.open=true;}}
el.scrollIntoView();}
window.addEventListener("hashchange",openTarget);openTarget();
"""


def write_report(folder: Path) -> list[Path]:
    """table.md, table.csv, behaviour.md and report.html in `folder`, from its runs; returns
    their paths."""
    runs = collect_runs(folder)
    table = write_tables(folder, runs)
    behaviour = write_behaviour(folder, runs)
    page = render_html(table, runs, folder, f"BudgetML report: {folder.resolve().name}")
    (folder / "report.html").write_text(page, encoding="utf-8")
    return [folder / "table.md", folder / "table.csv", behaviour, folder / "report.html"]


def render_html(table: Table, runs: Sequence[ReportRun], folder: Path, title: str) -> str:
    colors = [color_for(i) for i in range(len(table.configs))]
    finished = [r.summary for r in runs if r.summary is not None]
    crashed = sum(1 for r in runs if r.state == "crashed")
    facts = (
        f"{len(finished)} finished runs of {len(runs)}, "
        f"{sum(1 for s in finished if s.success)} succeeded, {crashed} crashed · "
        f"cost {dollars(sum(s.cost_usd for s in finished))} pay-as-you-go, "
        f"{dollars(sum(s.cost_usd_free_tier for s in finished))} with free tiers"
    )
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(facts)}</p>",
        '<nav><a href="#table">Table</a><a href="#pareto">Success vs cost</a>'
        '<a href="#per-task">Per task</a><a href="#behaviour">Behaviour</a>'
        '<a href="#runs">Runs</a></nav>',
        '<section id="table"><h2>Success rate and average cost per run</h2>',
        f'<div class="wide">{_results_table(table, runs)}</div>',
        "<p>Success: more than 10% better than the baseline; n = runs. Cost: average per run, "
        "pay-as-you-go / with free-tier models at $0. Average: mean over tasks (each task "
        "weighs the same). Click a cell for its runs.</p></section>",
        '<section id="pareto"><h2>Success vs cost per configuration</h2>',
        _legend(table.configs, colors),
        '<div class="charts">',
        _scatter(table, colors, paid=True),
        _scatter(table, colors, paid=False),
        "</div><p>Each point is a configuration's average over tasks; the dashed line joins "
        "the Pareto front (no other configuration is both cheaper and more successful).</p>"
        "</section>",
        '<section id="per-task"><h2>Success rate per task</h2>',
        _legend(table.configs, colors),
        bars_svg(table.tasks, table.configs, lambda t, c: _pct(table.cells[(t, c)]), colors),
        "</section>",
        '<section id="behaviour"><h2>What the agents did</h2>',
        f'<div class="wide">{_behaviour_table(behaviour_by_config(runs))}</div>',
        "<p>Per run on average, counted from each finished run's trace (behaviour.md explains "
        "each column).</p></section>",
        '<section id="runs"><h2>Runs</h2>',
        *_run_sections(table, runs, folder),
        "</section>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + f"\n<script>{_SCRIPT}</script></body></html>\n"
    )


def _behaviour_table(rows: Sequence[ConfigBehaviour]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row.cells()) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _results_table(table: Table, runs: Sequence[ReportRun]) -> str:
    if len(table.configs) > TASK_MAJOR_CONFIGS:
        return _results_by_config(table, runs)
    head = "".join(f'<th colspan="3">{escape(c)}</th>' for c in table.configs)
    sub = "<th>success</th><th>$/run</th><th>$/run free tier</th>" * len(table.configs)
    rows = [
        '<table class="results" id="results-table">',
        f'<thead><tr><th rowspan="2">task</th>{head}</tr><tr>{sub}</tr></thead><tbody>',
    ]
    for name, cells in table.rows():
        tds = []
        for config, cell in zip(table.configs, cells, strict=True):
            tds.append(_success_td(name, config, cell, runs))
            tds.append(f'<td class="num">{escape(money(cell, paid=True))}</td>')
            tds.append(f'<td class="num">{escape(money(cell, paid=False))}</td>')
        css = ' class="average"' if name == AVERAGE else ""
        rows.append(f"<tr{css}><th>{escape(name)}</th>{''.join(tds)}</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _results_by_config(table: Table, runs: Sequence[ReportRun]) -> str:
    """One row per configuration: its success per task, then its averages."""
    head = "".join(f"<th>{escape(task)}</th>" for task in table.tasks)
    rows = [
        '<table class="results by-config" id="results-table">',
        f"<thead><tr><th>config</th>{head}<th>{AVERAGE}</th><th>$/run</th>"
        "<th>$/run free tier</th></tr></thead><tbody>",
    ]
    for config in table.configs:
        average = table.average(config)
        tds = [_success_td(task, config, table.cells[(task, config)], runs) for task in table.tasks]
        tds += [
            f'<td class="num">{escape(success_text(average))}</td>',
            f'<td class="num">{escape(money(average, paid=True))}</td>',
            f'<td class="num">{escape(money(average, paid=False))}</td>',
        ]
        rows.append(f"<tr><th>{escape(config)}</th>{''.join(tds)}</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _success_td(task: str, config: str, cell: Cell | None, runs: Sequence[ReportRun]) -> str:
    text = escape(success_text(cell))
    if task == AVERAGE or cell is None:
        return f'<td class="num">{text}</td>'
    links = " ".join(
        f'<a href="#{run.anchor}" title="seed {run.seed}: {_verdict(run)[1]}">'
        f'<span class="{_verdict(run)[0]}">{_verdict(run)[2]}</span>{run.seed}</a>'
        for run in runs
        if (run.task, run.config) == (task, config)
    )
    return (
        f'<td class="num"><a href="#{cell_anchor(task, config)}">{text}</a>'
        f'<div class="seeds">{links}</div></td>'
    )


def _scatter(table: Table, colors: Sequence[str], *, paid: bool) -> str:
    points = []
    for config, color in zip(table.configs, colors, strict=True):
        cell = table.average(config)
        if cell is not None:
            cost = cell.cost_usd if paid else cell.cost_usd_free_tier
            points.append(Point(config, cost, cell.success_pct, cell.runs, color))
    title = "pay-as-you-go" if paid else "with free-tier models at $0"
    return scatter_svg(points, title, dollars)


def _legend(configs: Sequence[str], colors: Sequence[str]) -> str:
    items = "".join(
        f'<span><i style="background:{color}"></i>{escape(config)}</span>'
        for config, color in zip(configs, colors, strict=True)
    )
    return f'<p class="legend">{items}</p>'


def _pct(cell: Cell | None) -> tuple[float, int] | None:
    return None if cell is None or not cell.runs else (cell.success_pct, cell.runs)


def _run_sections(table: Table, runs: Sequence[ReportRun], folder: Path) -> list[str]:
    sections = []
    for task in table.tasks:
        for config in table.configs:
            group = [r for r in runs if (r.task, r.config) == (task, config)]
            if not group:
                continue
            sections.append(
                f'<section class="cell" id="{cell_anchor(task, config)}">'
                f"<h3>{escape(task)} · {escape(config)}</h3>"
            )
            sections += [_run_details(run, folder) for run in sorted(group, key=lambda r: r.seed)]
            sections.append("</section>")
    return sections


def _verdict(run: ReportRun) -> tuple[str, str, str]:
    """CSS class, words and symbol for a run's outcome."""
    if run.summary is None:
        return "crash", run.crash or run.state, "!"
    if run.summary.success:
        return "ok", f"{run.summary.status}, success", "✓"
    return "fail", f"{run.summary.status}, no success", "✗"


def _run_details(run: ReportRun, folder: Path) -> str:
    css, words, symbol = _verdict(run)
    s = run.summary
    plural = "" if s is not None and s.steps == 1 else "s"
    cost = "" if s is None else f" · {s.steps} step{plural} · {dollars(s.cost_usd)}"
    parts = [
        f'<details class="run" id="{run.anchor}"><summary><span class="{css}">{symbol}</span> '
        f"seed {run.seed} · {escape(words)}{escape(cost)}</summary>",
        _facts(run, folder),
    ]
    scores = read_scores(run.run_dir)
    if scores and s is not None:
        parts.append(score_steps_svg(scores, s.baseline, s.steps, s.metric))
    steps = read_steps(run.run_dir)
    if steps is None:
        parts.append("<p>No trace.jsonl in the run directory.</p>")
    elif steps:
        parts.append(_trace_table(steps))
    parts.append("</details>")
    return "\n".join(parts)


def _facts(run: ReportRun, folder: Path) -> str:
    rel = os.path.relpath(run.run_dir, folder)
    trace = os.path.relpath(RunDir(run.run_dir).trace, folder)
    rows = [("run directory", f'<a href="{escape(trace)}">{escape(rel)}</a>')]
    s = run.summary
    if s is None:
        rows.append(("state", escape(f"{run.state}: {run.crash or 'no summary.json'}")))
    else:
        better = "higher" if s.higher_is_better else "lower"
        change = "n/a" if s.improvement is None else f"{s.improvement:+.1%}"
        score = str(s.score) if s.score_error is None else f"invalid: {s.score_error}"
        rows += [
            ("status", escape(s.status + (f" ({s.error})" if s.error else ""))),
            (f"baseline {s.metric}", escape(f"{s.baseline} ({s.baseline_source})")),
            (f"final {s.metric}", escape(score)),
            ("improvement", escape(f"{change} ({better} is better)")),
            *_best_row(s),
            ("cost", escape(f"{dollars(s.cost_usd)} (free tier {dollars(s.cost_usd_free_tier)})")),
            (
                "escalations · expert calls · format failures",
                f"{s.escalations} · {s.expert_calls} · {s.format_failures}",
            ),
            ("wall time", f"{s.wall_seconds:.1f} s"),
        ]
        if s.final_answer:
            rows.append(("final answer", escape(truncate(s.final_answer, 600))))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="facts">{items}</dl>'


def _best_row(s: RunSummary) -> list[tuple[str, str]]:
    if s.best_step is None or s.best_score is None:
        return []
    change = "n/a" if s.best_improvement is None else f"{s.best_improvement:+.1%}"
    where = "the last step" if s.best_step >= s.steps else f"step {s.best_step} of {s.steps}"
    return [(f"best {s.metric}", escape(f"{s.best_score:.6g} at {where} ({change})"))]


def _trace_table(steps: Sequence[StepView]) -> str:
    rows = [
        '<table class="trace"><thead><tr><th>#</th><th>model</th><th>action</th>'
        "<th>observation</th><th>tokens in / out</th><th>cost</th></tr></thead><tbody>"
    ]
    for step in steps:
        number = "–" if step.number is None else str(step.number)
        action = (
            "<em>no action</em>"
            if step.action is None
            else f"<code>{escape(step.action)}</code>"
            f"<pre>{escape(truncate(step.action_input, INPUT_CHARS))}</pre>"
        )
        rows.append(
            f'<tr class="step"><td>{number}</td><td>{_model_cell(step)}</td><td>{action}</td>'
            f"<td><pre>{escape(truncate(step.observation, OBSERVATION_CHARS))}</pre></td>"
            f'<td class="num">{step.input_tokens} / {step.output_tokens}</td>'
            f'<td class="num">{escape(dollars(step.cost_usd))}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _model_cell(step: StepView) -> str:
    answered = step.answered_by
    parts = [
        f'<span class="model" title="{escape(answered)}">{escape(short_model(answered))}</span>'
        if answered
        else "<em>none</em>"
    ]
    parts += [f'<span class="mark esc">⇧ {escape(text)}</span>' for text in step.escalations]
    if step.expert_calls:
        parts.append(f'<span class="mark expert">★ expert call × {step.expert_calls}</span>')
    if step.format_failures:
        parts.append(f'<span class="mark ff">✎ {step.format_failures} malformed replies</span>')
    if step.worker_calls:
        parts.append(f'<span class="mark ff">worker calls: {step.worker_calls}</span>')
    return "".join(parts)
