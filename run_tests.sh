#!/usr/bin/env bash
# Runs the test suite, setting up .venv first if needed.
#   ./run_tests.sh                 default tier (excludes tests marked slow)
#   ./run_tests.sh -m slow         the slow tier only
#   ./run_tests.sh -m ''           everything
# Dataset tests read AMTFL_TF_DATA_DIR (skipped when it is unset).
# The tests run in one worker process per CPU (pytest-xdist, `-n auto`,
# idle workers take tests from busy ones); AMTFL_TF_TEST_WORKERS=N sets the
# count, and 0, or -n/--numprocesses/-p no:xdist among the arguments,
# leaves the choice to the arguments (0: one process, as plain pytest).
set -euo pipefail
cd "$(dirname "$0")"
workers="${AMTFL_TF_TEST_WORKERS:-auto}"
if [[ ! "$workers" =~ ^(auto|[0-9]+)$ ]]; then
  echo "run_tests.sh: AMTFL_TF_TEST_WORKERS must be 'auto' or a count." \
       "Received: '$workers'" >&2
  exit 2
fi
source tools/ensure_venv.sh
for arg in "$@"; do
  case "$arg" in -n*|--numprocesses*|*no:xdist) workers=0 ;; esac
done
parallel=()
[[ "$workers" != 0 ]] && parallel=(-n "$workers" --dist worksteal)
exec python -m pytest "${parallel[@]}" "$@"
