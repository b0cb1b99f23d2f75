"""``MultiTaskBase``: the one training base of every multi-task model.

Every model of the package (the shallow and deep Deep-AMTFL methods,
DMTRL's networks, DAMTL and its baselines) trains through the same two
steps, written once here, after Keras' own TensorFlow ``train_step``:

1. :meth:`step_forward` — one forward pass, returning the predictions the
   loss needs and the *extra* terms computed on the way (AMTFL's
   reconstruction error, DAMTL's ℓ1 and alignment terms). Returning them,
   rather than calling ``add_loss``, ties each term to its replica under
   ``tf.distribute``.
2. :meth:`step_loss` — the method's :meth:`objective` plus every layer
   loss in ``self.losses`` (kernel regularisers, ``add_loss`` of sub-layers),
   divided among the replicas like every replica-independent term.

``train_step`` and ``test_step`` both call exactly these two, so the loss
reported on validation data is the loss that is minimised, and nothing is
computed twice. Subclasses implement :meth:`step_forward`,
:meth:`objective` and :meth:`_features`; ``MTFL`` alone keeps its own
``train_step`` (its closed-form D-step).

Hyper-parameters (``HYPERPARAMETERS``: name → default) are non-trainable
scalar variables, ``self.hp``, so a grid search changes them with
:meth:`set_hyperparameters` and reuses one compiled step.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np
from keras import ops

from amtfl_tf.models.replicas import distribution
from amtfl_tf.validation import check_finite_array
from amtfl_tf.validation import check_id_array
from amtfl_tf.validation import check_nonnegative
from amtfl_tf.validation import check_numeric_array

#: above this many tasks the console progress line leaves out the per-task
#: losses (``task_loss_<t>``; they stay in the history and TensorBoard):
#: with 139 tasks Keras' line was 3,304 characters
CONSOLE_TASK_LIMIT = 10


class CompactProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar without the per-task losses, which a model with
    many tasks would print by the hundred on every update. Only the
    console line is filtered: the history and every other callback see
    the full logs."""

    @staticmethod
    def _compact(logs):
        return {k: v for k, v in (logs or {}).items()
                if not k.startswith(("task_loss_", "val_task_loss_"))}

    def on_train_batch_end(self, batch: int,
                           logs: dict[str, Any] | None = None) -> None:
        super().on_train_batch_end(batch, self._compact(logs))

    def on_test_batch_end(self, batch: int,
                          logs: dict[str, Any] | None = None) -> None:
        super().on_test_batch_end(batch, self._compact(logs))

    def on_epoch_end(self, epoch: int,
                     logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, self._compact(logs))

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        super().on_test_end(self._compact(logs))


class MultiTaskBase(keras.Model):
    """Base class of the multi-task models (see the module doc).

    Class attributes:
      HYPERPARAMETERS: name → default value of the method's
        hyper-parameters.
      DEFAULT_OPTIMIZER: the optimizer ``compile()`` uses when none is
        given.
      DEFAULT_JIT_COMPILE: ``compile()``'s default ``jit_compile``.
    """

    HYPERPARAMETERS: Mapping[str, float] = {}
    DEFAULT_OPTIMIZER = "adam"
    DEFAULT_JIT_COMPILE = "auto"

    # -- hyper-parameters ---------------------------------------------------

    def _init_hyperparameters(self, given) -> None:
        """Create ``self.hp`` from ``HYPERPARAMETERS`` and the given
        overrides (unknown names and negative values are errors)."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.HYPERPARAMETERS))
        if unknown:
            raise ValueError(
                f"Unknown hyper-parameter(s) for {type(self).__name__}: "
                f"{unknown}. Allowed: {sorted(self.HYPERPARAMETERS)}")
        self.hp = {}
        for name, default in self.HYPERPARAMETERS.items():
            value = check_nonnegative(name, given.get(name, default))
            self.hp[name] = self.add_weight(
                name=f"hp_{name}", shape=(),
                initializer=keras.initializers.Constant(value),
                trainable=False)

    def get_hyperparameters(self) -> dict[str, float]:
        return {k: float(ops.convert_to_numpy(v)) for k, v in self.hp.items()}

    def set_hyperparameters(self, **values: float) -> None:
        """Assign hyper-parameter values (no retracing of compiled steps)."""
        unknown = sorted(set(values) - set(self.hp))
        if unknown:
            raise ValueError(
                f"Unknown hyper-parameter(s) for {type(self).__name__}: "
                f"{unknown}. Allowed: {sorted(self.hp)}")
        for k, v in values.items():
            self.hp[k].assign(check_nonnegative(k, v))

    # -- to implement ---------------------------------------------------------

    def _features(self, inputs):
        """The model's input tensor of a batch (``x`` or ``x["x"]``),
        checked against the model's example shape."""
        raise NotImplementedError

    def step_forward(self, x: Any, y: Any,
                     training: bool) -> tuple[Any, Any]:
        """One forward pass of a step: ``(y_pred, extra)``."""
        raise NotImplementedError

    def objective(self, x: Any, y: Any, y_pred: Any, extra: Any,
                  sample_weight: Any = None) -> Any:
        """The method's loss of one replica's batch (a scalar), without
        the layer losses (:meth:`step_loss` adds those)."""
        raise NotImplementedError

    # -- numpy data, checked once per fit/evaluate/predict -------------------

    def check_data(self, x: Any, y: Any = None, name: str = "") -> None:
        """Check numpy data before Keras sees it (tensors, datasets and
        generators pass unchecked: their checks would cost every step).

        ``x`` (or ``x["x"]``) must be numeric and finite, task ids
        (``x["task"]``) whole numbers in ``[0, num_tasks)``, ``y`` numeric,
        finite and shaped as :meth:`check_targets` says. One NaN in ``x``
        otherwise turns every weight into NaN, and float task ids would be
        truncated. ``name`` prefixes the argument names (e.g.
        ``"validation_data "``). Raises ``ValueError``.
        """
        feats, task = ((x.get("x"), x.get("task")) if isinstance(x, Mapping)
                       else (x, None))
        if isinstance(feats, np.ndarray):
            check_numeric_array(f"{name}x", feats)
            check_finite_array(f"{name}x", feats)
        has_task = isinstance(x, Mapping) and "task" in x
        # tensor task ids are left to the step's own check
        task = check_id_array(f"{name}task", task.reshape(-1),
                              self.num_tasks, "task ids", "num_tasks") \
            if isinstance(task, np.ndarray) else None
        if isinstance(y, np.ndarray):
            check_numeric_array(f"{name}y", y)
            check_finite_array(f"{name}y", y)
            self.check_targets(y, task, has_task, name)

    def check_targets(self, y: np.ndarray, task: np.ndarray | None,
                      has_task: bool, name: str = "") -> None:
        """Model-specific checks of numpy targets ``y`` (``task``: the
        checked int64 task ids or None; ``has_task``: the inputs carry task
        ids). The base checks nothing."""

    def fit(self, x: Any = None, y: Any = None, *args: Any,
            **kwargs: Any) -> keras.callbacks.History:
        self.check_data(x, y)
        validation = kwargs.get("validation_data")
        if isinstance(validation, (tuple, list)) and len(validation) >= 2:
            self.check_data(validation[0], validation[1], "validation_data ")
        self._compact_progress(kwargs)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, *args: Any,
                 **kwargs: Any) -> Any:
        self.check_data(x, y)
        self._compact_progress(kwargs)
        return super().evaluate(x, y, *args, **kwargs)

    def _compact_progress(self, kwargs) -> None:
        """Give a many-task model's ``fit``/``evaluate`` the compact
        progress bar (:class:`CompactProgbarLogger`) unless the caller
        passed a progress bar of their own."""
        callbacks = kwargs.get("callbacks") or []
        if isinstance(callbacks, keras.callbacks.CallbackList):
            return  # fit's own validation pass: its progress bar is set
        callbacks = list(callbacks)
        if self.num_tasks <= CONSOLE_TASK_LIMIT or any(
                isinstance(c, keras.callbacks.ProgbarLogger)
                for c in callbacks):
            return
        kwargs["callbacks"] = callbacks + [CompactProgbarLogger()]

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        feats = x.get("x") if isinstance(x, Mapping) else x
        if isinstance(feats, np.ndarray):
            check_numeric_array("x", feats)
        return super().predict(x, *args, **kwargs)

    # -- the objective pipeline ---------------------------------------------

    def layer_loss(self) -> Any:
        """Σ ``self.losses`` (a scalar), or None when there are none."""
        losses = self.losses
        if not losses:
            return None
        return ops.sum([ops.cast(v, "float32") for v in losses])

    def step_loss(self, x: Any, y: Any, y_pred: Any, extra: Any,
                  sample_weight: Any = None) -> Any:
        """:meth:`objective` plus the layer losses, the latter divided by
        the number of replicas (their sum over replicas is one copy)."""
        total = self.objective(x, y, y_pred, extra, sample_weight)
        layer = self.layer_loss()
        if layer is not None:
            replicas, _ = distribution()
            total = total + ops.cast(layer, total.dtype) / replicas
        return total

    def compute_loss(self, x: Any = None, y: Any = None,
                     y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Any:
        """Keras' hook, for evaluating the objective outside a step: runs
        :meth:`step_forward` for the extra terms (and for ``y_pred`` when
        it is None) and returns :meth:`step_loss`. The train and test
        steps do not call it (they have the forward pass already)."""
        pred, extra = self.step_forward(x, y, training=training)
        return self.step_loss(x, y, pred if y_pred is None else y_pred,
                              extra, sample_weight)

    def compile(self, optimizer: Any = None, loss: Any = None,
                jit_compile: bool | str | None = None,
                **kwargs: Any) -> None:
        """Keras' ``compile`` without a loss (the model defines its own
        objective)."""
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} defines its own multi-task objective;"
                f" compile() takes no loss. Received: loss={loss!r}")
        super().compile(
            optimizer=self.DEFAULT_OPTIMIZER if optimizer is None
            else optimizer,
            jit_compile=self.DEFAULT_JIT_COMPILE if jit_compile is None
            else jit_compile, **kwargs)

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Recompile a loaded model with its saved optimizer and metrics."""
        config = keras.saving.deserialize_keras_object(config)
        config.pop("loss", None)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data: Any) -> dict[str, Any]:
        """Keras' TensorFlow ``train_step`` around :meth:`step_forward` and
        :meth:`step_loss`; loss scaling (mixed precision) and the loss
        tracker work as in Keras."""
        import tensorflow as tf

        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred, extra = self.step_forward(x, y, training=True)
            loss = self.step_loss(x, y, y_pred, extra, sw)
            self._track_loss(loss, x)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sw)

    def test_step(self, data: Any) -> dict[str, Any]:
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        y_pred, extra = self.step_forward(x, y, training=False)
        self._track_loss(self.step_loss(x, y, y_pred, extra, sw), x)
        return self.compute_metrics(x, y, y_pred, sample_weight=sw)

    def _track_loss(self, loss, x):
        replicas, _ = distribution()
        first = x["x"] if isinstance(x, Mapping) else x
        self._loss_tracker.update_state(loss * replicas,
                                        sample_weight=ops.shape(first)[0])

    # -- summary ------------------------------------------------------------

    def own_weights(self) -> list:
        """The model's weights that no sub-layer owns (a shallow model's
        basis, coefficients and biases), hyper-parameters excluded."""
        held = {id(w) for layer in self._flatten_layers(include_self=False)
                for w in layer.weights}
        hp = {id(v) for v in getattr(self, "hp", {}).values()}
        return [w for w in self.weights
                if id(w) not in held and id(w) not in hp]

    def summary(self, *args: Any,
                print_fn: Callable[..., Any] | None = None,
                **kwargs: Any) -> None:
        """Keras' summary, then the weights the model holds itself, which
        Keras' layer table does not list (its totals count them)."""
        super().summary(*args, print_fn=print_fn, **kwargs)
        own = self.own_weights()
        if not own:
            return
        out = print_fn or (lambda line, **_: print(line))
        count = sum(int(np.prod(w.shape)) for w in own)
        out(f" Weights of the model itself ({count:,} parameters; not in "
            "the layer table above):")
        for w in own:
            out(f"   {w.path:<32} {str(tuple(w.shape)):<14} "
                f"{int(np.prod(w.shape)):>10,}"
                f"{'' if w.trainable else '  (non-trainable)'}")

    # -- export -------------------------------------------------------------

    def serving_outputs(self, x: Any) -> Any:
        """What the SavedModel's ``serve`` endpoint returns for a batch of
        inputs ``x`` (raw outputs; subclasses return probabilities)."""
        return self(x, training=False)

    def serving_input_shape(self) -> tuple[int, ...]:
        """The shape of one input of the ``serve`` endpoint."""
        raise NotImplementedError

    def export_saved_model(self, path: str) -> str:
        """Write a TensorFlow SavedModel whose ``serve`` endpoint maps float32
        inputs ``(None, *serving_input_shape())`` to
        :meth:`serving_outputs`; it reloads with ``tf.saved_model.load``
        without amtfl_tf. Returns ``path``."""
        return write_saved_model(self, self.serving_outputs,
                                 self.serving_input_shape(), path)

    def extra_metrics(self) -> list:
        """The model's own metric trackers (per-task losses, terms)."""
        return []

    @property
    def metrics(self) -> list[Any]:
        return super().metrics + list(self.extra_metrics())


def write_saved_model(model: keras.Model, serve: Callable[[Any], Any],
                      example_shape: Sequence[int], path: str) -> str:
    """Write a SavedModel of ``model`` at ``path`` whose ``serve`` endpoint
    is ``serve(x)`` for float32 inputs ``(None, *example_shape)``; it
    reloads with ``tf.saved_model.load`` without amtfl_tf. Returns
    ``path``."""
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve", fn=serve,
        input_signature=[tf.TensorSpec((None, *example_shape), tf.float32,
                                       name="x")])
    archive.write_out(path, verbose=False)
    return path
