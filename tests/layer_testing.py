"""Shared layer checks built on Keras' own ``TestCase.run_layer_test``.

:func:`check_layer` runs ``keras.src.testing.TestCase.run_layer_test``
(Keras 3.15), which checks, for one layer class and its constructor
arguments:

- ``get_config`` / ``from_config`` and ``serialize_keras_object`` /
  ``deserialize_keras_object`` round trips (same config, same attributes);
- ``build(input_shape)``, a symbolic call and an eager call: the expected
  numbers of trainable and non-trainable weights, of non-trainable
  variables and of seed generators; the output shapes (and values when
  ``expected_output`` is given); the number of ``add_loss`` losses;
- a training step (``run_training_check``): the layer in a one-layer
  ``keras.Model``, ``compile(optimizer="sgd", jit_compile="auto")`` and
  ``fit`` one step with the loss ``sum(y_pred)``;
- mixed precision (``run_mixed_precision_check``): the layer built with
  ``dtype="mixed_float16"`` gives the output dtype its
  ``compute_output_spec`` announces and keeps float32 weights.

On top of it, :func:`check_layer` checks that every trainable weight gets a
finite, non-zero gradient (``check_gradients``), which Keras' training step
does not verify.

**List inputs** (CrossStitch and NDDR take a list of T tensors,
AsymmetricFeedback ``[z, logits]``). ``run_layer_test`` builds and calls
such layers fine, but its training step feeds ``(x, y)`` through a Python
generator into ``tf.data.Dataset.from_generator``, which rejects Python
lists inside the structure (``TypeError: `output_signature` must contain
objects that are subclass of `tf.TypeSpec` but found <class 'list'>``).
So:

- list inputs go to ``run_layer_test`` as a *tuple* of shapes / arrays
  (tf.data accepts tuples; the layers take any sequence), which makes
  Keras' own training step work for a list-input layer with one output
  tensor (AsymmetricFeedback);
- a layer that *returns* a list (CrossStitch, NDDR) makes ``y`` of that
  step a list as well, which no input conversion can avoid, so for those
  ``run_layer_test`` runs with ``run_training_check=False`` and
  :func:`fit_one_step` does the same step here instead: the layer in a
  thin model that concatenates its flattened outputs, the same
  ``compile(optimizer="sgd", jit_compile="auto")`` and loss ``sum(y_pred)``,
  and ``fit`` one step on in-memory arrays (no generator).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from keras.src.testing import TestCase


class _LayerTestCase(TestCase):
    """A bare ``TestCase`` whose assertion methods ``check_layer`` uses
    (``TestCase.setUp`` is not run: it clears the Keras session and turns
    traceback filtering off for the whole process)."""

    def runTest(self):  # pragma: no cover - never run as a test
        pass


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        v is None or isinstance(v, (int, np.integer)) for v in value)


def is_multi_input(input_shape=None, input_data=None):
    """Whether the layer takes a list of tensors."""
    if input_shape is not None:
        return isinstance(input_shape, (list, tuple)) and len(
            input_shape) > 0 and not _is_shape(input_shape)
    return isinstance(input_data, (list, tuple))


def make_input_data(input_shape, seed=0, dtype="float32"):
    """Seeded N(0, 1) arrays of ``input_shape`` (a shape or a sequence of
    shapes; a sequence gives a list)."""
    rng = np.random.default_rng(seed)
    if is_multi_input(input_shape=input_shape):
        return [rng.normal(size=tuple(s)).astype(dtype)
                for s in input_shape]
    return rng.normal(size=tuple(input_shape)).astype(dtype)


def _flat_outputs(outputs):
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [
        outputs]
    return [ops.reshape(o, (ops.shape(o)[0], -1)) for o in outs]


class _SumOfOutputs(keras.Model):
    """One layer; its (list of) outputs flattened and concatenated."""

    def __init__(self, layer, call_kwargs=None):
        super().__init__(name="sum_of_outputs")
        self.layer = layer
        self.call_kwargs = dict(call_kwargs or {})

    def call(self, x, training=False):
        outputs = self.layer(list(x) if isinstance(x, (list, tuple)) else x,
                             training=training, **self.call_kwargs)
        return ops.concatenate(_flat_outputs(outputs), axis=-1)


class _SumLoss(keras.losses.Loss):
    """Keras' training-check loss: ``sum(y_pred)``."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        return ops.sum(y_pred)


def fit_one_step(layer_cls, init_kwargs, input_data, call_kwargs=None):
    """Keras' ``run_layer_test`` training step for layers with list
    outputs: ``fit`` one step with SGD, ``jit_compile="auto"`` and the
    loss ``sum(y_pred)``, on in-memory arrays. Returns the loss."""
    layer = layer_cls(**init_kwargs)
    model = _SumOfOutputs(layer, call_kwargs)
    x = tuple(input_data) if isinstance(input_data, (list, tuple)) \
        else input_data
    y = np.zeros_like(np.asarray(model(x)))
    model.compile(optimizer="sgd", loss=_SumLoss(), jit_compile="auto")
    history = model.fit(x, y, batch_size=len(y), epochs=1, verbose=0)
    loss = history.history["loss"][0]
    if not np.isfinite(loss):
        raise AssertionError(f"{layer_cls.__name__}: one fit step gave a "
                             f"non-finite loss {loss}")
    return loss


def check_gradients(layer_cls, init_kwargs, input_data, call_kwargs=None,
                    seed=1):
    """Every trainable weight gets a finite, non-zero gradient of a random
    linear function of the outputs (``training=True``)."""
    layer = layer_cls(**init_kwargs)
    x = list(input_data) if isinstance(input_data, (list, tuple)) \
        else input_data
    layer(x, **dict(call_kwargs or {}))  # build
    rng = np.random.default_rng(seed)
    with tf.GradientTape() as tape:
        outs = _flat_outputs(layer(x, training=True,
                                   **dict(call_kwargs or {})))
        loss = 0.0
        for o in outs:
            r = rng.normal(size=tuple(o.shape)).astype(
                keras.backend.standardize_dtype(o.dtype))
            loss = loss + ops.sum(o * r)
    grads = tape.gradient(loss, layer.trainable_weights)
    problems = []
    for w, g in zip(layer.trainable_weights, grads):
        if g is None:
            problems.append(f"{w.path}: no gradient")
            continue
        g = np.asarray(g)
        if not np.all(np.isfinite(g)):
            problems.append(f"{w.path}: non-finite gradient")
        elif not np.any(g != 0):
            problems.append(f"{w.path}: zero gradient")
    if problems:
        raise AssertionError(f"{layer_cls.__name__}: " + "; ".join(problems))


def check_layer(layer_cls, init_kwargs, *, input_shape=None,
                input_data=None, expected_output_shape=None,
                expected_output=None, expected_num_trainable_weights,
                expected_num_non_trainable_weights=0,
                expected_num_non_trainable_variables=None,
                expected_num_seed_generators=0, expected_num_losses=None,
                call_kwargs=None, run_training_check=True,
                run_mixed_precision_check=True, gradients=True,
                **run_layer_test_kwargs):
    """``run_layer_test`` for ``layer_cls(**init_kwargs)`` (see the module
    doc), list inputs and list outputs included, plus the gradient check.

    Args:
      layer_cls, init_kwargs: the layer.
      input_shape: a shape, or a list of shapes for a list-input layer
        (then the layer gets a list of tensors); or
      input_data: an array or a list of arrays.
      expected_output_shape: a shape, or a list of shapes for a layer that
        returns a list (``None`` entries match anything).
      expected_output: exact expected values (with ``input_data`` only).
      expected_num_trainable_weights: required: the exact count.
      expected_num_non_trainable_weights: exact count (default 0).
      expected_num_non_trainable_variables: exact count (default: not
        checked beyond Keras' own estimate).
      expected_num_seed_generators: exact count (default 0).
      expected_num_losses: ``add_loss`` losses of one eager call.
      call_kwargs: extra call arguments.
      run_training_check, run_mixed_precision_check: as in
        ``run_layer_test``; turn one off only with a comment saying why.
      gradients: run :func:`check_gradients`.
      **run_layer_test_kwargs: passed on (e.g. ``custom_objects``).
    """
    if (input_shape is None) == (input_data is None):
        raise ValueError("give exactly one of input_shape and input_data")
    multi = is_multi_input(input_shape, input_data)
    if input_data is None:
        data = make_input_data(input_shape)
    else:
        data = input_data
    shape_arg, data_arg = input_shape, input_data
    if multi:  # tf.data rejects lists in the training check (module doc)
        if shape_arg is not None:
            shape_arg = tuple(tuple(s) for s in shape_arg)
        else:
            data_arg = tuple(data_arg)
    probe = layer_cls(**init_kwargs)(list(data) if multi else data,
                                     **dict(call_kwargs or {}))
    list_output = isinstance(probe, (list, tuple))
    if list_output and expected_output is not None:
        expected_output = list(expected_output)

    case = _LayerTestCase()
    case.run_layer_test(
        layer_cls, init_kwargs, input_shape=shape_arg, input_data=data_arg,
        call_kwargs=call_kwargs,
        expected_output_shape=expected_output_shape,
        expected_output=expected_output,
        expected_num_trainable_weights=expected_num_trainable_weights,
        expected_num_non_trainable_weights=(
            expected_num_non_trainable_weights),
        expected_num_non_trainable_variables=(
            expected_num_non_trainable_variables),
        expected_num_seed_generators=expected_num_seed_generators,
        expected_num_losses=expected_num_losses,
        run_training_check=run_training_check and not list_output,
        run_mixed_precision_check=run_mixed_precision_check,
        **run_layer_test_kwargs)
    if run_training_check and list_output:
        fit_one_step(layer_cls, init_kwargs, data, call_kwargs)
    if gradients:
        check_gradients(layer_cls, init_kwargs, data, call_kwargs)
