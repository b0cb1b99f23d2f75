"""What the two DAMTL experiments share (the Omniglot proxy,
:mod:`amtfl_tf.experiments.damtl.omniglot`, and the real-data tables,
:mod:`amtfl_tf.experiments.damtl.tables`): the training settings of the
seven methods, auxiliary pre-training (cached), one draw's training and
evaluation, and the Tables 4–7 / Figs. 4–6 outputs.

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

from amtfl_tf import plotting
from amtfl_tf import published
from amtfl_tf import distribute
from amtfl_tf.callbacks import training_callbacks
from amtfl_tf.results import Claim
from amtfl_tf.results import Row
from amtfl_tf.results import atomic_write_json
from amtfl_tf.results import markdown_table

METHODS = ("single", "multi", "cross_stitch", "nddr", "mtal", "damtl",
           "damtl_fa")
PAPER_NAMES = {"single": "Single-Task", "multi": "Multi-task",
               "cross_stitch": "Cross-Stitch", "nddr": "NDDR-CNN",
               "mtal": "MTAL", "damtl": "DAMTL", "damtl_fa": "DAMTL_Fa"}
TABLE_METHODS = METHODS[:6]           # Tables 4-5
ABLATION_METHODS = ("damtl", "damtl_fa")  # Tables 6-7
COLORS = {"single": "tab:gray", "multi": "tab:blue",
          "cross_stitch": "tab:orange", "nddr": "tab:purple",
          "mtal": "tab:brown", "damtl": "tab:red", "damtl_fa": "tab:pink"}
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
    cross_stitch_granularity: str = "channel"
    cross_stitch_positions: str = "all"
    nddr_positions: str = "conv"
    nddr_momentum: float = 0.9   # BN moving statistics (Keras: 0.99)
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
        if self.baseline_init not in BASELINE_INITS:
            raise ValueError(
                f"baseline_init must be one of {BASELINE_INITS}. Received: "
                f"baseline_init={self.baseline_init!r}")
        for name in ("learning_rate", "aux_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0. Received: "
                                 f"{name}={getattr(self, name)!r}")


TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainSettings))


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
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        n, seed=seed, reshuffle_each_iteration=True).batch(
        s.aux_batch_size)
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

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}. Received: "
                         f"method={method!r}")
    common = dict(conv_blocks=conv_blocks, fc_units=fc_units,
                  ce_reduction=s.ce_reduction, head_stddev=s.head_stddev)
    if method in ("damtl", "damtl_fa"):
        fa = method == "damtl_fa"
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
            head_init=s.head_init, cmmd_kernel=s.cmmd_kernel,
            cmmd_num_kernels=s.cmmd_num_kernels,
            cmmd_kernel_mul=s.cmmd_kernel_mul,
            hyperparameters=dict(alpha=s.alpha, lambda1=s.lambda1,
                                 lambda2=0.0 if fa else s.lambda2),
            name=method, **common)
        model.load_auxiliary(aux_model)
        return model
    positions = {"cross_stitch": s.cross_stitch_positions,
                 "nddr": s.nddr_positions}.get(method)
    model = DAMTLBaseline(
        problem.num_classes, problem.input_shape, method=method,
        cross_stitch_granularity=s.cross_stitch_granularity,
        sharing_positions=positions, mtal_threshold=s.mtal_threshold,
        mtal_pairs=s.mtal_pairs, bn_momentum=s.nddr_momentum,
        hyperparameters=dict(alpha=s.alpha),
        name=method, **common)
    if s.baseline_init == "aux":
        model.load_auxiliary(aux_model)
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
        history, seconds = train_model(model, problem, s, seed)
        acc = task_accuracies(model, problem)
        rec = {"accuracy": acc, "train_seconds": seconds,
               "loss": _short(history["loss"])}
        if method in ("damtl", "damtl_fa"):
            T = len(problem.num_classes)
            for key in ("objective", "ce", "l1", "cmmd"):
                rec[key] = [_short(history[f"{key}_{t}"]) for t in range(T)]
        record["methods"][method] = rec
        log(f"{PAPER_NAMES[method]}: accuracy "
            + ", ".join(f"{a:.3f}" for a in acc) + f" ({seconds:.1f}s)")
        del model
        keras.backend.clear_session()  # frees the traced graphs
    return record


# --------------------------------------------------------------------------
# Results: rows, claims, tables, figures


def accuracy_matrix(records, keys, method) -> np.ndarray:
    """``(draws, tasks)`` accuracies of ``method``."""
    return np.array([records[k]["methods"][method]["accuracy"]
                     for k in keys], dtype=np.float64)


def summary(records, keys, methods=METHODS) -> dict[str, dict[str, Any]]:
    """Per method: per-task and pooled mean/std accuracy, time."""
    out = {}
    for m in methods:
        acc = accuracy_matrix(records, keys, m)
        secs = np.array([records[k]["methods"][m]["train_seconds"]
                         for k in keys])
        ddof = 1 if len(keys) > 1 else 0
        out[m] = {
            "task_mean": acc.mean(axis=0).tolist(),
            "task_std": acc.std(axis=0, ddof=ddof).tolist(),
            "mean": float(acc.mean()),
            "std": float(acc.mean(axis=1).std(ddof=ddof)),
            "per_draw_mean": acc.mean(axis=1).tolist(),
            "seconds_mean": float(secs.mean()),
            "seconds_std": float(secs.std(ddof=ddof)),
        }
    return out


def rows_for(records, keys, label: str, task_names: Sequence[str],
             methods=METHODS) -> list[Row]:
    """Rows of results.json: per method, each task and the task mean
    (accuracy over draws; ``extra.std`` is the standard deviation the
    paper prints). No paper number: the proxy tasks are not the paper's
    datasets (the paper's tables are in ``extra``)."""
    rows = []
    for m in methods:
        acc = accuracy_matrix(records, keys, m)
        cols = [(f"{label}/{n}", acc[:, t]) for t, n in
                enumerate(task_names)] + [(f"{label}/mean",
                                           acc.mean(axis=1))]
        for dataset, values in cols:
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            rows.append(Row.from_splits(PAPER_NAMES[m], "accuracy",
                                        list(values), dataset=dataset,
                                        std=std))
        secs = [records[k]["methods"][m]["train_seconds"] for k in keys]
        rows.append(Row.from_splits(PAPER_NAMES[m], "train_seconds", secs,
                                    dataset=label))
    return rows


def _paired(records, keys, a, b) -> tuple[float, int]:
    da = accuracy_matrix(records, keys, a).mean(axis=1)
    db = accuracy_matrix(records, keys, b).mean(axis=1)
    return float((da - db).mean()), int(np.sum(da > db))


def claims_for(records, keys, prefix: str, label: str,
               methods=METHODS) -> list[Claim]:
    """The paper's statements, evaluated on our numbers (mean accuracy
    over the tasks and draws)."""
    summ = summary(records, keys, methods)
    n = len(keys)
    claims = []

    def beats(a, b, cid, text):
        diff, wins = _paired(records, keys, a, b)
        claims.append(Claim(
            f"{prefix}.{cid}", f"{label}: {text}",
            summ[a]["mean"] > summ[b]["mean"],
            f"{PAPER_NAMES[a]} {summ[a]['mean']:.3f} vs {PAPER_NAMES[b]} "
            f"{summ[b]['mean']:.3f} (paired difference {diff:+.3f}; "
            f"higher in {wins}/{n} draws)"))

    if "damtl" in methods and "single" in methods:
        beats("damtl", "single", "damtl_beats_single",
              "DAMTL beats Single-Task (Tables 4-5)")
    if "damtl" in methods and "multi" in methods:
        beats("damtl", "multi", "damtl_beats_multi",
              "DAMTL beats Multi-task (Tables 4-5)")
    if "damtl" in methods and "damtl_fa" in methods:
        beats("damtl", "damtl_fa", "alignment_helps",
              "removing the alignment (DAMTL_Fa) lowers accuracy "
              "(Tables 6-7)")
    table = [m for m in TABLE_METHODS if m in methods]
    if "damtl" in table and len(table) > 1:
        best = max(table, key=lambda m: summ[m]["mean"])
        claims.append(Claim(
            f"{prefix}.damtl_best", f"{label}: DAMTL has the highest "
            "accuracy of the six methods of Tables 4-5",
            best == "damtl", ", ".join(
                f"{PAPER_NAMES[m]} {summ[m]['mean']:.3f}" for m in table)))
    if "single" in methods and len(table) > 1:
        fastest = min(table, key=lambda m: summ[m]["seconds_mean"])
        claims.append(Claim(
            f"{prefix}.single_fastest", f"{label}: Single-Task trains "
            "fastest (Fig. 5)", fastest == "single", ", ".join(
                f"{PAPER_NAMES[m]} {summ[m]['seconds_mean']:.1f}s"
                for m in table)))
    return claims


def paper_table(table: str) -> dict[str, dict[str, list]]:
    """``{row: {column: [value, spread]}}`` of one DAMTL table."""
    out: dict[str, dict[str, list]] = {}
    for n in published.table("damtl", table):
        out.setdefault(n.row, {})[n.column] = [n.value, n.spread]
    return out


def _pm(mean, std):
    return f"{mean:.3f} ± {std:.3f}"


def proxy_tables_markdown(summ, task_names, label: str,
                          paper_main: str, paper_ablation: str,
                          heading: str) -> str:
    """Tables shaped like the paper's (ours mean ± std per task and their
    mean; the paper's six columns beside, never mixed with ours)."""
    lines = [f"## {heading}", ""]
    for methods, table in ((TABLE_METHODS, paper_main),
                           (ABLATION_METHODS, paper_ablation)):
        methods = [m for m in methods if m in summ]
        if not methods:
            continue
        cols = published.columns("damtl", table)
        paper = paper_table(table)
        head = (["method"] + [f"ours: {label}/{n}" for n in task_names]
                + ["ours: mean"] + [f"paper {table[:5].title()} "
                                    f"{table[5:]}: {c}" for c in cols])
        number = table.replace("table", "Table ")
        lines += [f"### Shaped like the paper's {number}",
                  "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        for m in methods:
            s = summ[m]
            ours = [_pm(a, b) for a, b in zip(s["task_mean"],
                                              s["task_std"])]
            ours.append(_pm(s["mean"], s["std"]))
            row = paper.get(PAPER_NAMES[m], {})
            theirs = [_pm(*row[c]) if c in row else "–" for c in cols]
            lines.append("| " + " | ".join([PAPER_NAMES[m]] + ours + theirs)
                         + " |")
        lines.append("")
    return "\n".join(lines)


def write_table_md(run_dir, results, extra_markdown: str) -> None:
    """``table.md``: the paper-shaped tables first, then the standard
    rows, claims and notes."""
    from amtfl_tf.results import atomic_write_text

    standard = markdown_table(results)
    title, _, rest = standard.partition("\n\n")
    atomic_write_text(run_dir.path("table.md"), title + "\n\n"
                      + extra_markdown + "\n## All rows and claims\n\n"
                      + rest)


def figures_for(records, keys, workdir: str, label: str,
                task_names: Sequence[str], methods=METHODS) -> list[str]:
    """Fig. 4-like accuracy bars, Fig. 5 time bars and Fig. 6
    convergence of Eq. (5) for DAMTL; returns the file names."""
    summ = summary(records, keys, methods)
    names = [PAPER_NAMES[m] for m in methods]
    written = []
    fig, ax = plotting.new_figure(1, 1, size=(8, 3.8), layout="constrained")
    a = ax[0][0]
    T = len(task_names)
    width = 0.8 / (T + 1)
    xs = np.arange(len(methods))
    for t, n in enumerate(task_names + ["mean"]):
        means = [summ[m]["task_mean"][t] if t < T else summ[m]["mean"]
                 for m in methods]
        stds = [summ[m]["task_std"][t] if t < T else summ[m]["std"]
                for m in methods]
        a.bar(xs + (t - T / 2) * width, means, width, yerr=stds,
              capsize=2, label=n)
    a.set_xticks(xs)
    a.set_xticklabels(names, rotation=20)
    a.set_ylabel("test accuracy (mean ± std over draws)")
    a.set_title(f"{label}: accuracy per method ({len(keys)} draws)")
    a.legend(fontsize=8)
    lo = min(summ[m]["mean"] - summ[m]["std"] for m in methods)
    a.set_ylim(max(0.0, lo - 0.15), 1.0)
    written += plotting.save_figure(fig, workdir, "fig4_accuracy")

    fig, ax = plotting.new_figure(1, 1, size=(7, 3.6), layout="constrained")
    a = ax[0][0]
    a.bar(xs, [summ[m]["seconds_mean"] for m in methods],
          yerr=[summ[m]["seconds_std"] for m in methods], capsize=3,
          color=[COLORS[m] for m in methods])
    a.set_xticks(xs)
    a.set_xticklabels(names, rotation=20)
    a.set_ylabel("training time per draw (s)")
    a.set_title(f"{label}: time cost (Fig. 5)")
    written += plotting.save_figure(fig, workdir, "fig5_time")

    if "damtl" in methods:
        fig, ax = plotting.new_figure(1, 2, size=(11, 3.8),
                                      layout="constrained")
        a, b = ax[0]
        for t, n in enumerate(task_names):
            curves = np.array([records[k]["methods"]["damtl"]["objective"][t]
                               for k in keys])
            it = np.arange(1, curves.shape[1] + 1)
            a.plot(it, curves.mean(axis=0), label=f"{n}: L_T (Eq. 4)")
            a.fill_between(it, curves.min(axis=0), curves.max(axis=0),
                           alpha=0.2)
        a.set_xlabel("iteration (full-batch step)")
        a.set_ylabel("per-task objective")
        a.set_title(f"{label}: DAMTL per-task objective")
        a.legend(fontsize=8)
        for m in ("damtl", "damtl_fa"):
            if m not in methods:
                continue
            curves = np.array([records[k]["methods"][m]["loss"]
                               for k in keys])
            it = np.arange(1, curves.shape[1] + 1)
            b.plot(it, curves.mean(axis=0), color=COLORS[m],
                   label=PAPER_NAMES[m])
        b.set_xlabel("iteration (full-batch step)")
        b.set_ylabel("Eq. (5) objective")
        b.set_title("total objective (Fig. 6)")
        b.legend(fontsize=8)
        written += plotting.save_figure(fig, workdir, "fig6_convergence")
    return [w for w in written if w.endswith(".png")] + [
        w for w in written if not w.endswith(".png")]


def iterations_to_converge(curve, tol=0.02) -> int:
    """First iteration after which the curve stays within ``tol`` (relative
    to its total decrease) of its final value."""
    c = np.asarray(curve, dtype=np.float64)
    span = max(float(c.max() - c[-1]), 1e-12)
    far = np.flatnonzero(np.abs(c - c[-1]) > tol * span)
    return int(far[-1] + 2) if far.size else 1
