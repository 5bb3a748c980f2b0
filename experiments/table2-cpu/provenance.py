"""Writes PROVENANCE.md next to a sweep's results: commit, models (with hashes), hardware, dates.

Run after `budgetml report`:  .venv/bin/python experiments/table2-cpu/provenance.py
The code commit is the one run-sweep.sh pins (the sweep runs from a worktree of it).
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from budgetml.llm.model_registry import REGISTRY

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / HERE.name
MODELS = ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct")


def main() -> None:
    rows = sqlite3.connect(RESULTS / "results.sqlite").execute(
        "select min(started_at), max(finished_at), count(*), sum(state = 'finished') from runs"
    )
    first, last, planned, finished = rows.fetchone()
    pinned = re.search(r"^CODE_COMMIT=(\w+)", (HERE / "run-sweep.sh").read_text(), re.M)
    assert pinned, "run-sweep.sh must set CODE_COMMIT"
    commit = subprocess.run(
        ["git", "rev-parse", pinned.group(1)],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    ).stdout.strip()
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
        f"# Provenance of {HERE.name}",
        "",
        f"- Code: commit `{commit}` (every run here ran this code; each run's `config.yaml`",
        "  holds its exact configuration)",
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
    (RESULTS / "PROVENANCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(RESULTS / "PROVENANCE.md")


def _date(stamp: float | str | None) -> str:
    if stamp is None:
        return "-"
    if isinstance(stamp, str):
        return stamp
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


if __name__ == "__main__":
    main()
