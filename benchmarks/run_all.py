"""Runs every benchmark and writes one summary: benchmarks/results/
summary.json and SUMMARY.md (the ratios each benchmark measured side by
side, plus each benchmark's peak resident memory).

  python benchmarks/run_all.py [--quick]

Each benchmark runs in its own process (so its peak RSS is its own) and
writes its own JSON in benchmarks/results/, which this script then reads.
--quick shortens every benchmark (fewer steps / tasks) for a CPU check.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

# name -> (full arguments, --quick arguments)
BENCHMARKS = {
    "deep_amtfl_step": ([], ["--steps", "50"]),
    "factorised_step": ([], ["--tasks", "10", "--steps", "5",
                             "--stl_steps", "100"]),
    "amtl_scaling": ([], ["--tasks", "12", "24", "48", "--steps", "300",
                          "--repeats", "2"]),
    "damtl_time": ([], ["--repeats", "5", "--steps", "2"]),
    "levers": ([], ["--quick", "--repeats", "3"]),
}

_WRAPPER = (
    "import json, resource, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF)"
    ".ru_maxrss)\n")


def run_one(name, args):
    script = os.path.join(HERE, f"{name}.py")
    env = dict(os.environ)
    root = os.path.dirname(HERE)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _WRAPPER, script, *args],
                       capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    peak = None
    for line in r.stdout.splitlines():
        if line.startswith("PEAK_RSS_KB"):
            peak = int(line.split()[1]) / 1024.0
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
    return {"ok": r.returncode == 0, "seconds": seconds, "peak_rss_mb": peak}


def summarise(runs):
    rows = []

    def load(name):
        path = os.path.join(RESULTS, f"{name}.json")
        with open(path) as f:
            return json.load(f)

    if runs.get("deep_amtfl_step", {}).get("ok"):
        r = load("deep_amtfl_step")
        rows.append(("Deep-AMTFL step / CNN step", r["backbone"],
                     r["ratio_deep_amtfl_over_cnn"], f"<= {r['target_ratio']}"))
    if runs.get("factorised_step", {}).get("ok"):
        r = load("factorised_step")
        for key, timing in r["timing"].items():
            for method, ratio in timing["ratio_to_batched_stl"].items():
                if method == "batched_stl":
                    continue
                rows.append((f"{method} step / batched STL step",
                             f"MNIST LeNet, {key}", ratio,
                             f"<= {r['target_ratio']}"))
    if runs.get("amtl_scaling", {}).get("ok"):
        r = load("amtl_scaling")
        rows.append(("AMTL time / AMTFL time", f"T = {r['tasks'][-1]}",
                     r["ratio_amtl_over_amtfl"][-1], "> 1 (paper)"))
        for m, slope in r["loglog_slope"].items():
            rows.append((f"{m}: log-log slope of time in T",
                         f"T = {r['tasks'][0]}..{r['tasks'][-1]}", slope,
                         "AMTL > AMTFL (paper)"))
    if runs.get("damtl_time", {}).get("ok"):
        r = load("damtl_time")
        med = r["median_step_seconds"]
        sh = r["shapes"]
        for m in r["methods"]:
            if m != "single" and "single" in med:
                rows.append((f"DAMTL Fig. 5: {m} step / Single-Task step",
                             f"Omniglot proxy {sh['image_size']}px "
                             f"{sh['architecture']}", med[m] / med["single"],
                             "> 1 (paper: Single-Task fastest)"))
    if runs.get("levers", {}).get("ok"):
        from levers import comparisons  # benchmarks/levers.py

        r = load("levers")["levers"]
        for label, sub in comparisons(r):
            target = (f">= {sub['target_ratio']} (issue 17)"
                      if "target_ratio" in sub else
                      "> 1 (the lever is faster)")
            cpu = (r[label.split("/")[0]].get("machine") or {}).get(
                "cpu_model")
            rows.append((f"lever {label}: {sub['old']} time / {sub['new']} "
                         "time", sub["setting"] + (
                             f" [CPU: {cpu}]" if cpu else ""),
                         sub["ratio_old_over_new"], target))
        if "precision" in r:
            p = r["precision"]
            for k, frac in p["fraction_of_peak"].items():
                rows.append((f"LeNet step at {k}: fraction of the "
                             f"{p['matmul_size']}² matmul peak "
                             f"({p['matmul_peak_gflops'][k]:.0f} GFLOP/s)",
                             f"{p['gflops'][k]:.1f} GFLOP/s", frac,
                             ">= 0.4 (issue 17)"))
    # the dry-run estimate of each deep item's profile (an hour or more to
    # measure, so not run by this script: benchmarks/faithful_cost.py)
    if os.path.exists(os.path.join(RESULTS, "faithful_cost.json")):
        r = load("faithful_cost")
        for script, item in r["items"].items():
            if "estimated_hours" not in item:
                continue
            rows.append((f"{r['profile']} profile of {script}: estimated "
                         "hours (dry run: measured step times × steps)",
                         f"{item['fits']} fits, {item['steps']} steps; "
                         f"{item['estimated_training_seconds'] / 3600:.2f} h "
                         "training", item["estimated_hours"],
                         "<= 2 (issue 17)"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None,
                        help=f"benchmarks to run (of {list(BENCHMARKS)})")
    parser.add_argument(
        "--from_json", action="store_true",
        help="run nothing: rebuild summary.json and SUMMARY.md from the "
             "JSON each benchmark last wrote (its own command and repeats "
             "are recorded in it)")
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: "
                     f"{list(BENCHMARKS)}")
    runs = {}
    for name in names:
        if args.from_json:
            ok = os.path.exists(os.path.join(RESULTS, f"{name}.json"))
            runs[name] = {"ok": ok, "seconds": None, "peak_rss_mb": None,
                          "from_json": True}
            continue
        full, quick = BENCHMARKS[name]
        print(f"=== {name}", flush=True)
        runs[name] = run_one(name, quick if args.quick else full)
        print(f"=== {name}: {'ok' if runs[name]['ok'] else 'FAILED'} in "
              f"{runs[name]['seconds']:.0f}s, peak RSS "
              f"{runs[name]['peak_rss_mb']} MB", flush=True)
    rows = summarise(runs)
    summary = {"quick": args.quick, "from_json": args.from_json,
               "runs": runs,
               "ratios": [{"what": w, "setting": s, "value": v,
                           "target": t} for w, s, v, t in rows]}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    lines = ["# Benchmark summary", "",
             f"`python benchmarks/run_all.py{' --quick' if args.quick else ''}"
             f"{' --from_json' if args.from_json else ''}`"
             "; every ratio measured side by side in one process"
             + (" (rebuilt from each benchmark's last JSON; wall time and "
                "peak memory are not rerun)" if args.from_json else "")
             + ".", "",
             "| ratio | setting | value | target |", "|---|---|---|---|"]
    lines += [f"| {w} | {s} | {v:.3f} | {t} |" for w, s, v, t in rows]
    lines += ["", "| benchmark | ok | wall s | peak RSS MB |",
              "|---|---|---|---|"]
    lines += [f"| {n} | {r['ok']} | "
              f"{'-' if r['seconds'] is None else round(r['seconds'])} | "
              f"{r['peak_rss_mb'] and round(r['peak_rss_mb'])} |"
              for n, r in runs.items()]
    with open(os.path.join(RESULTS, "SUMMARY.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not all(r["ok"] for r in runs.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
