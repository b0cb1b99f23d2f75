"""Input checks of the layers that take a list of T task streams
(:class:`~amtfl_tf.layers.CrossStitch`, :class:`~amtfl_tf.layers.NDDR`)."""

from __future__ import annotations

from typing import Sequence


def check_task_shapes(layer: object,
                      input_shape: Sequence[Sequence[int | None]]
                      ) -> tuple[int, int]:
    """T >= 2 inputs of one shape with a known last axis; returns T, C."""
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2 \
            or not all(isinstance(s, (list, tuple)) for s in input_shape):
        raise ValueError(
            f"{type(layer).__name__} expects a list of >= 2 task inputs. "
            f"Received: input_shape={input_shape}")
    shapes = [tuple(s) for s in input_shape]
    if any(s[1:] != shapes[0][1:] for s in shapes):
        raise ValueError(
            f"{type(layer).__name__}: every task input must have the same "
            f"shape. Received: input_shape={input_shape}")
    if shapes[0][-1] is None:
        raise ValueError(
            f"{type(layer).__name__}: the last axis must be known. "
            f"Received: input_shape={input_shape}")
    return len(shapes), int(shapes[0][-1])
