"""The run-time switches of one experiment run, held by a :class:`Runtime`
object rather than by module globals.

A :class:`Runtime` carries what every fit of a run shares: the
``tf.distribute`` strategy, the TensorBoard and checkpoint folders, and the
split being computed with the number of fits it has started (which names
each fit's checkpoint folder). The experiments' configuration builds one
(:meth:`amtfl_tf.experiments.config.CommonConfig.runtime`) and an
experiment's ``run`` enters it with :func:`activate`; the library code that
builds models and callbacks (:func:`amtfl_tf.distribute.scope`,
:func:`amtfl_tf.callbacks.training_callbacks`) reads the active one. Outside
``activate`` the default applies: no strategy, no TensorBoard, no
checkpoints. The active runtime lives in a ``contextvars.ContextVar``, so
leaving ``activate`` restores the previous one (tests cannot leak it).

    rt = Runtime(tensorboard_root="/tmp/tb")
    with activate(rt):
        model.fit(..., callbacks=training_callbacks("stl", "hint"))
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any, Iterator


@dataclasses.dataclass
class Runtime:
    """The switches of one run (see the module doc).

    Attributes:
      strategy: a ``tf.distribute.Strategy``, or None for the default.
      tensorboard_root: folder of the TensorBoard logs of every fit, or None.
      checkpoint_root: folder of the per-epoch checkpoints of every fit, or
        None.
      split_key: the split being computed (set by :meth:`begin_split`).
      fits: fits started in that split.
    """

    strategy: Any = None
    tensorboard_root: str | None = None
    checkpoint_root: str | None = None
    split_key: str | None = None
    fits: int = 0

    def begin_split(self, key: str) -> None:
        """Fits are numbered from 1 within each split, so a restarted
        process finds the checkpoint of the fit it was in."""
        self.split_key = key
        self.fits = 0

    def next_fit(self) -> int:
        """Count one more fit of the current split; returns its number."""
        self.fits += 1
        return self.fits


_ACTIVE: contextvars.ContextVar[Runtime | None] = contextvars.ContextVar(
    "amtfl_tf_runtime", default=None)


def active() -> Runtime:
    """The runtime entered with :func:`activate` (innermost), or a fresh
    default one."""
    rt = _ACTIVE.get()
    return rt if rt is not None else Runtime()


@contextlib.contextmanager
def activate(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` the active one inside the ``with`` block."""
    if not isinstance(runtime, Runtime):
        raise TypeError(f"runtime must be a Runtime. Received: "
                        f"runtime={runtime!r}")
    token = _ACTIVE.set(runtime)
    try:
        yield runtime
    finally:
        _ACTIVE.reset(token)
