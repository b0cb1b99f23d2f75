"""What the two DAMTL experiments share (the Omniglot proxy,
:mod:`amtfl_tf.experiments.damtl.omniglot`, and the real-data tables,
:mod:`amtfl_tf.experiments.damtl.tables`): the training settings of the
seven methods, auxiliary pre-training (cached), and one draw's training
and evaluation. The Tables 4–7 / Figs. 4–6 outputs are in
:mod:`amtfl_tf.experiments.damtl.reporting`.

Every method sees the same data, the same optimiser, iterations and task
weight α, and starts from the same pre-trained auxiliary network (DAMTL
by construction; the baselines fine-tune its conv and hidden FC layers,
as their reference implementations fine-tune a pre-trained VGG). See
docs/damtl.md for every choice the paper leaves open.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Any, Callable, Sequence

import numpy as np

from amtfl_tf import distribute
from amtfl_tf import input_pipeline
from amtfl_tf.callbacks import training_callbacks
from amtfl_tf.results import atomic_write_json

METHODS = ("single", "multi", "cross_stitch", "nddr", "mtal", "damtl",
           "damtl_fa", "damtl_rh")
PAPER_NAMES = {"single": "Single-Task", "multi": "Multi-task",
               "cross_stitch": "Cross-Stitch", "nddr": "NDDR-CNN",
               "mtal": "MTAL", "damtl": "DAMTL", "damtl_fa": "DAMTL_Fa",
               "damtl_rh": "DAMTL (random head)",
               "single_rh": "Single-Task (random head)",
               "multi_rh": "Multi-task (random head)",
               "cross_stitch_rh": "Cross-Stitch (random head)",
               "nddr_rh": "NDDR-CNN (random head)",
               "mtal_rh": "MTAL (random head)"}
TABLE_METHODS = METHODS[:6]           # Tables 4-5
ABLATION_METHODS = ("damtl", "damtl_fa")  # Tables 6-7
#: Our control arm, not in the paper: DAMTL with its output layers started
#: at random like the baselines' (``head_init="random"``), so that DAMTL
#: and the baselines can be compared at equal initialisation.
CONTROL_METHODS = ("damtl_rh",)
DAMTL_METHODS = ("damtl", "damtl_fa", "damtl_rh")
#: The paper's setting beside the controlled comparison: each baseline
#: with its output layer at random N(0, 0.01²) (as its reference
#: implementation starts a new head), run when the baselines' own heads
#: start from the auxiliary network (``baseline_head_init="aux"``).
PAPER_SETTING_METHODS = ("single_rh", "multi_rh", "cross_stitch_rh",
                         "nddr_rh", "mtal_rh")
COLORS = {"single": "tab:gray", "multi": "tab:blue",
          "cross_stitch": "tab:orange", "nddr": "tab:purple",
          "mtal": "tab:brown", "damtl": "tab:red", "damtl_fa": "tab:pink",
          "damtl_rh": "tab:olive", "single_rh": "silver",
          "multi_rh": "lightsteelblue", "cross_stitch_rh": "navajowhite",
          "nddr_rh": "plum", "mtal_rh": "rosybrown"}
OPTIMIZERS = ("sgd", "momentum", "adam")
BASELINE_INITS = ("aux", "random")


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """How every method is trained (defaults: the paper's Sec. 4.3 values
    where it gives them, our choices elsewhere; docs/damtl.md)."""

    epochs: int = 150            # iterations of Eq. (5) with full batches
    batch_size: int = 0          # 0: full batch (Eq. 4 sums over N_j)
    optimizer: str = "momentum"  # SGD with momentum 0.9 (not stated)
    learning_rate: float = 0.01  # η (paper)
    momentum: float = 0.9
    alpha: float = 0.01          # α_{T_j} (paper)
    lambda1: float = 0.9         # λ₁ (paper)
    lambda2: float = 0.9         # λ₂ (paper); DAMTL_Fa: 0
    ce_reduction: str = "sum"    # Eq. (4) sums CE over the task's samples
    l1_reduction: str = "mean"   # ‖Ψ‖₁ per mask entry (sum swamps CE)
    mask_granularity: str = "weight"
    mask_parameterization: str = "constraint"
    mask_init_low: float = 0.9
    mask_init_high: float = 1.1
    train_conv: bool = True      # Algorithm 1 updates W_{T_j}
    train_aux_fc: bool = False   # f_aux frozen (not in Algorithm 1's output)
    head_init: str = "aux"
    head_stddev: float = 0.01    # new output layers ~ N(0, 0.01²)
    align_layers: str = "all"
    cmmd_kernel: str = "multi_gaussian"
    cmmd_num_kernels: int = 5
    cmmd_kernel_mul: float = 2.0
    baseline_init: str = "aux"
    #: the baselines' output layers: "random" (N(0, head_stddev²), the
    #: first protocol) or "aux" (the auxiliary classifier's columns of each
    #: task's classes, DAMTL's start: the controlled comparison)
    baseline_head_init: str = "random"
    cross_stitch_granularity: str = "channel"
    cross_stitch_positions: str = "all"
    nddr_positions: str = "conv"
    nddr_momentum: float = 0.9   # BN moving statistics (Keras: 0.99)
    # the NDDR units' batch normalisation (the original's; see
    # DAMTLBaseline: False fits a backbone without batch normalisation)
    nddr_batch_norm: bool = True
    mtal_threshold: float = 0.8
    mtal_pairs: str = "all"
    aux_epochs: int = 30
    aux_batch_size: int = 64
    aux_learning_rate: float = 3e-4

    def __post_init__(self):
        for name in ("epochs", "aux_epochs", "aux_batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1. Received: "
                                 f"{name}={v!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise ValueError("batch_size must be an int >= 0 (0: full "
                             f"batch). Received: batch_size="
                             f"{self.batch_size!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}. "
                             f"Received: optimizer={self.optimizer!r}")
        for name in ("baseline_init", "baseline_head_init"):
            if getattr(self, name) not in BASELINE_INITS:
                raise ValueError(
                    f"{name} must be one of {BASELINE_INITS}. Received: "
                    f"{name}={getattr(self, name)!r}")
        if self.baseline_head_init == "aux" and self.baseline_init != "aux":
            raise ValueError(
                "baseline_head_init='aux' needs baseline_init='aux' (an "
                "auxiliary head on a random backbone means nothing). "
                f"Received: baseline_init={self.baseline_init!r}")
        for name in ("learning_rate", "aux_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0. Received: "
                                 f"{name}={getattr(self, name)!r}")


TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainSettings))


def methods_for(s: TrainSettings) -> tuple[str, ...]:
    """The methods one draw trains. ``baseline_head_init="aux"`` (the
    controlled comparison: every output layer from the auxiliary
    network): the six of Tables 4–5 and DAMTL_Fa, and beside them the
    paper's setting (:data:`PAPER_SETTING_METHODS`). ``"random"`` (the
    first protocol): :data:`METHODS`, with DAMTL's random-head control
    arm."""
    if s.baseline_head_init == "aux":
        return TABLE_METHODS + ABLATION_METHODS[1:] + PAPER_SETTING_METHODS
    return METHODS


def base_method(method: str) -> str:
    """The model a method name builds (``single_rh`` → ``single``)."""
    return method[:-3] if method in PAPER_SETTING_METHODS else method


#: Settings added after records were first made, with the value those
#: records were made under: at that value they stay out of the run
#: fingerprint, so the earlier records stay valid (``train.`` = a
#: :class:`TrainSettings` field).
LATER_OPTIONS = {"train.baseline_head_init": "random",
                 "train.nddr_batch_norm": True,
                 "test_images": "own"}


def fingerprint_settings(settings) -> dict[str, Any]:
    """An experiment's settings (a dataclass with ``time_json`` and a
    ``train`` :class:`TrainSettings`) as its run fingerprint: without
    ``time_json`` (read by the claims only, after the draws) and without
    the :data:`LATER_OPTIONS` at their earlier values."""
    out = dataclasses.asdict(settings)
    out.pop("time_json")
    for name, earlier in LATER_OPTIONS.items():
        *parent, key = name.split(".")
        holder = out[parent[0]] if parent else out
        if key in holder and holder[key] == earlier:
            del holder[key]
    return out


@dataclasses.dataclass
class TaskProblem:
    """One draw: two (or more) tasks with task-local labels.

    ``x_*`` float32 images ``(N, H, W, C)`` in [0, 1]; ``task_*`` and
    ``y_*`` int ``(N,)``; ``class_map[j][c]`` is the auxiliary class of
    task j's class c.
    """

    x_train: np.ndarray
    task_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    task_test: np.ndarray
    y_test: np.ndarray
    num_classes: list[int]
    class_map: list[list[int]]
    task_names: list[str]
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.x_train.shape[1:])


def stratified_split(labels: np.ndarray, train_fraction: float,
                     rng: np.random.Generator) -> tuple[np.ndarray,
                                                        np.ndarray]:
    """Indices of a per-class ``train_fraction`` / rest split (at least
    one training and, where a class has two or more images, one test
    image per class)."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1). Received: "
                         f"train_fraction={train_fraction!r}")
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(train_fraction * len(idx)))
        n = min(max(n, 1), max(len(idx) - 1, 1))
        train.append(idx[:n])
        test.append(idx[n:])
    return np.concatenate(train), np.concatenate(test)


# --------------------------------------------------------------------------
# Auxiliary network


def auxiliary_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()
                          ).hexdigest()[:16]


def pretrain_auxiliary(x, y, num_classes: int, conv_blocks, fc_units,
                       s: TrainSettings, seed: int,
                       cache_dir: str | None = None,
                       fingerprint: dict[str, Any] | None = None,
                       overwrite: bool = False, heldout=None,
                       log: Callable[[str], None] = print):
    """Train (or load from ``cache_dir``) the auxiliary VGG classifier.

    The weights are cached as ``aux-<hash>.weights.h5`` beside a JSON of
    their statistics; the hash covers ``fingerprint``, the architecture,
    the settings and the seed, so a changed setting never reuses them.
    ``heldout = (x, y)`` adds a held-out accuracy to the statistics.
    Returns ``(model, info)``.
    """
    import keras
    import tensorflow as tf

    from amtfl_tf.models import build_vgg

    key = auxiliary_key({
        "fingerprint": fingerprint or {}, "num_classes": int(num_classes),
        "conv_blocks": conv_blocks, "fc_units": fc_units, "seed": seed,
        "n": int(len(y)), "epochs": s.aux_epochs,
        "batch_size": s.aux_batch_size, "lr": s.aux_learning_rate})
    keras.utils.set_random_seed(seed)
    with distribute.scope():
        model = build_vgg(x.shape[1:], num_classes, conv_blocks, fc_units)
    paths = None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        paths = (os.path.join(cache_dir, f"aux-{key}.weights.h5"),
                 os.path.join(cache_dir, f"aux-{key}.json"))
        if not overwrite and all(os.path.exists(p) for p in paths):
            model.load_weights(paths[0])
            with open(paths[1]) as f:
                info = json.load(f)
            log(f"auxiliary network: reusing {paths[0]} "
                f"(trained {info['train_seconds']:.0f}s)")
            return model, {**info, "reused": True}
    with distribute.scope():
        model.compile(keras.optimizers.Adam(s.aux_learning_rate),
                      keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True), metrics=["accuracy"])
    n = len(y)
    ds = input_pipeline.untuned(tf.data.Dataset.from_tensor_slices(
        (x, y)).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(
        s.aux_batch_size))
    log(f"auxiliary network: {num_classes} classes, {n} images, "
        f"{s.aux_epochs} epochs")
    start = time.perf_counter()
    hist = model.fit(ds, epochs=s.aux_epochs, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    info = {"key": key, "num_classes": int(num_classes),
            "train_images": int(n), "train_seconds": seconds,
            "train_accuracy": float(hist.history["accuracy"][-1]),
            "train_loss": [float(v) for v in hist.history["loss"]]}
    if heldout is not None:
        pred = model.predict(heldout[0], batch_size=512, verbose=0)
        info["heldout_accuracy"] = float(np.mean(pred.argmax(1)
                                                 == heldout[1]))
        info["heldout_images"] = int(len(heldout[1]))
    log(f"auxiliary network: train acc {info['train_accuracy']:.3f}"
        + (f", held-out acc {info['heldout_accuracy']:.3f}"
           if heldout is not None else "") + f" ({seconds:.0f}s)")
    if paths:
        model.save_weights(paths[0])
        atomic_write_json(paths[1], info)
    return model, {**info, "reused": False}


# --------------------------------------------------------------------------
# One draw


def build_method(method: str, problem: TaskProblem, aux_model,
                 conv_blocks, fc_units, s: TrainSettings):
    """The model of ``method``, initialised from ``aux_model``."""
    from amtfl_tf.models import DAMTL
    from amtfl_tf.models import DAMTLBaseline

    known = METHODS + PAPER_SETTING_METHODS
    if method not in known:
        raise ValueError(f"method must be one of {known}. Received: "
                         f"method={method!r}")
    common = dict(conv_blocks=conv_blocks, fc_units=fc_units,
                  ce_reduction=s.ce_reduction, head_stddev=s.head_stddev)
    if method in DAMTL_METHODS:
        fa = method == "damtl_fa"
        # damtl_rh: DAMTL with random output layers, like the baselines'
        head_init = "random" if method == "damtl_rh" else s.head_init
        model = DAMTL(
            problem.num_classes, problem.input_shape,
            aux_num_classes=int(aux_model.output.shape[-1]),
            class_map=problem.class_map,
            mask_granularity=s.mask_granularity,
            mask_parameterization=s.mask_parameterization,
            mask_init_range=(s.mask_init_low, s.mask_init_high),
            train_conv=s.train_conv, train_aux_fc=s.train_aux_fc,
            l1_reduction=s.l1_reduction,
            align_layers="none" if fa else s.align_layers,
            head_init=head_init, cmmd_kernel=s.cmmd_kernel,
            cmmd_num_kernels=s.cmmd_num_kernels,
            cmmd_kernel_mul=s.cmmd_kernel_mul,
            hyperparameters=dict(alpha=s.alpha, lambda1=s.lambda1,
                                 lambda2=0.0 if fa else s.lambda2),
            name=method, **common)
        model.load_auxiliary(aux_model)
        return model
    # the paper's setting: a baseline whose output layer starts at random
    aux_head = (s.baseline_head_init == "aux"
                and method not in PAPER_SETTING_METHODS)
    name, method = method, base_method(method)
    positions = {"cross_stitch": s.cross_stitch_positions,
                 "nddr": s.nddr_positions}.get(method)
    model = DAMTLBaseline(
        problem.num_classes, problem.input_shape, method=method,
        cross_stitch_granularity=s.cross_stitch_granularity,
        sharing_positions=positions, mtal_threshold=s.mtal_threshold,
        mtal_pairs=s.mtal_pairs, bn_momentum=s.nddr_momentum,
        nddr_batch_norm=s.nddr_batch_norm,
        hyperparameters=dict(alpha=s.alpha),
        name=name, **common)
    if s.baseline_init == "aux":
        model.load_auxiliary(
            aux_model, class_map=problem.class_map if aux_head else None)
    return model


def make_optimizer(s: TrainSettings):
    import keras

    if s.optimizer == "adam":
        return keras.optimizers.Adam(s.learning_rate)
    return keras.optimizers.SGD(
        s.learning_rate, momentum=s.momentum if s.optimizer == "momentum"
        else 0.0)


def train_model(model, problem: TaskProblem, s: TrainSettings, seed: int):
    """Fit for ``s.epochs`` epochs; returns ``(history, seconds)``."""
    import tensorflow as tf

    with distribute.scope():
        model.compile(make_optimizer(s))
    x = {"x": problem.x_train, "task": problem.task_train}
    n = len(problem.y_train)
    if s.batch_size == 0 or s.batch_size >= n:
        ds = tf.data.Dataset.from_tensors((x, problem.y_train)).repeat()
        steps = 1
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, problem.y_train)
                                                ).shuffle(
            n, seed=seed, reshuffle_each_iteration=True).batch(
            s.batch_size).repeat()
        steps = -(-n // s.batch_size)
    ds = input_pipeline.untuned(ds)
    start = time.perf_counter()
    hist = model.fit(ds, epochs=s.epochs, steps_per_epoch=steps, verbose=0,
                     shuffle=False, callbacks=training_callbacks(
                         model.name, "lower --learning_rate"))
    seconds = time.perf_counter() - start
    if not np.all(np.isfinite(hist.history["loss"])):
        raise FloatingPointError(
            f"{model.name}: non-finite training loss (last values "
            f"{hist.history['loss'][-3:]}); lower --learning_rate.")
    return hist.history, seconds


def task_accuracies(model, problem: TaskProblem) -> list[float]:
    pred = model.predict_own_task(problem.x_test, problem.task_test)
    return [float(np.mean(pred[problem.task_test == t]
                          == problem.y_test[problem.task_test == t]))
            for t in range(len(problem.num_classes))]


def _masks(model) -> list[np.ndarray]:
    """Every Ψ entry of every task, per conv layer (flattened)."""
    return [m.reshape(-1) for t in range(model.num_tasks)
            for m in model.masks(t)]


#: Ψ at or below this counts as pruned (1% of the U(0.9, 1.1) init; the
#: NonNeg constraint puts an entry pushed below zero at exactly 0)
PRUNE_THRESHOLD = 0.01


def mask_statistics(before, after, layers: int | None = None
                    ) -> dict[str, Any]:
    """What training did to the soft masks Ψ: the fraction of entries at
    exactly 0, the fraction at or below :data:`PRUNE_THRESHOLD` (pruned),
    the smallest entry and the largest change of an entry; with
    ``layers`` (the masked layers per task; ``before``/``after`` list
    every task's layers in order) also the pruned fraction and the mean
    Ψ per layer over the tasks."""
    a = np.concatenate(after)
    change = max(float(np.max(np.abs(x - y))) for x, y in zip(after,
                                                                before))
    out = {"entries": int(a.size),
           "zero_fraction": float(np.mean(a <= 0.0)),
           "pruned_fraction": float(np.mean(a <= PRUNE_THRESHOLD)),
           "threshold": PRUNE_THRESHOLD,
           "min": float(a.min()), "max_change": change}
    if layers:
        per = [np.concatenate(after[k::layers]) for k in range(layers)]
        out["pruned_per_layer"] = [float(np.mean(p <= PRUNE_THRESHOLD))
                                   for p in per]
        out["mean_per_layer"] = [float(p.mean()) for p in per]
    return out


def l1_max_shift(s: TrainSettings, conv_blocks, in_channels: int) -> float:
    """An upper bound on how far the ℓ1 term λ₁‖Ψ‖₁ alone moves one Ψ
    entry over the whole training: its gradient per entry is α·λ₁ (sum)
    or α·λ₁/N_l (``l1_reduction="mean"``, N_l the layer's entries), and
    momentum SGD moves an entry at most η·g/(1 − μ) per step."""
    sizes = []
    c_in = in_channels
    for block in conv_blocks:
        for filters in (block if isinstance(block, (list, tuple))
                        else [block]):
            sizes.append(9 * c_in * int(filters)
                         if s.mask_granularity == "weight" else int(filters))
            c_in = int(filters)
    per_entry = s.alpha * s.lambda1 / (min(sizes) if s.l1_reduction ==
                                       "mean" else 1)
    damp = 1.0 - s.momentum if s.optimizer == "momentum" else 1.0
    if s.optimizer == "adam":
        return float(s.learning_rate * s.epochs)  # Adam: ~η per step
    return float(s.learning_rate * per_entry * s.epochs / damp)


def _short(values, digits=5):
    return [float(f"{v:.{digits}g}") for v in values]


def run_draw(problem: TaskProblem, aux_model, conv_blocks, fc_units,
             s: TrainSettings, seed: int,
             methods: Sequence[str] = METHODS,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and test every method on one draw (seed ``seed`` for each
    method's initialisation). Returns the draw's record."""
    import keras

    record: dict[str, Any] = {"problem": problem.info, "methods": {}}
    for method in methods:
        keras.utils.set_random_seed(seed)
        with distribute.scope():
            model = build_method(method, problem, aux_model, conv_blocks,
                                 fc_units, s)
        before = _masks(model) if method in DAMTL_METHODS else None
        history, seconds = train_model(model, problem, s, seed)
        acc = task_accuracies(model, problem)
        rec = {"accuracy": acc, "train_seconds": seconds,
               "loss": _short(history["loss"])}
        if method in DAMTL_METHODS:
            T = len(problem.num_classes)
            for key in ("objective", "ce", "l1", "cmmd"):
                rec[key] = [_short(history[f"{key}_{t}"]) for t in range(T)]
            rec["masks"] = mask_statistics(before, _masks(model),
                                           layers=len(model.masks(0)))
        record["methods"][method] = rec
        log(f"{PAPER_NAMES[method]}: accuracy "
            + ", ".join(f"{a:.3f}" for a in acc) + f" ({seconds:.1f}s)")
        del model
        keras.backend.clear_session()  # frees the traced graphs
    return record
