"""The shared absl flag set."""

import os

import pytest
from absl import flags

from amtfl_tf import cli


def _flags(*args):
    fv = flags.FlagValues()
    cli.define_common_flags(fv)
    fv(["prog", *args])
    return fv


def test_defaults():
    cfg = cli.common_config(_flags(), "table1", ["prog"])
    assert cfg.profile == "quick" and cfg.seed == 0
    assert cfg.overwrite is False and cfg.jit_compile == "auto"
    assert cfg.data_dir is None and cfg.download is True
    assert cfg.workdir.endswith(os.path.join("figures", "quick", "table1"))


def test_values(tmp_path):
    fv = _flags("--profile=smoke", f"--workdir={tmp_path}", "--seed=7",
                "--overwrite", "--jit_compile=false", "--data_dir=/d")
    cfg = cli.common_config(fv, "x")
    assert (cfg.profile, cfg.seed, cfg.overwrite, cfg.jit_compile,
            cfg.data_dir, cfg.workdir) == ("smoke", 7, True, False, "/d",
                                           str(tmp_path))
    assert cli.flags_dict(fv, "prog")["seed"] == 7


def test_bad_profile_rejected():
    with pytest.raises(flags.IllegalFlagValueError):
        _flags("--profile=huge")


def test_stray_argv_and_negative_seed():
    with pytest.raises(ValueError, match="extra"):
        cli.common_config(_flags(), "x", ["prog", "extra"])
    with pytest.raises(ValueError, match="seed=-1"):
        cli.common_config(_flags("--seed=-1"), "x")


def test_bad_default_profile():
    with pytest.raises(ValueError, match="default_profile='fast'"):
        cli.define_common_flags(flags.FlagValues(), default_profile="fast")


def test_damtl_and_dmtrl_flag_choices_match_the_settings():
    from amtfl_tf.experiments.damtl import common as damtl_common
    from amtfl_tf.experiments.dmtrl import common as dmtrl_common
    kinds = {name: kind for name, kind, _ in cli._DAMTL_FLAGS}
    assert kinds["optimizer"] == "enum:" + ",".join(damtl_common.OPTIMIZERS)
    kinds = {name: kind for name, kind, _ in cli._DMTRL_FLAGS}
    assert kinds["optimizer"] == "enum:" + ",".join(dmtrl_common.OPTIMIZERS)
    assert kinds["stl_init"] == "enum:" + ",".join(dmtrl_common.STL_INITS)
