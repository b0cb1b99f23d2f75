#!/usr/bin/env bash
# Regenerates every table and figure into figures/<profile>/<script>/,
# setting up .venv first if needed, then figures/REPORT.md over every
# profile run so far (per-script wall times in figures/<profile>/run_all.json;
# a run with --only keeps the previous run_all.json). A smoke run writes to
# the git-ignored figures/smoke/ and its own figures/smoke/REPORT.md.
#
#   ./run_all.sh [--profile=quick|faithful|paper|smoke] [--only=PATTERN]
#                [--overwrite]
#                [--data_dir=DIR] [--seed=N] [--outdir=DIR] [--deterministic]
#                [--tensorboard] [--checkpoint] [--strategy=NAME]
#                [--jit_compile=auto|true|false]
#
# --outdir writes each script's run folder to DIR/<script> instead of
# figures/<profile>/<script>, and the report to DIR/REPORT.md (the tests
# use it).
# Datasets are read from --data_dir / $AMTFL_TF_DATA_DIR (else the user
# cache dir, downloading where the network allows). Scripts run in a fixed
# order; a failing script does not stop the others; failures are listed at
# the end and make the exit status non-zero.
set -uo pipefail
cd "$(dirname "$0")"

# Reproduction scripts, in the order they run (later issues append theirs).
SCRIPTS=(
  data_overview
  fig4_synthetic_bases
  fig5_synthetic
  table1
  table2
  fig6_transfer
  dmtrl_fig2_mnist
  dmtrl_table_a1
  dmtrl_table_a2
  dmtrl_fig4_omniglot
  damtl_omniglot
)

profile=quick
only=""
outdir=""
extra=()
for arg in "$@"; do
  case "$arg" in
    --profile=*) profile="${arg#*=}" ;;
    --only=*) only="${arg#*=}" ;;
    --outdir=*) outdir="${arg#*=}" ;;
    --overwrite|--deterministic|--tensorboard|--checkpoint|--data_dir=*|--seed=*|--jit_compile=*|--strategy=*) extra+=("$arg") ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done
case "$profile" in
  smoke|quick|faithful|paper) ;;
  *) echo "run_all.sh: --profile must be smoke, quick, faithful or paper. Received: $profile" >&2; exit 2 ;;
esac
# The report covers every profile under figures/ unless the outputs go to a
# folder of their own (--outdir, or the git-ignored smoke folder).
report_dir=figures
if [[ -z "$outdir" ]]; then
  outdir="figures/$profile"
  [[ "$profile" == smoke ]] && report_dir="$outdir"
else
  report_dir="$outdir"
fi

source tools/ensure_venv.sh

# Extra flags some scripts need to find their inputs under --outdir.
script_args() {
  case "$1" in
    fig6_transfer) echo "--source_workdir=$outdir/table2" ;;
    dmtrl_table_a2) echo "--source_workdir=$outdir/dmtrl_table_a1" ;;
  esac
}

failed=()
ran=0
times=()   # "name status seconds" per script, for run_all.json
total_start=$(date +%s)
for name in "${SCRIPTS[@]}"; do
  if [[ -n "$only" && ! "$name" =~ $only ]]; then
    continue
  fi
  ran=$((ran + 1))
  echo "=== $name (profile $profile) ==="
  start=$(date +%s)
  # shellcheck disable=SC2046
  if python "reproductions/$name.py" --profile="$profile" \
      --workdir="$outdir/$name" $(script_args "$name") "${extra[@]}"; then
    status=ok
  else
    status=FAILED
    failed+=("$name")
  fi
  secs=$(( $(date +%s) - start ))
  times+=("$name $status $secs")
  echo "=== $name: $status in ${secs}s; made:"
  if [[ -d "$outdir/$name" ]]; then
    (cd "$outdir/$name" && ls -1 | grep -v '^splits$' | sed 's/^/      /')
  fi
done
total=$(( $(date +%s) - total_start ))
echo "=== ran $ran script(s) in ${total}s (profile $profile)"
if (( ran == 0 )); then
  echo "run_all.sh: --only=$only matched no script (known: ${SCRIPTS[*]})" >&2
  exit 2
fi
# Per-script wall times for the report (a resumed script's results.json
# only knows the time of its last invocation), then the report itself.
if [[ -z "$only" ]]; then
  python - "$outdir" "$profile" "$total" "${times[@]}" <<'PY'
import json, os, sys
from amtfl_tf.results import atomic_write_json
outdir, profile, total, *rows = sys.argv[1:]
scripts = {}
for row in rows:
    name, status, secs = row.split()
    scripts[name] = {"status": status, "seconds": int(secs)}
atomic_write_json(os.path.join(outdir, "run_all.json"), {
    "profile": profile, "total_seconds": int(total), "scripts": scripts,
    "failed": [n for n, v in scripts.items() if v["status"] != "ok"]})
PY
fi
if python reproductions/make_report.py --figures_dir="$report_dir"; then
  echo "=== report: $report_dir/REPORT.md"
else
  failed+=("make_report")
fi
if (( ${#failed[@]} )); then
  echo "=== FAILED: ${failed[*]}" >&2
  exit 1
fi
