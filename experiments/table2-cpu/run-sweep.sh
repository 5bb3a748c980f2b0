#!/usr/bin/env bash
# Runs, or resumes, a Table-2-on-CPU sweep with the code its experiment file pins:
#   experiments/table2-cpu/run-sweep.sh [EXPERIMENT.yaml] [more `budgetml bench` options]
# (from the repository root, after `make setup`; the default is experiment.yaml, the table).
# Every row of one table must come from one version of BudgetML, while development goes on in
# the working tree; so each experiment file names its code in a `# code-commit: SHA` line, and
# the sweep runs from a git worktree of that commit (kept in .sweep-code/, ignored by git) with
# this checkout's .venv. A new version of the code is a new experiment file and sweep folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
experiment="$here/experiment.yaml"
if [ $# -gt 0 ] && [[ "$1" == *.yaml ]]; then
    experiment="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    shift
fi
code_commit="$(sed -n 's/^# code-commit: *\([0-9a-f]\{40\}\) *$/\1/p' "$experiment")"
if [ -z "$code_commit" ]; then
    echo "$experiment has no '# code-commit: <40-hex SHA>' line naming the code to run" >&2
    exit 2
fi
repo="$(git -C "$here" rev-parse --show-toplevel)"
code="$repo/.sweep-code/$code_commit"
if [ ! -d "$code/src/budgetml" ]; then
    git -C "$repo" worktree prune
    git -C "$repo" worktree add --detach "$code" "$code_commit"
fi
cd "$repo"
PYTHONPATH="$code/src" exec "$repo/.venv/bin/python" -m budgetml bench \
    --experiment "$experiment" "$@"
