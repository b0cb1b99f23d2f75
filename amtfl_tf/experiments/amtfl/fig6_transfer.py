"""Deep-AMTFL Fig. 6 on MNIST-Imbalanced: (a) per-task accuracy change
over the CNN for MT-CNN, Deep-AMTL and Deep-AMTFL, with the per-task
training loss; (b) the inter-task transfer |A W| of Deep-AMTFL.

It reads (and, if needed, first computes) the Table 2 MNIST-Imbalanced runs
in ``source_workdir`` through the resumable run folder, so running
``table2.py`` first costs nothing more here.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from amtfl_tf import plotting
from amtfl_tf import verdicts
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.config import uses_runtime
from amtfl_tf.datasets.mnist import DEFAULT_IMBALANCE
from amtfl_tf.experiments import profiles
from amtfl_tf.experiments.amtfl import table2
from amtfl_tf.results import Claim
from amtfl_tf.results import Results
from amtfl_tf.results import Row
from amtfl_tf.results import RunDir

COMPARED = ("mt-cnn", "deep-amtl", "deep-amtfl")
COLORS = {"mt-cnn": "tab:orange", "deep-amtl": "tab:green",
          "deep-amtfl": "tab:red"}


def _figure(gain, loss, transfer, workdir):
    """(a) per-task accuracy change over the CNN with the CNN's training
    loss; (b) |A W| of Deep-AMTFL."""
    T = len(loss)
    fig, ax = plotting.new_figure(1, 2, size=(12, 4.2), layout="constrained")
    a, b = ax[0]
    tasks = np.arange(T)
    for i, m in enumerate(COMPARED):
        a.bar(tasks + (i - 1) * 0.27, gain[m], 0.27, color=COLORS[m],
              label=table2.PAPER_NAMES[m])
    a.axhline(0, color="k", lw=0.8)
    a.set_xticks(tasks)
    a.set_xlabel("task (digit; 200, 180, ..., 20 training images)")
    a.set_ylabel("accuracy change over CNN (points)")
    a.set_title("(a) per-task improvement")
    a.legend(fontsize=8, loc="upper left")
    twin = a.twinx()
    twin.plot(tasks, loss, "k.--", label="CNN train loss")
    twin.set_ylabel("per-task training loss (CNN)")
    twin.legend(fontsize=8, loc="upper center")
    im = b.imshow(transfer, cmap="viridis")
    b.set_xticks(tasks)
    b.set_yticks(tasks)
    b.set_xlabel("target task t")
    b.set_ylabel("source task s")
    b.set_title("(b) |A W| of Deep-AMTFL (mean over runs)")
    fig.colorbar(im, ax=b, fraction=0.046)
    figures = plotting.save_figure(fig, workdir, "fig6_transfer")
    return figures


SOURCE_A = "Deep-AMTFL §4.2, Fig. 6(a)"
STATEMENT_A = ("Our Deep-AMTFL, on the other hand, does not suffer from "
               "accuracy loss on any tasks and shows significantly improved "
               "performances on all tasks, especially on the tasks with "
               "large loss (task 9).")


def claims_for(acc, transfer) -> list[Claim]:
    """The Fig. 6 claims, paired by run: ``acc`` maps method ->
    (runs × T) per-class test accuracy in [0, 1] (every method of a run
    shares its seed and data), ``transfer`` is (runs × T × T) |A W| of
    Deep-AMTFL (rows: source tasks)."""
    amtfl, cnn = 100.0 * np.asarray(acc["deep-amtfl"]), \
        100.0 * np.asarray(acc["cnn"])
    runs, T = amtfl.shape
    gain = amtfl - cnn
    counts = np.asarray(DEFAULT_IMBALANCE)[:T]
    smallest = int(np.argsort(counts, kind="stable")[0])
    others = [t for t in range(T) if t != smallest]
    per_task = [verdicts.paired(amtfl[:, t], cnn[:, t],
                                f"task {t}: Deep-AMTFL − CNN accuracy "
                                "(points), per run") for t in range(T)]
    transfer = np.abs(np.asarray(transfer))
    upper = np.array([np.triu(m, 1).sum() for m in transfer])
    lower = np.array([np.tril(m, -1).sum() for m in transfer])
    small_n = (f"Paired by run over {runs} run(s): at n = 2 a t interval "
               "has one degree of freedom and is rarely decisive; n = 1 "
               "gives no CI (inconclusive).")
    return [
        Claim.of("amtfl.fig6.beats_cnn_on_average",
                 "Deep-AMTFL's mean per-task accuracy is above the CNN's",
                 verdicts.paired(amtfl.mean(axis=1), cnn.mean(axis=1),
                                 "Deep-AMTFL − CNN mean per-task accuracy "
                                 "(points), per run"),
                 source=SOURCE_A, statement=STATEMENT_A,
                 detail=f"mean change {gain.mean():+.2f} points",
                 note=small_n),
        Claim.of("amtfl.fig6.improves_every_task",
                 "Deep-AMTFL has higher accuracy than the CNN on every task",
                 verdicts.all_of(per_task, "every task: Deep-AMTFL − CNN"),
                 source=SOURCE_A, statement=STATEMENT_A,
                 detail=f"{int((gain.mean(axis=0) < 0).sum())} of {T} tasks "
                        "lose accuracy on average over runs",
                 note="Intersection-union over the tasks. " + small_n),
        Claim.of("amtfl.fig6.gain_largest_on_smallest_task",
                 f"Deep-AMTFL's gain over the CNN on task {smallest} (the "
                 f"smallest, {int(counts[smallest])} images) exceeds its "
                 "mean gain on the other tasks",
                 verdicts.paired(gain[:, smallest],
                                 gain[:, others].mean(axis=1),
                                 f"task {smallest} gain − mean gain on the "
                                 "other tasks (points), per run"),
                 source=SOURCE_A, statement=STATEMENT_A,
                 detail=f"task {smallest} {gain[:, smallest].mean():+.2f}, "
                        f"others {gain[:, others].mean():+.2f} points",
                 note=small_n),
        Claim.of("amtfl.fig6.transfer_upper_triangular",
                 "|A W| mass above the diagonal (large → small tasks) "
                 "exceeds the mass below",
                 verdicts.paired(upper, lower, "|A W| mass above − below "
                                               "the diagonal, per run"),
                 source="Deep-AMTFL §4.2, Fig. 6(b)",
                 statement="We see that each task transfers to later tasks "
                           "(upper triangular submatrix) that comes with "
                           "fewer training instances but does not receive "
                           "knowledge transfer from them",
                 detail=f"above {upper.mean():.3f}, below {lower.mean():.3f}"
                        " (mean over runs)",
                 note=small_n),
    ]


@uses_runtime
def run(cfg: CommonConfig, source_workdir: str, **overrides) -> Results:
    start = time.monotonic()
    # --overwrite applies to this figure, never to the Table 2 runs it
    # reuses (run_all.sh passes it to every script).
    source_cfg = dataclasses.replace(cfg, experiment="table2",
                                     workdir=source_workdir, overwrite=False)
    table2.run_dataset(source_cfg, "mnist_imbalanced", **overrides)
    s = table2.settings_for(cfg.profile, cfg.seed, **overrides)
    records = RunDir(os.path.join(source_workdir, "mnist_imbalanced"),
                     fingerprint=table2.fingerprint("mnist_imbalanced", s)
                     ).completed()
    keys = [f"run{r}" for r in range(1, s.runs + 1)]
    acc = {m: np.array([records[k][m]["per_class_accuracy"] for k in keys])
           for m in table2.METHODS}
    gain = {m: 100.0 * (acc[m] - acc["cnn"]).mean(axis=0) for m in COMPARED}
    loss = np.array([records[k]["cnn"]["train_task_loss"]
                     for k in keys]).mean(axis=0)
    transfer = np.abs(np.array([records[k]["deep-amtfl"]["transfer"]
                                for k in keys])).mean(axis=0)
    T = len(loss)

    figures = _figure(gain, loss, transfer, cfg.workdir)

    claims = claims_for(acc, [records[k]["deep-amtfl"]["transfer"]
                              for k in keys])
    rows = [Row.from_splits(table2.PAPER_NAMES[m], f"accuracy_gain_task{t}",
                            list(100.0 * (acc[m][:, t] - acc["cnn"][:, t])),
                            dataset="mnist_imbalanced")
            for m in COMPARED for t in range(T)]
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile,
        dataset="mnist_imbalanced", rows=rows, claims=claims,
        profile_changes=profiles.changes(s, table2.PROFILES),
        figures=figures, wall_seconds=time.monotonic() - start,
        notes=[f"From the Table 2 runs in {source_workdir} ({len(keys)} "
               "run(s)); accuracy change in percentage points; no "
               "published numbers (the paper shows plots only)."],
        extra={"per_task_gain": {m: g.tolist() for m, g in gain.items()},
               "cnn_train_task_loss": loss.tolist(),
               "transfer_abs_mean": transfer.tolist()})
    RunDir(cfg.workdir, overwrite=cfg.overwrite,
           fingerprint={"experiment": cfg.experiment, **s.to_dict()}
           ).write_results(results)
    return results
