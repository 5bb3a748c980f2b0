#!/usr/bin/env bash
# Runs, or resumes, the embedded-team confirmation sweep at the commit confirm.yaml pins (see
# experiments/table2-cpu/run-sweep.sh, which this calls): start it in the background with
#   nohup experiments/embedded-team/run-sweep.sh > experiments/embedded-team/sweep.log 2>&1 &
# and rerun the same command after a session ends; finished runs are never redone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../table2-cpu/run-sweep.sh" "$here/${1:-confirm.yaml}" "${@:2}"
