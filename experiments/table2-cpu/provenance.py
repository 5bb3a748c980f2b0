"""Writes PROVENANCE.md next to a sweep's results: commit, models (with hashes), hardware, dates.

Run after `budgetml report`:
    .venv/bin/python experiments/table2-cpu/provenance.py [RESULTS_DIR]   (default: the table)
The code commit is read from the runs' own traces (run_start records it), so the file states
what ran rather than what was meant to run; more than one commit is listed, not hidden.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from budgetml.llm.model_registry import REGISTRY

HERE = Path(__file__).resolve().parent
TABLE = HERE.parent / "results" / HERE.name
MODELS = ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct")


def main() -> None:
    results = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else TABLE
    database = sqlite3.connect(results / "results.sqlite")
    first, last, planned, finished = database.execute(
        "select min(started_at), max(finished_at), count(*), sum(state = 'finished') from runs"
    ).fetchone()
    run_dirs = [
        row[0] for row in database.execute("select run_dir from runs where state = 'finished'")
    ]
    commits = sorted(_code_commits(results, run_dirs))
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    lines = [
        f"# Provenance of {results.name}",
        "",
        f"- Code: commit {', '.join(f'`{commit}`' for commit in commits)} (from every run's"
        " trace; each run's `config.yaml` holds its exact configuration)",
        f"- Runs: {finished} of {planned} planned finished, between {_date(first)} and "
        f"{_date(last)} (UTC)",
        f"- Hardware: {cpu}, {os.cpu_count()} logical CPUs, {memory_gib:.0f} GiB RAM, no GPU;"
        " one run at a time",
        f"- Software: Python {sys.version.split()[0]}, {platform.platform()}",
        "- Models (GGUF, embedded llama.cpp via llama-cpp-python 0.3.36):",
    ]
    for name in MODELS:
        model = REGISTRY[name]
        lines.append(f"  - `{name}`: `{model.filename}`, sha256 `{model.sha256}`")
    (results / "PROVENANCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(results / "PROVENANCE.md")


def _code_commits(results: Path, run_dirs: list[str]) -> set[str]:
    """The code_commit each run's trace recorded at its start ("unknown" when it has none)."""
    commits = set()
    for run_dir in run_dirs:
        with (results / run_dir / "trace.jsonl").open(encoding="utf-8") as trace:
            start = json.loads(trace.readline())
        commits.add(start.get("code_commit") or "unknown")
    return commits


def _date(stamp: float | str | None) -> str:
    if stamp is None:
        return "-"
    if isinstance(stamp, str):
        return stamp
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


if __name__ == "__main__":
    main()
