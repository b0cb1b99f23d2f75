"""Record every reproduction script's smoke results, or compare two records.

A refactor that must not change behaviour is checked by running every
script at ``--profile=smoke --deterministic`` before and after, and
comparing the rows and claims of every ``results.json``:

  python tools/smoke_equivalence.py run /tmp/before --repo=/path/to/old/checkout
  python tools/smoke_equivalence.py run /tmp/after
  python tools/smoke_equivalence.py compare /tmp/before /tmp/after

``run`` executes the scripts of ``--repo`` (default: this checkout) with
that checkout first on ``PYTHONPATH``, one workdir per script under the
output folder, and keeps going past a failing script. ``compare`` prints
every difference and exits 1 if there is one. Wall times, and the claims
computed from them (their evidence is a time), are reported apart: they
measure the machine, not the code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (script, extra arguments); {out} is the output folder.
SCRIPTS = (
    ("data_overview", ()),
    ("fig4_synthetic_bases", ()),
    ("fig5_synthetic", ()),
    ("table1", ()),
    ("table2", ()),
    ("fig6_transfer", ("--source_workdir={out}/table2",)),
    ("dmtrl_fig2_mnist", ()),
    ("dmtrl_table_a1", ()),
    ("dmtrl_table_a2", ("--source_workdir={out}/dmtrl_table_a1",)),
    ("dmtrl_fig4_omniglot", ()),
    ("damtl_omniglot", ()),
    ("export_savedmodel", ()),
)
# Keys whose values are times or machine facts, not results: any key
# naming seconds, and these.
VOLATILE = {"git_commit", "created", "finished", "hardware", "machine",
            "versions"}


def _volatile(key: str) -> bool:
    return key in VOLATILE or "seconds" in key or key.startswith("time_")


def _timing_record(d: dict) -> bool:
    """A row whose metric is a time (``train_seconds@T=12``)."""
    return any(isinstance(v, str) and "seconds" in v for v in d.values())


def run(out: str, repo: str, data_dir: str | None, only: str | None) -> int:
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    failed = []
    for name, extra in SCRIPTS:
        if only and only not in name:
            continue
        cmd = [sys.executable, os.path.join(repo, "reproductions",
                                            name + ".py"),
               "--profile=smoke", "--deterministic", "--overwrite",
               f"--workdir={os.path.join(out, name)}"]
        cmd += [e.format(out=out) for e in extra]
        if data_dir:
            cmd.append(f"--data_dir={data_dir}")
        start = time.time()
        with open(os.path.join(out, name + ".log"), "w") as log:
            rc = subprocess.call(cmd, cwd=repo, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
        print(f"{name}: rc={rc} in {time.time() - start:.0f}s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


def _results(root: str) -> dict[str, dict]:
    found = {}
    for folder, _, files in os.walk(root):
        if "results.json" in files and "splits" not in folder:
            path = os.path.join(folder, "results.json")
            with open(path) as f:
                text = f.read()
            # the run folder's own path is not a result
            text = text.replace(os.path.abspath(root), "<out>")
            found[os.path.relpath(path, root)] = json.loads(text)
    return found


def _timing_claim(claim: dict) -> bool:
    text = (claim.get("text", "") + " " + claim.get("evidence", "")).lower()
    return any(w in text for w in ("time", "fastest", "slower", "faster",
                                   " s ", "seconds", "s/step"))


def _diff(a, b, path: str, out: list[str], tol: float,
          timing: list[str] | None = None) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if timing is not None and _timing_record(a):
            out = timing
        for k in sorted(set(a) | set(b)):
            if _volatile(k):
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in "
                           f"{'after' if k not in a else 'before'}")
                continue
            _diff(a[k], b[k], f"{path}.{k}", out, tol, timing)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} vs {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out, tol, timing)
    elif isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return
        if abs(a - b) > tol * max(1.0, abs(a), abs(b)):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def compare(before: str, after: str, tol: float) -> int:
    a, b = _results(before), _results(after)
    problems, timing = [], []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"{name}: only in "
                            f"{'after' if name not in a else 'before'}")
            continue
        ra, rb = dict(a[name]), dict(b[name])
        ca, cb = ra.pop("claims", []), rb.pop("claims", [])
        _diff(ra, rb, name, problems, tol, timing)
        if len(ca) != len(cb):
            problems.append(f"{name}.claims: {len(ca)} vs {len(cb)}")
            continue
        for i, (x, y) in enumerate(zip(ca, cb)):
            sink = timing if _timing_claim(x) else problems
            _diff(x, y, f"{name}.claims[{i}]", sink, tol)
    both = sorted(set(a) & set(b))
    print(f"compared {len(both)} results.json files "
          f"({sum(len(a[n].get('rows', [])) for n in both)} rows, "
          f"{sum(len(a[n].get('claims', [])) for n in both)} claims)")
    for t in timing:
        print("timing (not a result):", t)
    for p in problems:
        print("DIFFERS:", p)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out")
    r.add_argument("--repo", default=REPO)
    r.add_argument("--data_dir", default=os.environ.get("AMTFL_TF_DATA_DIR"))
    r.add_argument("--only")
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--tol", type=float, default=0.0,
                   help="relative tolerance on floats (default: exact)")
    args = p.parse_args()
    if args.cmd == "run":
        return run(os.path.abspath(args.out), os.path.abspath(args.repo),
                   args.data_dir, args.only)
    return compare(args.before, args.after, args.tol)


if __name__ == "__main__":
    sys.exit(main())
