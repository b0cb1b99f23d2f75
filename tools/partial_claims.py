"""The claims of an unfinished DMTRL figure, over the records it has.

The faithful DMTRL Fig. 2 and Fig. 4 runs take several sessions. While
they run, this tool says what their finished records decide so far. It
copies the committed split records of ``figures/<profile>/<item>/`` (not
the ``_partial`` ones of a record in progress) to a scratch folder. It
then runs the item's own reproduction script there, with the flags of
the run that made the records (its ``config.json``), on the records made
so far (a run makes every fraction's first repeat before any second
one, so a fraction may have fewer repeats than the others), and with
``keras.Model.fit`` replaced by a function that stops the script: it can
read records, never train. It
prints the claims and leaves ``results.json`` and ``table.md`` in
``--out`` (a temporary folder unless given). The run folder itself is
not touched, so this is safe beside the run that is making the records.

  python tools/partial_claims.py dmtrl_fig2_mnist [--profile=faithful]
      [--out=DIR] [--data_dir=DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: item -> the experiment module whose ``settings_for`` gives the profile
ITEMS = {"dmtrl_fig2_mnist": "amtfl_tf.experiments.dmtrl.mnist",
         "dmtrl_fig4_omniglot": "amtfl_tf.experiments.dmtrl.fig4_omniglot"}
#: the environment variable that lists the record keys the script reports
KEYS_ENV = "AMTFL_TF_PARTIAL_KEYS"
#: run inside the script's process: no fit can run, and the experiment's
#: record keys are those of ``KEYS_ENV`` (when set)
_NO_FIT = (
    "import os, runpy, sys, keras\n"
    "def _refuse(*args, **kwargs):\n"
    "    sys.exit('partial_claims: the script tried to train, so a record '\n"
    "             'it needs is missing (for example a cross-validation '\n"
    "             'fold); run the item itself first')\n"
    "keras.Model.fit = _refuse\n"
    f"_only = os.environ.get({KEYS_ENV!r})\n"
    "if _only:\n"
    "    from amtfl_tf.experiments.dmtrl import common as _dc\n"
    "    _all, _only = _dc.record_keys, _only.split(',')\n"
    "    _dc.record_keys = lambda fractions, repeats: [\n"
    "        k for k in _all(fractions, repeats) if k in _only]\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def recorded_keys(names, fractions, repeats) -> list[str]:
    """The record keys (``frac<f:g>_rep<r>``, repeats 1..``repeats`` of
    ``fractions``) whose files are among ``names``, in the order a run
    makes them (:func:`amtfl_tf.experiments.dmtrl.common.record_keys`)."""
    from amtfl_tf.experiments.dmtrl.common import record_keys
    names = set(names)
    return [k for k in record_keys(fractions, repeats)
            if f"{k}.json" in names]


#: the run's flags that the tool sets itself
_OWN = ("--workdir", "--fractions", "--overwrite", "--data_dir",
        "--profile")


def run_flags(source, profile) -> list[str]:
    """The flags of the run that made ``source``'s records (its
    ``config.json``), less those the tool sets, so the script's settings
    match the records' fingerprint; ValueError when the run was made at
    another profile."""
    try:
        with open(os.path.join(source, "config.json")) as f:
            argv = json.load(f)["machine"]["argv"][1:]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    flags, skip = [], False
    for a in argv:
        name = a.split("=", 1)[0]
        if skip:
            skip = False
            continue
        if name == "--profile":
            ran = a.split("=", 1)[1] if "=" in a else None
            if ran is not None and ran != profile:
                raise ValueError(f"the records in {source!r} were made at "
                                 f"--profile={ran}; pass --profile={ran}. "
                                 f"Received: --profile={profile}")
        if name in _OWN:
            skip = "=" not in a and name != "--overwrite"
            continue
        flags.append(a)
    return flags


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("item", choices=sorted(ITEMS))
    parser.add_argument("--profile", default="faithful",
                        choices=["smoke", "quick", "faithful", "paper"])
    parser.add_argument("--source", default=None,
                        help="the item's run folder (default "
                             "figures/<profile>/<item>)")
    parser.add_argument("--out", default=None,
                        help="where results.json and table.md go (default: "
                             "a temporary folder)")
    parser.add_argument("--data_dir", default=None)
    args = parser.parse_args(argv)

    import importlib
    module = importlib.import_module(ITEMS[args.item])
    s = module.settings_for(args.profile)
    source = args.source or os.path.join(ROOT, "figures", args.profile,
                                         args.item)
    splits = os.path.join(source, "splits")
    if not os.path.isdir(splits):
        print(f"partial_claims: no split records in {splits!r} (--source, "
              f"--profile={args.profile})", file=sys.stderr)
        return 2
    names = sorted(os.listdir(splits))
    keys = recorded_keys(names, s.fractions, s.repeats)
    if not keys:
        print(f"partial_claims: no record of the fractions "
              f"{list(s.fractions)} (repeats 1-{s.repeats}) in {splits!r}",
              file=sys.stderr)
        return 2
    from amtfl_tf.experiments.dmtrl.common import frac_of
    counts = collections.Counter(map(frac_of, keys))
    fractions = [f for f in s.fractions if f in counts]
    try:
        flags = run_flags(source, args.profile)
    except ValueError as e:
        print(f"partial_claims: {e}", file=sys.stderr)
        return 2
    out = args.out or tempfile.mkdtemp(prefix=f"{args.item}_partial_")
    if os.path.realpath(out) == os.path.realpath(source):
        print(f"partial_claims: --out must not be the run's own folder "
              f"(its records would be replaced). Received: --out={out}",
              file=sys.stderr)
        return 2
    if os.path.exists(os.path.join(out, "splits")):
        shutil.rmtree(os.path.join(out, "splits"))
    shutil.copytree(splits, os.path.join(out, "splits"),
                    ignore=shutil.ignore_patterns("_partial"))
    script = os.path.join(ROOT, "reproductions", f"{args.item}.py")
    cmd = [sys.executable, "-c", _NO_FIT, script, *flags,
           f"--profile={args.profile}", f"--workdir={out}",
           "--fractions=" + ",".join(f"{f:g}" for f in fractions)]
    if args.data_dir:
        cmd.append(f"--data_dir={args.data_dir}")
    print(f"{args.item} ({args.profile}): claims over the {len(keys)} "
          f"record(s) made so far, at the fractions {fractions} of "
          f"{list(s.fractions)}; repeats per fraction: "
          + ", ".join(f"{f:g}: {counts[f]}" for f in fractions), flush=True)
    env = dict(os.environ)
    env[KEYS_ENV] = ",".join(keys)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                       text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        return r.returncode
    with open(os.path.join(out, "results.json")) as f:
        res = json.load(f)
    for c in res["claims"]:
        print(f"- {c['verdict']}: {c['text']} ({c['evidence']})")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
