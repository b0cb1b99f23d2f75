"""End-to-end runs of the reproduction scripts and run_all.sh."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT


def _run(cmd, timeout=600, **kw):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.mark.data
@pytest.mark.large
def test_data_overview_smoke_and_resume(tmp_path, data_dir):
    cmd = [sys.executable, "reproductions/data_overview.py",
           "--profile=smoke", f"--workdir={tmp_path}",
           f"--data_dir={data_dir}"]
    first = _run(cmd)
    assert first.returncode == 0, first.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["experiment"] == "data_overview"
    assert results["profile"] == "smoke"
    assert [c["holds"] for c in results["claims"]] == [True, True, True]
    for png in ("mnist_samples.png", "omniglot_samples.png",
                "school_tasks.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert (tmp_path / "table.md").exists()
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["seed"] == 0
    second = _run(cmd)
    assert second.returncode == 0, second.stderr
    assert second.stderr.count("already recorded") == 3


@pytest.mark.large
def test_script_rejects_bad_profile(tmp_path):
    r = _run([sys.executable, "reproductions/data_overview.py",
              "--profile=huge", f"--workdir={tmp_path}"])
    assert r.returncode != 0
    assert "profile" in r.stderr


@pytest.mark.large
def test_export_rejects_non_positive_epochs(tmp_path):
    """--epochs=-5 used to export an untrained model and exit 0."""
    r = _run([sys.executable, "reproductions/export_savedmodel.py",
              "--profile=smoke", "--epochs=-5", f"--workdir={tmp_path}"])
    assert r.returncode != 0
    assert "--epochs=-5" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "model.keras").exists()


@pytest.mark.large
def test_export_names_a_corrupt_keras_file(tmp_path):
    """Keras says "File not found" for a file that is there but corrupt."""
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"truncated")
    r = _run([sys.executable, "reproductions/export_savedmodel.py",
              "--profile=smoke", f"--keras_file={bad}",
              f"--workdir={tmp_path / 'w'}"])
    assert r.returncode == 1
    assert f"--keras_file='{bad}' (not a zip archive" in r.stderr
    assert "Traceback" not in r.stderr and "File not found" not in r.stderr


@pytest.mark.large
def test_script_missing_data_is_one_clear_error(tmp_path):
    r = _run([sys.executable, "reproductions/data_overview.py",
              "--profile=smoke", f"--workdir={tmp_path / 'w'}",
              f"--data_dir={tmp_path / 'empty'}", "--nodownload"])
    assert r.returncode != 0
    assert "DatasetNotFoundError: Dataset 'mnist' not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert "--data_dir=<dir> or AMTFL_TF_DATA_DIR=<dir>" in r.stderr


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.large
def test_run_all_smoke(tmp_path, data_dir):
    """run_all.sh runs every script, says what it made, exits 0 (slow
    tier: about 10 minutes on the 2-core CPU; every script also has its
    own smoke test)."""
    r = _run(["bash", "run_all.sh", "--profile=smoke",
              f"--outdir={tmp_path}", f"--data_dir={data_dir}"],
             timeout=2400)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "data_overview: ok" in r.stdout
    assert "results.json" in r.stdout
    assert (tmp_path / "data_overview" / "results.json").exists()
    # the report lists every paper item; every offline one was run
    from amtfl_tf import report
    text = (tmp_path / "REPORT.md").read_text()
    for item in report.ITEMS:
        assert f"### {item.title}" in text
        if not item.needs:
            assert (tmp_path / item.script / item.subdir /
                    "results.json").exists(), item
    assert "Not run: not run yet" not in text
    timing = json.loads((tmp_path / "run_all.json").read_text())
    assert timing["profile"] == "smoke" and timing["failed"] == []
    assert set(timing["scripts"]) >= {"data_overview", "dmtrl_fig2_mnist",
                                      "damtl_omniglot"}


@pytest.mark.large
def test_run_all_rejects_bad_arguments():
    r = _run(["bash", "run_all.sh", "--profile=huge"])
    assert r.returncode == 2 and "--profile" in r.stderr
    r = _run(["bash", "run_all.sh", "--only=nomatch_xyz",
              "--profile=smoke"])
    assert r.returncode == 2 and "matched no script" in r.stderr


@pytest.mark.large
def test_run_all_space_form_and_download_switches():
    """--name value works like --name=value; --download/--nodownload are
    passed on to the scripts, not refused; --help lists them."""
    r = _run(["bash", "run_all.sh", "--profile", "huge"])
    assert r.returncode == 2 and "Received: huge" in r.stderr
    r = _run(["bash", "run_all.sh", "--profile"])
    assert r.returncode == 2 and "--profile needs a value" in r.stderr
    for switch in ("--nodownload", "--download"):
        r = _run(["bash", "run_all.sh", "--only", "nomatch_xyz",
                  "--profile", "smoke", switch])
        assert r.returncode == 2 and "matched no script" in r.stderr, \
            r.stderr
    r = _run(["bash", "run_all.sh", "--help"])
    assert r.returncode == 0 and "--nodownload" in r.stdout
    assert "set -uo" not in r.stdout


def _state(outdir):
    return json.loads((outdir / "run_all.json").read_text())


def test_run_all_state_keeps_both_side_by_side_runs_times(tmp_path):
    """Two runs of one profile side by side (--only, the faithful DMTRL
    runs) record into one run_all.json; each record is a read-modify-write
    under a lock, so neither loses the other's invocations (without the
    lock this lost updates: a whole session's Fig. 2 time, 2026-12-08)."""
    code = ("import sys; sys.path.insert(0, 'tools'); import run_all_state "
            "as s\nfor _ in range(60): s.main(['record', sys.argv[1], "
            "sys.argv[2], 'stopped', '1'])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path),
                               name], cwd=REPO_ROOT) for name in "aabb"]
    assert [p.wait(timeout=300) for p in procs] == [0] * 4
    scripts = _state(tmp_path)["scripts"]
    assert {n: (v["seconds"], v["invocations"]) for n, v in
            scripts.items()} == {"a": (120, 120), "b": (120, 120)}


def test_run_all_state_resume_rules(tmp_path):
    """tools/run_all_state.py: a stopped full run resumes (finished
    scripts skipped, a stopped script's seconds summed over invocations); a
    finished one starts afresh; --only merges; --overwrite starts afresh."""
    tool = [sys.executable, "tools/run_all_state.py"]

    def st(*args):
        return _run([*tool, *map(str, args)])

    assert st("start", tmp_path, "quick", 0, "").stdout.strip() == "fresh"
    st("record", tmp_path, "a", "ok", 10)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text("{}")
    st("record", tmp_path, "b", "stopped", 7)
    state = _state(tmp_path)
    assert state["finished"] is False and state["stopped"] == ["b"]
    assert state["failed"] == []
    # the stopped run resumes: a is skipped, b continues
    assert st("start", tmp_path, "quick", 0, "").stdout.strip() == "resume"
    skip_a = st("skip", tmp_path, "a")
    assert skip_a.returncode == 0 and "skipped" in skip_a.stdout
    assert st("skip", tmp_path, "b").returncode == 1
    st("record", tmp_path, "b", "ok", 5)
    st("finish", tmp_path)
    state = _state(tmp_path)
    assert state["scripts"]["b"] == {"status": "ok", "seconds": 12,
                                     "invocations": 2}
    assert state["total_seconds"] == 22 and state["finished"] is True
    # after a finished run --only merges and a full run starts afresh
    assert st("start", tmp_path, "quick", 0, "b").stdout.strip() == "merge"
    st("record", tmp_path, "b", "ok", 4)
    assert _state(tmp_path)["scripts"]["a"]["seconds"] == 10
    assert _state(tmp_path)["scripts"]["b"]["seconds"] == 4
    assert st("start", tmp_path, "quick", 0, "").stdout.strip() == "fresh"
    assert _state(tmp_path)["scripts"] == {}
    # --overwrite never resumes; another profile's file is replaced
    st("record", tmp_path, "a", "stopped", 3)
    assert st("start", tmp_path, "quick", 1, "").stdout.strip() == "fresh"
    st("record", tmp_path, "a", "stopped", 3)
    assert st("start", tmp_path, "paper", 0, "a").stdout.strip() == "fresh"
    assert _state(tmp_path)["profile"] == "paper"


@pytest.mark.data
@pytest.mark.large
def test_run_all_stop_and_resume(tmp_path, data_dir):
    """A stopped run_all.sh records the script it stopped in run_all.json
    and exits 130; the same command resumes it and sums its seconds; a
    resumed run skips what had finished."""
    import signal
    import time

    cmd = ["bash", "run_all.sh", "--profile=smoke", "--only=data_overview",
           f"--outdir={tmp_path}", f"--data_dir={data_dir}"]
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (tmp_path / "run_all.json").exists():
            break
        time.sleep(0.2)
    time.sleep(2.0)  # the script is starting (importing TensorFlow)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "rerun the same command to resume" in err
    entry = _state(tmp_path)["scripts"]["data_overview"]
    assert entry["status"] == "stopped" and entry["invocations"] == 1
    r = _run(cmd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming the stopped smoke run" in r.stdout
    entry = _state(tmp_path)["scripts"]["data_overview"]
    assert entry["status"] == "ok" and entry["invocations"] == 2
    # a stopped state with data_overview done: the next run skips it
    state = _state(tmp_path)
    state["finished"] = False
    (tmp_path / "run_all.json").write_text(json.dumps(state))
    r = _run(cmd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "data_overview: done in" in r.stdout and "skipped" in r.stdout


def _git(*args):
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=30)


def test_profile_folders_and_what_git_keeps():
    """Each profile has its own folder; smoke outputs and quick split
    records are ignored, faithful/paper split records are committed."""
    from amtfl_tf import cli
    for profile in ("smoke", "quick", "faithful", "paper"):
        assert cli.default_workdir("table2", profile) == os.path.join(
            REPO_ROOT, "figures", profile, "table2")
    if _git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    PARTIAL = "figures/faithful/dmtrl_fig2_mnist/splits/_partial/frac1_rep1/"
    ignored = {p: _git("check-ignore", "-q", p).returncode == 0 for p in (
        "figures/smoke/table2/results.json",
        "figures/quick/table2/mnist_imbalanced/splits/run0.json",
        "figures/quick/table2/mnist_imbalanced/results.json",
        "figures/faithful/table2/mnist_imbalanced/splits/run0.json",
        "figures/paper/table1/school/splits/split1.json",
        "figures/faithful/table2/checkpoints/x.ckpt",
        PARTIAL + "stl.json",
        PARTIAL + "stl.weights.h5",
        PARTIAL + "stl.epochs/state.json")}
    assert ignored == {
        "figures/smoke/table2/results.json": True,
        "figures/quick/table2/mnist_imbalanced/splits/run0.json": True,
        "figures/quick/table2/mnist_imbalanced/results.json": False,
        "figures/faithful/table2/mnist_imbalanced/splits/run0.json": False,
        "figures/paper/table1/school/splits/split1.json": False,
        "figures/faithful/table2/checkpoints/x.ckpt": True,
        # a DMTRL record in progress: its parts are committed, the weights
        # and a fit's per-epoch state are not
        PARTIAL + "stl.json": False,
        PARTIAL + "stl.weights.h5": True,
        PARTIAL + "stl.epochs/state.json": True}


@pytest.mark.data
@pytest.mark.large
def test_smoke_run_with_default_flags_leaves_git_status_clean(data_dir):
    if _git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    before = _git("status", "--porcelain").stdout
    r = _run([sys.executable, "reproductions/data_overview.py",
              "--profile=smoke", f"--data_dir={data_dir}"])
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(
        REPO_ROOT, "figures", "smoke", "data_overview", "results.json"))
    assert _git("status", "--porcelain").stdout == before


def test_ctrl_c_ends_a_script_with_one_line_not_a_traceback():
    code = ("from amtfl_tf import cli\n"
            "def main(argv):\n"
            "    raise KeyboardInterrupt\n"
            "cli.run_main(main)\n")
    r = _run([sys.executable, "-c", code])
    assert r.returncode == 130, r.stderr
    assert "Interrupted: the splits finished so far are recorded" in r.stderr
    assert "Traceback" not in r.stderr


def test_script_help_lists_the_shared_flags():
    """--help shows the flags every script shares (--profile, --data_dir,
    --nodownload, ...), not only the script's own."""
    r = _run([sys.executable, "reproductions/table1.py", "--help"])
    # (absl's --help exits with status 1)
    for flag in ("--profile", "--data_dir", "--workdir", "--[no]download",
                 "--strategy", "--dataset"):
        assert flag in r.stdout, flag


@pytest.mark.large
def test_export_records_the_loaded_models_method(tmp_path):
    """With --keras_file, export.json names the loaded model's method, not
    the --method flag's default."""
    save = ("import sys, numpy as np\n"
            "from amtfl_tf import models\n"
            "m = models.DeepMultiTaskModel(3, (28, 28, 1), method='cnn')\n"
            "m(np.zeros((2, 28, 28, 1), 'float32'))\n"
            "m.save(sys.argv[1])\n")
    path = tmp_path / "cnn.keras"
    r = _run([sys.executable, "-c", save, str(path)])
    assert r.returncode == 0, r.stderr
    r = _run([sys.executable, "reproductions/export_savedmodel.py",
              f"--keras_file={path}", f"--workdir={tmp_path / 'out'}"])
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "export.json").read_text())
    assert summary["method"] == "cnn"
    assert summary["keras_file"] == str(path)


def test_unwritable_workdir_is_one_line_naming_it(tmp_path):
    """A --workdir that cannot be created (here a path through a file; the
    tests run as root, so a read-only folder would not stop them) ends the
    script with one message naming it, not a traceback."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    r = _run([sys.executable, "reproductions/fig4_synthetic_bases.py",
              "--profile=smoke", f"--workdir={blocker}/run"], timeout=120)
    assert r.returncode == 1, r.stderr
    assert "WorkdirError" in r.stderr and f"{blocker}/run" in r.stderr
    assert "--workdir=" in r.stderr
    assert "Traceback" not in r.stderr
