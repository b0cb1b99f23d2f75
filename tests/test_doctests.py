"""The examples in the layers' docstrings run as doctests (issue 21)."""

import doctest
import importlib
import os

import pytest

from conftest import REPO_ROOT

LAYERS = sorted(
    f[:-3] for f in os.listdir(os.path.join(REPO_ROOT, "amtfl_tf", "layers"))
    if f.endswith(".py") and not f.startswith("_"))


@pytest.mark.parametrize("name", LAYERS)
def test_layer_docstring_examples(name):
    import keras
    import numpy as np

    module = importlib.import_module(f"amtfl_tf.layers.{name}")
    result = doctest.testmod(
        module, extraglobs={"keras": keras, "np": np},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
    with open(module.__file__, encoding="utf-8") as f:
        if ">>>" in f.read():
            assert result.attempted > 0, name
