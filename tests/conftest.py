"""Shared fixtures. Dataset tests need AMTFL_TF_DATA_DIR (CI sets it to
../shared/data); they are skipped when it is unset and fail loudly when it
is set but the data are not there."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the tests run what the scripts run (amtfl_tf/cli.py): TensorFlow's oneDNN
# kernels on where TensorFlow leaves them off (CPUs without AVX-512);
# tests/test_onednn_opts.py compares the two settings in subprocesses
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def data_dir():
    path = os.environ.get("AMTFL_TF_DATA_DIR")
    if not path:
        pytest.skip("AMTFL_TF_DATA_DIR is not set")
    path = os.path.abspath(path)
    missing = [d for d in ("mnist", "omniglot", "school")
               if not os.path.isdir(os.path.join(path, d))]
    if missing:
        pytest.fail(f"AMTFL_TF_DATA_DIR={path} lacks {missing}")
    return path


@pytest.fixture(autouse=True)
def _no_user_data_dir(monkeypatch, tmp_path_factory):
    """Tests never fall back to (or download into) the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME",
                       str(tmp_path_factory.mktemp("xdg_cache")))
