"""The state ``run_all.sh`` keeps in ``<outdir>/run_all.json``.

    python tools/run_all_state.py start OUTDIR PROFILE OVERWRITE ONLY
    python tools/run_all_state.py skip OUTDIR NAME      # exit 0: skip NAME
    python tools/run_all_state.py record OUTDIR NAME STATUS SECONDS
    python tools/run_all_state.py finish OUTDIR

A full run (no ``--only``) starts a fresh file with ``"finished": false``
and sets it true once every script has run ``ok``. While it is false (the
run was stopped: Ctrl-C, a killed session, a failing script), the next run
of the same profile *resumes*: it skips every script recorded ``ok`` whose
``results.json`` is in place, reruns the others (which resume from their
own per-split records) and adds each invocation's seconds to a stopped
script's ``seconds``, so a script's wall time is the sum over the
invocations it took. After a finished run, a full run starts afresh and an
``--only`` run merges the times of the scripts it ran into the file;
``--overwrite`` always starts afresh (a full run) or reruns (``--only``).

Run with the project's Python (it reads and writes JSON only, through
``amtfl_tf.results``, which does not import TensorFlow). Each command
holds an exclusive lock on OUTDIR while it reads and rewrites the file,
so two ``--only`` runs of one profile side by side (the faithful DMTRL
runs) do not lose each other's times.
"""

import contextlib
import datetime
import fcntl
import json
import os
import sys

from amtfl_tf.results import atomic_write_json

FILE = "run_all.json"


def _path(outdir):
    return os.path.join(outdir, FILE)


def _load(outdir):
    try:
        with open(_path(outdir)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _save(outdir, state):
    scripts = state.setdefault("scripts", {})
    state["total_seconds"] = int(sum(v.get("seconds", 0)
                                     for v in scripts.values()))
    state["failed"] = [n for n, v in scripts.items()
                       if v["status"] == "FAILED"]
    state["stopped"] = [n for n, v in scripts.items()
                        if v["status"] == "stopped"]
    state["updated"] = datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec="seconds")
    os.makedirs(outdir, exist_ok=True)
    atomic_write_json(_path(outdir), state)


def start(outdir, profile, overwrite, only):
    """Prints ``resume``, ``fresh`` or ``merge``."""
    state = _load(outdir)
    same = state is not None and state.get("profile") == profile
    if same and overwrite != "1" and not state.get("finished", True):
        state["resumed"] = int(state.get("resumed", 0)) + 1
        _save(outdir, state)
        print("resume")
        return
    if not only or not same:
        state = {"profile": profile, "finished": False, "scripts": {}}
        mode = "fresh"
    else:
        mode = "merge"
    _save(outdir, state)
    print(mode)


def skip(outdir, name):
    state = _load(outdir) or {}
    entry = state.get("scripts", {}).get(name)
    done = (entry is not None and entry.get("status") == "ok"
            and os.path.exists(os.path.join(outdir, name, "results.json")))
    if done:
        print(f"=== {name}: done in {entry['seconds']}s by an earlier "
              f"invocation of this run (run_all.json); skipped "
              f"(--overwrite reruns it)")
    sys.exit(0 if done else 1)


def record(outdir, name, status, seconds):
    state = _load(outdir) or {"scripts": {}}
    scripts = state.setdefault("scripts", {})
    prev = scripts.get(name)
    seconds = int(seconds)
    if prev is not None and prev.get("status") != "ok":
        # the earlier invocation stopped or failed: this one continues it
        entry = {"status": status,
                 "seconds": int(prev.get("seconds", 0)) + seconds,
                 "invocations": int(prev.get("invocations", 1)) + 1}
    else:
        entry = {"status": status, "seconds": seconds, "invocations": 1}
    scripts[name] = entry
    _save(outdir, state)


def finish(outdir):
    state = _load(outdir) or {"scripts": {}}
    state["finished"] = not any(v["status"] != "ok"
                                for v in state.get("scripts", {}).values())
    _save(outdir, state)


def main(argv):
    commands = {"start": (start, 4), "skip": (skip, 2),
                "record": (record, 4), "finish": (finish, 1)}
    if not argv or argv[0] not in commands \
            or len(argv) - 1 != commands[argv[0]][1]:
        sys.exit(f"usage: see {__file__}'s docstring. Received: {argv}")
    fn, _ = commands[argv[0]]
    with _locked(argv[1]):
        fn(*argv[1:])


@contextlib.contextmanager
def _locked(outdir):
    """An exclusive ``flock`` on the folder itself (no lock file to leave
    behind), held for one read-modify-write of ``run_all.json``."""
    os.makedirs(outdir, exist_ok=True)
    fd = os.open(outdir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


if __name__ == "__main__":
    main(sys.argv[1:])
