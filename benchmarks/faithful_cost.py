"""What a profile of each deep item costs here, and where the time goes,
without training it to the end: a *dry run* of the real script.

Each script runs in its own process, unchanged, at the profile asked for
(``faithful`` by default), with two things replaced:
``amtfl_tf.cli.default_workdir`` points every default run folder (the
script's own and any it reads, e.g. Table A2's Appendix A records) into a
temporary folder, so a dry run never writes into ``figures/`` nor adopts
real records; and ``keras.Model.fit``. The replacement fit

1. counts the steps the call asked for (``epochs × steps per epoch``, the
   steps per epoch from ``steps_per_epoch``, a ``PyDataset``'s length, a
   finite ``tf.data`` cardinality or ``ceil(N / batch_size)``);
2. the first time it meets a model *signature* (class, parameter count,
   batch shape), times ``--probe_steps`` real training steps of that model
   after a warm-up call of the same length (the warm-up absorbs tracing),
   three times, and keeps the median seconds per step;
3. otherwise trains one real step (so the caller gets a genuine
   ``History`` and a model it can evaluate), and returns.

Everything else (data loading and resizing, the decompositions that
initialise DMTRL, every evaluation, cross-validation bookkeeping, tracing)
runs for real and is timed as it runs. The estimate of a full run is

    (wall time of the dry run − the timed probe steps)
    + Σ over fits of (steps asked for × the signature's seconds per step)

so it is an extrapolation from measured step times, not a measurement of
the full run: it cannot see early stopping, a step that slows as it
trains, or the warm-up steps' own training (a slight over-estimate).
Untrained STL networks decompose at nearly full rank, so the DMTRL
variants are probed at a larger size than trained ones would have (an
over-estimate there too). The shallow items (Table 1, Figs. 4–5) train
in the in-graph loop, not through ``fit``; their faithful wall times are
measured by ``./run_all.sh --profile=faithful`` (``run_all.json``), not
here.

    python benchmarks/faithful_cost.py [--scripts dmtrl_fig4_omniglot ...]
        [--profile faithful] [--probe_steps 10]

Needs the datasets (``AMTFL_TF_DATA_DIR``). Run it on a quiet machine.
Writes ``benchmarks/results/faithful_cost.json`` (per script: the
estimate, the split between training and the rest, every fit's steps and
each signature's step time).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: the deep items, in run_all.sh's order
SCRIPTS = ("table2", "dmtrl_fig2_mnist", "dmtrl_table_a1",
           "dmtrl_table_a2", "dmtrl_fig4_omniglot", "damtl_omniglot")


def _first_array(x):
    """The first array of a (nested) ``fit`` input, in insertion order."""
    while isinstance(x, (list, tuple, dict)):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return x


def epoch_steps(x, batch_size, steps_per_epoch):
    """The steps one epoch of ``fit(x, ..., batch_size, steps_per_epoch)``
    takes (see the module doc), or None when it cannot be known without
    iterating."""
    import keras
    import numpy as np
    import tensorflow as tf

    if steps_per_epoch:
        return int(steps_per_epoch)
    if isinstance(x, keras.utils.PyDataset):
        return len(x)
    if isinstance(x, tf.data.Dataset):
        n = int(x.cardinality())
        return n if n >= 0 else None
    return math.ceil(len(np.asarray(_first_array(x))) / (batch_size or 32))


def batch_shape(x, batch_size):
    """The shape of one input batch, for the model signature."""
    import keras
    import numpy as np
    import tensorflow as tf

    if isinstance(x, keras.utils.PyDataset):
        return tuple(np.shape(_first_array(x[0][0])))
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        first = spec[0] if isinstance(spec, tuple) else spec
        return tf.nest.map_structure(lambda t: tuple(t.shape.as_list()),
                                     first)
    return (batch_size or 32,) + tuple(np.shape(_first_array(x)))[1:]


def worker(script: str, profile: str, probe_steps: int, out: str,
           extra: list[str]) -> None:
    """Dry-run ``reproductions/<script>.py`` with ``fit`` replaced."""
    import runpy

    import keras

    from amtfl_tf import cli

    original_fit = keras.Model.fit
    fits, step_seconds = [], {}
    probe_seconds = 0.0

    def counting_fit(self, x=None, y=None, batch_size=None, epochs=1,
                     verbose="auto", callbacks=None, validation_split=0.0,
                     validation_data=None, shuffle=True, class_weight=None,
                     sample_weight=None, initial_epoch=0,
                     steps_per_epoch=None, **kwargs):
        nonlocal probe_seconds
        per_epoch = epoch_steps(x, batch_size, steps_per_epoch)
        if per_epoch is None:
            raise ValueError("faithful_cost cannot count the steps of a fit "
                             "on an infinite dataset without "
                             "steps_per_epoch")
        total = per_epoch * max(0, int(epochs) - int(initial_epoch))
        sig = (f"{type(self).__name__}, {self.count_params()} params, "
               f"batch {batch_shape(x, batch_size)}")

        def call(n):
            return original_fit(
                self, x, y, batch_size=batch_size, epochs=1, verbose=0,
                callbacks=callbacks, shuffle=shuffle,
                class_weight=class_weight, sample_weight=sample_weight,
                steps_per_epoch=n, **kwargs)

        if sig not in step_seconds:
            k = max(1, min(probe_steps, per_epoch))
            call(k)  # warm-up: tracing and the first steps
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                hist = call(k)
                times.append(time.perf_counter() - t0)
            probe_seconds += sum(times)
            step_seconds[sig] = statistics.median(times) / k
            print(f"[faithful_cost] {sig}: {1e3 * step_seconds[sig]:.1f} "
                  f"ms/step", file=sys.stderr, flush=True)
        else:
            hist = call(1)
        fits.append((sig, int(total)))
        return hist

    keras.Model.fit = counting_fit
    real_default_workdir = cli.default_workdir
    path = os.path.join(ROOT, "reproductions", f"{script}.py")
    with tempfile.TemporaryDirectory() as root:
        def default_workdir(experiment, profile="quick"):
            real_default_workdir(experiment, profile)  # its checks
            return os.path.join(root, profile, experiment)

        cli.default_workdir = default_workdir
        sys.argv = [path, f"--profile={profile}", *extra]
        start = time.perf_counter()
        status = 0
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as e:  # absl's app.run always exits
            status = 0 if e.code is None else (
                e.code if isinstance(e.code, int) else 1)
        wall = time.perf_counter() - start
    by_sig = {}
    for sig, steps in fits:
        d = by_sig.setdefault(sig, {"fits": 0, "steps": 0,
                                    "seconds_per_step": step_seconds[sig]})
        d["fits"] += 1
        d["steps"] += steps
    for d in by_sig.values():
        d["estimated_seconds"] = d["steps"] * d["seconds_per_step"]
    train = sum(d["estimated_seconds"] for d in by_sig.values())
    other = wall - probe_seconds
    res = {"script": script, "profile": profile, "exit_status": status,
           "dry_run_seconds": wall, "probe_seconds": probe_seconds,
           "other_seconds": other, "estimated_training_seconds": train,
           "estimated_seconds": other + train,
           "estimated_hours": (other + train) / 3600,
           "fits": len(fits), "steps": sum(n for _, n in fits),
           "by_signature": by_sig, "argv": sys.argv[1:]}
    with open(out, "w") as f:
        json.dump(res, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scripts", nargs="+", default=list(SCRIPTS),
                   choices=SCRIPTS)
    p.add_argument("--profile", default="faithful",
                   choices=("smoke", "quick", "faithful", "paper"))
    p.add_argument("--probe_steps", type=int, default=10)
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds per script's dry run")
    p.add_argument("--json", default=os.path.join(HERE, "results",
                                                  "faithful_cost.json"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args, extra = p.parse_known_args()
    if args.probe_steps < 1:
        p.error(f"--probe_steps must be >= 1. Received: {args.probe_steps}")
    if args.worker:
        worker(args.worker, args.profile, args.probe_steps, args.out, extra)
        return
    sys.path.insert(0, ROOT)
    from amtfl_tf.results import machine_info
    from amtfl_tf.results import package_versions

    items = {}
    if os.path.exists(args.json):  # keep the other scripts' last estimates
        with open(args.json) as f:
            old = json.load(f)
        if old.get("profile") == args.profile:
            items = old.get("items", {})

    out = {"benchmark": "faithful_cost", "profile": args.profile,
           "probe_steps": args.probe_steps, "items": items,
           "machine": machine_info(), "versions": package_versions(),
           "command": " ".join(sys.argv)}
    os.makedirs(os.path.dirname(args.json), exist_ok=True)

    def save():  # after every script, so a stopped sequence keeps them
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)

    for script in args.scripts:
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            cmd = [sys.executable, __file__, "--worker", script, "--profile",
                   args.profile, "--probe_steps", str(args.probe_steps),
                   "--out", tmp.name, *extra]
            print(f"=== {script} ({args.profile}, dry run)", flush=True)
            t0 = time.perf_counter()
            try:
                rc = subprocess.run(cmd, timeout=args.timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
            if rc != 0 or os.path.getsize(tmp.name) == 0:
                print(f"{script}: dry run failed ({rc}) after "
                      f"{time.perf_counter() - t0:.0f}s", flush=True)
                items[script] = {"script": script, "error": str(rc)}
                save()
                continue
            with open(tmp.name) as f:
                items[script] = json.load(f)
        r = items[script]
        print(f"{script}: estimated {r['estimated_hours']:.2f} h "
              f"({r['estimated_training_seconds']:.0f}s training over "
              f"{r['fits']} fits / {r['steps']} steps + "
              f"{r['other_seconds']:.0f}s else); dry run "
              f"{r['dry_run_seconds']:.0f}s", flush=True)
        save()
    print(f"-> {args.json}")


if __name__ == "__main__":
    main()
