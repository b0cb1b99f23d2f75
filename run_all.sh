#!/usr/bin/env bash
# Regenerates every table and figure into figures/<profile>/<script>/,
# setting up .venv first if needed, then figures/REPORT.md over every
# profile run so far (per-script wall times in figures/<profile>/run_all.json,
# written as each script finishes; --only merges into it). A smoke run writes
# to the git-ignored figures/smoke/ and its own figures/smoke/REPORT.md.
# A full run that is stopped (Ctrl-C, a killed session) resumes when the
# same command is run again: finished scripts are skipped, the others pick
# up from their per-split records (tools/run_all_state.py); --overwrite
# starts afresh.
#
#   ./run_all.sh [--profile=quick|faithful|paper|smoke] [--only=PATTERN]
#                [--overwrite]
#                [--data_dir=DIR] [--seed=N] [--outdir=DIR] [--deterministic]
#                [--tensorboard] [--checkpoint] [--strategy=NAME]
#                [--jit_compile=auto|true|false] [--download|--nodownload]
#
# Every option also takes its value after a space (--profile smoke).
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
overwrite=0
extra=()
# Options take "--name=value" or "--name value".
args=("$@")
i=0
while (( i < ${#args[@]} )); do
  arg="${args[$i]}"
  case "$arg" in
    --profile|--only|--outdir|--data_dir|--seed|--jit_compile|--strategy)
      if (( i + 1 >= ${#args[@]} )); then
        echo "run_all.sh: $arg needs a value, e.g. $arg=VALUE (see --help)" >&2
        exit 2
      fi
      i=$((i + 1))
      arg="$arg=${args[$i]}" ;;
  esac
  case "$arg" in
    --profile=*) profile="${arg#*=}" ;;
    --only=*) only="${arg#*=}" ;;
    --outdir=*) outdir="${arg#*=}" ;;
    --overwrite) overwrite=1; extra+=("$arg") ;;
    --deterministic|--tensorboard|--checkpoint|--download|--nodownload|--data_dir=*|--seed=*|--jit_compile=*|--strategy=*) extra+=("$arg") ;;
    -h|--help) awk 'NR > 1 && /^#/ {print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
  i=$((i + 1))
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

matched=0
for name in "${SCRIPTS[@]}"; do
  [[ -z "$only" || "$name" =~ $only ]] && matched=$((matched + 1))
done
if (( matched == 0 )); then
  echo "run_all.sh: --only=$only matched no script (known: ${SCRIPTS[*]})" >&2
  exit 2
fi
failed=()
ran=0
state() { python tools/run_all_state.py "$@"; }
# A run that was stopped resumes (tools/run_all_state.py): scripts that
# finished are skipped, the others resume from their split records.
mode=$(state start "$outdir" "$profile" "$overwrite" "$only") || exit 2
[[ "$mode" == resume ]] && echo "=== resuming the stopped $profile run in $outdir (--overwrite starts afresh)"
current=""
start=0
child=""
on_stop() {
  [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null && wait "$child"
  if [[ -n "$current" ]]; then
    local secs=$(( $(date +%s) - start ))
    state record "$outdir" "$current" stopped "$secs"
    how="rerun the same command to resume"
    (( overwrite )) && how="rerun it without --overwrite to resume (--overwrite starts afresh)"
    echo "=== $current: stopped after ${secs}s; $how" >&2
  fi
  exit 130
}
trap on_stop INT TERM
total_start=$(date +%s)
for name in "${SCRIPTS[@]}"; do
  if [[ -n "$only" && ! "$name" =~ $only ]]; then
    continue
  fi
  ran=$((ran + 1))
  if [[ "$mode" == resume ]] && state skip "$outdir" "$name"; then
    continue
  fi
  echo "=== $name (profile $profile) ==="
  start=$(date +%s)
  current=$name
  # In the background so that a stop (Ctrl-C, kill) reaches the trap at
  # once; the trap passes it on to the script.
  # shellcheck disable=SC2046
  python "reproductions/$name.py" --profile="$profile" \
      --workdir="$outdir/$name" $(script_args "$name") "${extra[@]}" &
  child=$!
  if wait "$child"; then
    status=ok
  else
    status=FAILED
    failed+=("$name")
  fi
  child=""
  current=""
  secs=$(( $(date +%s) - start ))
  # per-script wall time as it finishes (a resumed script's results.json
  # only knows the time of its last invocation)
  state record "$outdir" "$name" "$status" "$secs"
  echo "=== $name: $status in ${secs}s; made:"
  if [[ -d "$outdir/$name" ]]; then
    (cd "$outdir/$name" && ls -1 | grep -v '^splits$' | sed 's/^/      /')
  fi
done
trap - INT TERM
total=$(( $(date +%s) - total_start ))
echo "=== ran $ran script(s) in ${total}s (profile $profile)"
[[ -z "$only" ]] && state finish "$outdir"
if python reproductions/make_report.py --figures_dir="$report_dir"; then
  echo "=== report: $report_dir/REPORT.md"
else
  failed+=("make_report")
fi
if (( ${#failed[@]} )); then
  echo "=== FAILED: ${failed[*]}" >&2
  exit 1
fi
