"""`budgetml report`: the Table 2 files and the offline HTML, from a sweep or a folder of runs."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

from budgetml.bench.charts import place_labels
from budgetml.bench.report import build_table, collect_runs, table_markdown
from budgetml.bench.report_html import write_report
from budgetml.bench.trace_view import read_steps
from budgetml.config import load_config
from budgetml.env.task import find_task
from budgetml.run import start_run
from budgetml.trace import Escalation, FormatFailure, LlmCall, RunError, StepDone, Trace
from tests.bench.conftest import SweepInputs, write_run


def md_rows(table_md: str) -> dict[str, list[str]]:
    lines = [line for line in table_md.splitlines() if line.startswith("| ")]
    return {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in line.strip("| ").split(" | ")] for line in lines)
    }


def test_the_markdown_table_has_success_and_both_costs_per_task_and_config(
    local_sweep: Path,
) -> None:
    rows = md_rows((local_sweep / "table.md").read_text())
    assert rows["task"] == [
        "eager success",
        "eager $/run",
        "eager $/run (free tier)",
        "lazy success",
        "lazy $/run",
        "lazy $/run (free tier)",
    ]
    accuracy, loss, average = rows["tiny-accuracy"], rows["tiny-loss"], rows["**Average**"]
    assert accuracy[0] == "100.0% (n=3)" and loss[0] == "0.0% (n=3)"
    assert average[0] == "50.0% (n=6)" and average[3] == "0.0% (n=6)"
    assert accuracy[1] == accuracy[2] != "$0"  # eager's model is paid for
    assert accuracy[4] != "$0" and accuracy[5] == "$0"  # lazy's model is on a free tier


def test_the_markdown_also_has_one_row_per_configuration(local_sweep: Path) -> None:
    rows = md_rows((local_sweep / "table.md").read_text())
    assert rows["config"] == [
        "tiny-accuracy success",
        "tiny-loss success",
        "average success",
        "average $/run",
        "average $/run (free tier)",
    ]
    eager, lazy = rows["eager"], rows["lazy"]
    assert eager[:3] == ["100.0% (n=3)", "0.0% (n=3)", "50.0% (n=6)"]
    assert eager[3] == eager[4] != "$0" and lazy[3] != "$0" and lazy[4] == "$0"


def test_the_csv_table_holds_the_same_figures_as_numbers(local_sweep: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((local_sweep / "table.csv").read_text())))
    assert [row["task"] for row in rows] == ["tiny-accuracy", "tiny-loss", "Average"]
    assert [row["eager success %"] for row in rows] == ["100.0", "0.0", "50.0"]
    assert [row["eager runs"] for row in rows] == ["3", "3", "6"]
    assert float(rows[0]["lazy cost_usd per run"]) > 0
    assert float(rows[0]["lazy cost_usd_free_tier per run"]) == 0
    assert "wall" not in (local_sweep / "table.csv").read_text()


def test_the_html_report_is_self_contained(local_sweep: Path) -> None:
    page = (local_sweep / "report.html").read_text()
    assert "<link" not in page and not re.search(r"\ssrc=", page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert page.count('class="point') == 2 * 2  # two scatters, one point per config each
    assert page.count('<details class="run"') == 12
    assert 'href="#cell-tiny-accuracy--eager"' in page
    assert 'id="run-tiny-loss--lazy--seed-2"' in page
    behaviour = page[page.index('<section id="behaviour">') : page.index('<section id="runs">')]
    assert "<td>eager</td><td>6</td><td>4.0</td>" in behaviour


def test_the_report_command_writes_the_four_files(local_sweep: Path, tmp_path: Path) -> None:
    copy = tmp_path / "sweep"
    shutil.copytree(local_sweep, copy)
    for name in ("table.md", "table.csv", "behaviour.md", "report.html"):
        (copy / name).unlink()
    result = subprocess.run(
        [sys.executable, "-m", "budgetml", "report", str(copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (copy / "table.md").read_bytes() == (local_sweep / "table.md").read_bytes()
    assert (copy / "report.html").is_file() and (copy / "table.csv").is_file()
    assert (copy / "behaviour.md").read_bytes() == (local_sweep / "behaviour.md").read_bytes()


def test_a_folder_without_runs_is_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "budgetml", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and "holds no runs" in result.stderr


def test_runs_made_one_by_one_are_reported_without_a_results_database(
    sweep_inputs: SweepInputs, local_sweep: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "runs"
    for task in sweep_inputs.tasks:
        for config in sweep_inputs.configs:
            label, run_config = load_config(config)
            for seed in range(3):
                start_run(
                    find_task(task),
                    run_config,
                    config_label=label,  # as `budgetml run` labels it: the path
                    run_dir=folder / f"{Path(task).name}-{Path(config).stem}-s{seed}",
                    seed=seed,
                )
    write_report(folder)
    assert not (folder / "results.sqlite").exists()
    assert (folder / "table.md").read_bytes() == (local_sweep / "table.md").read_bytes()
    page = (folder / "report.html").read_text()
    assert (
        page.count('<details class="run"') == 12 and 'href="tiny-loss-lazy-s2/trace.jsonl"' in page
    )


def test_a_run_with_the_same_task_config_and_seed_twice_gets_two_anchors(
    local_sweep: Path, tmp_path: Path
) -> None:
    source = local_sweep / "runs" / "tiny-accuracy" / "eager" / "seed-0"
    for copy in ("first", "second"):
        shutil.copytree(source, tmp_path / copy)
    runs = collect_runs(tmp_path)
    assert [run.anchor for run in runs] == [
        "run-tiny-accuracy--eager--seed-0",
        "run-tiny-accuracy--eager--seed-0-2",
    ]
    assert "100.0% (n=2)" in table_markdown(build_table(runs))


def test_the_trace_viewer_marks_escalations_expert_calls_and_the_answering_model(
    tmp_path: Path,
) -> None:
    trace = Trace(tmp_path / "trace.jsonl")

    def call(agent: str, model: str) -> LlmCall:
        return LlmCall(
            agent=agent, model=model, messages=[], reply="", input_tokens=100, output_tokens=10,
            cost_usd=0.001,
        )  # fmt: skip

    trace.write(call("planner", "cheap"))
    trace.write(FormatFailure(model="cheap", attempt=1, error="no Action"))
    trace.write(Escalation(from_model="cheap", to_model="strong", reason="format: no Action"))
    trace.write(call("planner", "strong"))
    trace.write(call("expert", "strong"))
    trace.write(
        StepDone(
            step=1,
            action="Request Help from a Planning Expert",
            action_input={"stuck_on": "x"},
            observation="use numpy " * 500,
        )
    )
    trace.write(call("planner", "cheap"))
    trace.write(RunError(step=2, message="no level gave a usable reply"))
    trace.close()
    first, last = read_steps(tmp_path) or []
    assert first.tried == ["cheap", "strong"] and first.answered_by == "strong"
    assert first.escalations == ["cheap → strong: format: no Action"]
    assert (first.expert_calls, first.format_failures, first.input_tokens) == (1, 1, 300)
    assert last.action is None and last.observation.startswith("error: no level")


def test_each_run_gets_a_chart_of_its_score_after_each_scored_step(tmp_path: Path) -> None:
    write_run(tmp_path, "c", "guess", [(1, None), (2, 0.9), (4, 0.4), (5, 0.4)])
    write_report(tmp_path)
    page = (tmp_path / "report.html").read_text()
    (chart,) = re.findall(r'<svg class="scores".*?</svg>', page, re.S)
    assert chart.count('<circle class="score') == 3 and chart.count('class="invalid"') == 1
    assert re.findall(r'<circle class="score best".*?<title>(.*?)</title>', chart) == [
        "step 2: accuracy 0.9"
    ]
    assert 'class="baseline"' in chart
    assert "best accuracy</dt><dd>0.9 at step 2 of 5 (+50.0%)" in page


def test_scatter_labels_of_points_that_sit_together_do_not_overlap() -> None:
    names = [f"config-{i}" for i in range(8)]
    labels = place_labels([(100.0 + i, 280.0, name) for i, name in enumerate(names)], (58, 30, 452))
    boxes = [
        (x if anchor == "start" else x - 6.6 * len(name), y - 10, 6.6 * len(name), 13)
        for (x, y, anchor), name in zip(labels, names, strict=True)
    ]
    for i, (x0, y0, w0, h0) in enumerate(boxes):
        for x1, y1, w1, h1 in boxes[i + 1 :]:
            assert not (x0 < x1 + w1 and x1 < x0 + w0 and y0 < y1 + h1 and y1 < y0 + h0)


def test_with_many_configurations_table_2_has_a_row_per_configuration(tmp_path: Path) -> None:
    for c in range(8):
        for task in ("a", "b"):
            write_run(tmp_path, f"config-{c}", task, [(3, 0.5)])
    write_report(tmp_path)
    page = (tmp_path / "report.html").read_text()
    table = re.search(
        r'<table class="results by-config" id="results-table">.*?</table>', page, re.S
    )
    assert table is not None
    assert re.findall(r"<tr><th>(config-\d)</th>", table.group(0)) == [
        f"config-{c}" for c in range(8)
    ]


def test_a_committed_sweep_recorded_before_the_best_scores_existed_still_reads(
    tmp_path: Path,
) -> None:
    """experiments/results/table2-cpu-fixes was recorded before best_* and direction_*: its
    runs read with the fields' defaults, and reading leaves the file as it was (a report or
    a reproduction of a committed sweep must not change what is committed)."""
    committed = Path(__file__).parents[2] / "experiments" / "results" / "table2-cpu-fixes"
    shutil.copy(committed / "results.sqlite", tmp_path / "results.sqlite")
    before = (tmp_path / "results.sqlite").read_bytes()
    summaries = [r.summary for r in collect_runs(tmp_path) if r.summary is not None]
    assert len(summaries) == 24
    assert not any(s.best_success for s in summaries)
    assert all(s.best_step is None for s in summaries)
    assert (tmp_path / "results.sqlite").read_bytes() == before
