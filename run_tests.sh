#!/usr/bin/env bash
# Runs the test suite, setting up .venv first if needed.
#   ./run_tests.sh                 default tier (excludes tests marked slow)
#   ./run_tests.sh -m slow         the slow tier only
#   ./run_tests.sh -m ''           everything
# Dataset tests read AMTFL_TF_DATA_DIR (skipped when it is unset).
set -euo pipefail
cd "$(dirname "$0")"
source tools/ensure_venv.sh
exec python -m pytest "$@"
