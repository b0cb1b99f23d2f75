"""Data overview: load every offline dataset, check its size against what
the papers state, and draw a sample sheet per dataset.

It exercises the whole run machinery (registry, checksums, run folder,
resume, results.json, table.md, figures) on real data, and it is the first
thing ``run_all.sh`` runs: if a dataset is missing or corrupt, this is where
it shows.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from amtfl_tf import datasets
from amtfl_tf import plotting
from amtfl_tf import published
from amtfl_tf import verdicts
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.config import uses_runtime
from amtfl_tf.experiments.runner import run_splits
from amtfl_tf.results import Claim
from amtfl_tf.results import Results
from amtfl_tf.results import RunDir
from amtfl_tf.results import Row

DATASETS = ("mnist", "omniglot", "school")

# (dataset, our count name) -> (paper, row, column) of the stated size.
STATED = {
    ("mnist", "train images"): ("dmtrl", "MNIST", "train images"),
    ("mnist", "test images"): ("dmtrl", "MNIST", "test images"),
    ("omniglot", "alphabets"): ("dmtrl", "Omniglot", "alphabets"),
    ("omniglot", "characters"): ("dmtrl", "Omniglot", "characters"),
    ("omniglot", "drawings per character"):
        ("dmtrl", "Omniglot", "drawings per character"),
    ("omniglot", "min characters per alphabet"):
        ("dmtrl", "Omniglot", "min characters per alphabet"),
    ("omniglot", "max characters per alphabet"):
        ("dmtrl", "Omniglot", "max characters per alphabet"),
    ("school", "students"): ("deep_amtfl", "School", "students"),
    ("school", "schools"): ("deep_amtfl", "School", "schools"),
}


def _mnist(cfg: CommonConfig) -> dict[str, Any]:
    d = datasets.load("mnist", data_dir=cfg.data_dir, seed=cfg.seed,
                      download=cfg.download)
    fig, ax = plotting.new_figure(1, 1, size=(6, 6))
    picks = np.concatenate([np.flatnonzero(d.train_labels == c)[:10]
                            for c in range(10)])
    plotting.image_grid(ax[0, 0], d.train_images[picks] / 255.0, 10,
                        "MNIST: first 10 training images of each class")
    files = plotting.save_figure(fig, cfg.workdir, "mnist_samples")
    return {"counts": {
        "train images": len(d.train_labels),
        "test images": len(d.test_labels),
        "classes": int(len(np.unique(d.train_labels)))},
        "train_class_counts": np.bincount(d.train_labels).tolist(),
        "figures": files}


def _omniglot(cfg: CommonConfig) -> dict[str, Any]:
    d = datasets.load("omniglot", data_dir=cfg.data_dir, seed=cfg.seed,
                      download=cfg.download)
    sizes = np.bincount(d.alphabet) // 20
    fig, ax = plotting.new_figure(1, 1, size=(8, 5))
    first = np.searchsorted(d.alphabet, np.arange(d.num_tasks))
    plotting.image_grid(ax[0, 0], d.images[first], 10,
                        "Omniglot: first drawing of each alphabet's first "
                        "character (50 tasks)")
    files = plotting.save_figure(fig, cfg.workdir, "omniglot_samples")
    return {"counts": {
        "alphabets": d.num_tasks,
        "characters": int(len(np.unique(d.character))),
        "images": len(d.images),
        "drawings per character": int(np.bincount(d.character).max()),
        "min characters per alphabet": int(sizes.min()),
        "max characters per alphabet": int(sizes.max())},
        "figures": files}


def _school(cfg: CommonConfig) -> dict[str, Any]:
    d = datasets.load("school", data_dir=cfg.data_dir, seed=cfg.seed,
                      download=cfg.download)
    per_school = np.bincount(d.task)
    frac = [np.bincount(d.task[s.train], minlength=139) / per_school
            for s in d.splits]
    fig, ax = plotting.new_figure(1, 2, size=(9, 3.2))
    ax[0, 0].hist(per_school, bins=25, color="tab:blue")
    ax[0, 0].set_xlabel("students per school (task)")
    ax[0, 0].set_ylabel("schools")
    ax[0, 1].hist(np.concatenate(frac), bins=25, color="tab:green")
    ax[0, 1].set_xlabel("training fraction per school, 10 splits")
    files = plotting.save_figure(fig, cfg.workdir, "school_tasks")
    return {"counts": {
        "students": len(d.y),
        "schools": int(len(per_school)),
        "features (incl. bias)": int(d.x.shape[1]),
        "train per split": len(d.splits[0].train),
        "test per split": len(d.splits[0].test)},
        "train_fraction_range": [float(np.min(frac)), float(np.max(frac))],
        "figures": files}


_COMPUTE = {"mnist": _mnist, "omniglot": _omniglot, "school": _school}


@uses_runtime
def run(cfg: CommonConfig) -> Results:
    """Load, count and plot every dataset; write results into the workdir."""
    start = time.monotonic()
    run_dir = RunDir(cfg.workdir, overwrite=cfg.overwrite,
                     fingerprint={"experiment": cfg.experiment})
    run_dir.write_config(cfg.to_dict())
    records = run_splits(run_dir, DATASETS,
                         lambda name: _COMPUTE[name](cfg), cfg.experiment)
    rows, claims, figures = [], [], []
    for name in DATASETS:
        rec = records[name]
        figures += rec["figures"]
        mismatches, sources = [], []
        for what, value in rec["counts"].items():
            ref = STATED.get((name, what))
            paper = published.get(ref[0], "datasets", *ref[1:]) if ref else None
            rows.append(Row.from_splits(what, "count", [value], paper,
                                        dataset=name))
            where = None if paper is None else \
                paper.source.split(", row ")[0]
            if where is not None and where not in sources:
                sources.append(where)
            if paper is not None and value != paper.value:
                mismatches.append(f"{what} {value} vs {paper.value:g}")
        stated = [w for (n, w) in STATED if n == name]
        claims.append(Claim.of(
            f"data.{name}.sizes_as_stated",
            f"{name}: the loaded data have the sizes the papers state "
            f"({', '.join(stated)})",
            verdicts.exact(
                1.0 if not mismatches else -1.0,
                "+1 when every count equals the stated size, -1 when any "
                "differs (counts are deterministic)"),
            source="; ".join(sources) or "dataset descriptions",
            statement="the dataset sizes printed in the papers' "
                      "dataset descriptions",
            detail="all equal" if not mismatches else "; ".join(mismatches)))
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset=None,
        rows=rows, claims=claims, figures=figures,
        wall_seconds=time.monotonic() - start,
        profile_changes=[],
        notes=["Counts of the offline copies, not results; 'paper' is the "
               "size stated in the papers' dataset descriptions."])
    run_dir.write_results(results)
    return results
