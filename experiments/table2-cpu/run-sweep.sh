#!/usr/bin/env bash
# Runs, or resumes, the Table-2-on-CPU sweep with the code it was started with:
#   experiments/table2-cpu/run-sweep.sh            (from the repository root, after `make setup`)
# Every row of one table must come from one version of BudgetML, while development goes on in
# the working tree; so the sweep runs from a git worktree of CODE_COMMIT (kept in .sweep-code/,
# ignored by git) with this checkout's .venv. A new version of the code is a new sweep folder.
set -euo pipefail
CODE_COMMIT=8914881c872c0bafe2915a17cc8b3ed129056d91
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
code="$repo/.sweep-code/$CODE_COMMIT"
if [ ! -d "$code/src/budgetml" ]; then
    git -C "$repo" worktree prune
    git -C "$repo" worktree add --detach "$code" "$CODE_COMMIT"
fi
cd "$repo"
PYTHONPATH="$code/src" exec "$repo/.venv/bin/python" -m budgetml bench \
    --experiment "$here/experiment.yaml" "$@"
