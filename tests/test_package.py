"""Packaging and project rules."""

import ast
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO_ROOT

PKG = os.path.join(REPO_ROOT, "amtfl_tf")


def _modules():
    for root, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                yield os.path.join(root, f)


def test_library_never_reads_absl_flags():
    """Only amtfl_tf/cli.py may import absl.flags (scripts own the flags)."""
    offenders = []
    for path in _modules():
        if path.endswith(os.path.join("amtfl_tf", "cli.py")):
            continue
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            if any(n.startswith("absl.flags") or n == "absl.flags"
                   for n in names):
                offenders.append(path)
    assert offenders == []


@pytest.mark.large
def test_import_does_not_pull_tensorflow():
    code = ("import sys, amtfl_tf, amtfl_tf.datasets, amtfl_tf.results, "
            "amtfl_tf.published, amtfl_tf.metrics, amtfl_tf.experiments; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.large
def test_wheel_installs_and_imports_from_anywhere(tmp_path):
    """`pip install .` builds a wheel with every subpackage; it imports
    from an unrelated directory."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "--no-build-isolation", "-w", str(tmp_path / "wheel"), REPO_ROOT],
        check=True, capture_output=True)
    (wheel,) = os.listdir(tmp_path / "wheel")
    names = zipfile.ZipFile(tmp_path / "wheel" / wheel).namelist()
    for sub in ("datasets/mnist.py", "results.py", "published.py",
                "layers/__init__.py", "experiments/runner.py", "py.typed"):
        assert f"amtfl_tf/{sub}" in names
    assert not [n for n in names if n.startswith(("tests/",
                                                  "reproductions/"))]
    target = tmp_path / "site"
    with zipfile.ZipFile(tmp_path / "wheel" / wheel) as z:
        z.extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run(
        [sys.executable, "-I", "-c",
         f"import sys; sys.path.insert(0, {str(target)!r}); "
         "import amtfl_tf.datasets as d; print(d.__file__, d.names())"],
        cwd=elsewhere, capture_output=True, text=True, check=True)
    assert str(target) in out.stdout and "'school'" in out.stdout


@pytest.mark.parametrize("path", ["run_all.sh", "run_tests.sh", ".ci/run"])
def test_entry_points_are_executable(path):
    assert os.access(os.path.join(REPO_ROOT, path), os.X_OK)


def test_run_tests_names_a_bad_worker_count_before_any_setup():
    """run_tests.sh runs the tests in parallel (pytest-xdist, pinned); a
    worker count that is neither 'auto' nor a number is one clear line,
    before the virtual environment is touched."""
    env = dict(os.environ, AMTFL_TF_TEST_WORKERS="two",
               AMTFL_TF_VENV="/nonexistent/venv")
    r = subprocess.run([os.path.join(REPO_ROOT, "run_tests.sh")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == ("run_tests.sh: AMTFL_TF_TEST_WORKERS must be "
                                "'auto' or a count. Received: 'two'")
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as f:
        assert "pytest-xdist==" in f.read()


def test_readme_shows_the_two_commands():
    readme = open(os.path.join(REPO_ROOT, "README.md")).read()
    assert "./run_all.sh" in readme and "./run_tests.sh" in readme


def test_import_graph_has_no_cycle_upward_arrow_or_private_import():
    """tools/import_graph.py: no import cycle (lazy imports included), no
    library module imports the script layer (cli.py), no module imports
    another's underscore name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "import_graph", os.path.join(REPO_ROOT, "tools", "import_graph.py"))
    graph = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graph)
    assert graph.problems() == []
    assert "amtfl_tf.cli" not in set().union(*[
        v for k, v in graph.edges(graph.modules()).items()
        if k != "amtfl_tf.cli"])


def test_packaging_extras_licence_and_changelog():
    """TensorFlow comes from an extra ([cpu] or [and-cuda]), not a core
    dependency that pulls the CUDA wheel; the Apache-2.0 the metadata
    states is in LICENSE; the version is one, in pyproject and the
    package."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    import amtfl_tf

    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)["project"]
    deps = " ".join(meta["dependencies"])
    assert "tensorflow" not in deps
    extras = meta["optional-dependencies"]
    assert extras["cpu"] == ["tensorflow-cpu>=2.16"]
    assert extras["and-cuda"] == ["tensorflow[and-cuda]>=2.16"]
    assert meta["license"] == {"text": "Apache-2.0"}
    with open(os.path.join(REPO_ROOT, "LICENSE")) as f:
        text = f.read()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert meta["version"] == amtfl_tf.__version__
    assert os.path.exists(os.path.join(REPO_ROOT, "CHANGELOG.md"))


@pytest.mark.large
def test_api_reference_builds_from_the_docstrings(tmp_path):
    """pdoc (a well-kept generator) renders every public module from its
    docstrings without an import error, so the reference cannot rot."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-m", "pdoc", "amtfl_tf", "-o",
                        str(tmp_path)], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Error importing" not in r.stderr, r.stderr
    for page in ("layers.html", "models.html", "verdicts.html",
                 "tensor.html", "datasets.html"):
        assert (tmp_path / "amtfl_tf" / page).exists(), page
    layers = (tmp_path / "amtfl_tf" / "layers.html").read_text()
    assert "AsymmetricFeedback" in layers and "reconstruct_from_features" \
        in layers
