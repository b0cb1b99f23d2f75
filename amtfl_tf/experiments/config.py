"""The configuration every experiment takes: :class:`CommonConfig`.

The scripts' flags are turned into one by :func:`amtfl_tf.cli.common_config`
(the only place that reads flags); tests and notebooks build it directly::

    cfg = CommonConfig("table1", "smoke", data_dir, workdir, seed=0,
                       overwrite=False, jit_compile="auto")
    table1.run_dataset(cfg, "school")

Building a config has no side effect. Its run-time switches (strategy,
TensorBoard, checkpoints) become a :class:`~amtfl_tf.runtime.Runtime` when
an experiment starts (:meth:`CommonConfig.runtime`, entered by the
:func:`uses_runtime` decorator of every experiment's ``run``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

from amtfl_tf import runtime as runtime_lib

PROFILES = ("smoke", "quick", "faithful", "paper")
#: The profiles whose outputs the report reads, most faithful first.
REPORTED_PROFILES = ("paper", "faithful", "quick")


@dataclasses.dataclass(frozen=True)
class CommonConfig:
    """The common settings of one script run."""

    experiment: str
    profile: str
    data_dir: str | None
    workdir: str
    seed: int
    overwrite: bool
    jit_compile: bool | str  # True, False or "auto"
    download: bool = True
    deterministic: bool = False
    tensorboard: bool = False
    strategy: str = "default"
    checkpoint: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def runtime(self) -> runtime_lib.Runtime:
        """This run's :class:`~amtfl_tf.runtime.Runtime`, made on first use
        and kept (a strategy is made once per process run)."""
        rt = self.__dict__.get("_runtime")
        if rt is None:
            from amtfl_tf import distribute
            rt = runtime_lib.Runtime(
                strategy=distribute.make_strategy(self.strategy),
                tensorboard_root=os.path.join(self.workdir, "tensorboard")
                if self.tensorboard else None,
                checkpoint_root=os.path.join(self.workdir, "checkpoints")
                if self.checkpoint else None)
            object.__setattr__(self, "_runtime", rt)
        return rt

    def activate(self):
        """``with cfg.activate():`` — the run's switches apply inside."""
        return runtime_lib.activate(self.runtime())


def uses_runtime(fn):
    """Decorator of an experiment's ``run(cfg, ...)``: runs it inside
    ``cfg.activate()``."""
    @functools.wraps(fn)
    def wrapper(cfg, *args, **kwargs):
        with cfg.activate():
            return fn(cfg, *args, **kwargs)
    return wrapper
