"""DAMTL Tables 4–7 on the paper's real datasets (when they are present).

Groups (paper Tables 2–3; each task 10 randomly chosen classes, 70/30
split per class):

| group | task A | task B | shared classes |
|---|---|---|---|
| po1 | Caltech-101 | Caltech-256 | 3 |
| po2 | Amazon | Webcam | 3 |
| po3 | DSLR | Product (Office-Home) | 3 |
| no1 | Art (Office-Home) | Real World (Office-Home) | 0 |
| no2 | Caltech-101 | Webcam | 0 |
| no3 | Amazon | Tiny ImageNet | 0 |

Amazon, Webcam and DSLR come from Office-31 by default (``office``):
the paper calls them Office-Caltech, but Office-Caltech10 has only the 10
classes the two tasks would then share entirely, so three shared classes
out of ten need Office-31's 31. Shared classes are found by normalised
folder names (:func:`amtfl_tf.datasets.class_folders.normalize_name`).
The data layouts are in :mod:`amtfl_tf.datasets.class_folders`; without
the data the run stops at once with one message naming the dataset, the
expected folder and ``--data_dir`` / ``AMTFL_TF_DATA_DIR``.

The auxiliary big task (the paper: ImageNet-22K, which no offline run can
have):

- ``aux="union"`` (default): the union of both datasets' classes (shared
  names merged), trained on at most ``aux_images_per_class`` images per
  class from the *training* part of one fixed per-class 70/30 split of
  every class, so no test image of any draw is ever seen by it; its
  classes cover both tasks' classes (Sec. 3.1).
- ``aux="imagenet"``: Keras' ImageNet VGG16 (``aux_weights``: the
  weights file, e.g. ``vgg16_weights_tf_dim_ordering_tf_kernels.h5``;
  ``architecture="vgg16"``, 224×224 images). Its 1,000 classes map onto
  the tasks' classes only through ``class_map_file`` (JSON,
  ``{normalised class name: ImageNet index}``); without a full map DAMTL
  aligns the hidden FC layers only and starts its output layers at random
  (stated in the notes).

Everything else (methods, training, outputs) as in
:mod:`amtfl_tf.experiments.damtl.omniglot`; here every row carries the
paper's number of the same dataset.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np

from amtfl_tf.experiments import profiles
from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.experiments.config import uses_runtime
from amtfl_tf.experiments.damtl import common as dc
from amtfl_tf.experiments.damtl import groups as dg
from amtfl_tf.experiments.damtl import reporting as rep
from amtfl_tf.experiments.runner import run_splits
from amtfl_tf.models.backbones import vgg_architecture as architecture
from amtfl_tf.results import Results
from amtfl_tf.results import RunDir

PROFILES = {
    "smoke": {"draws": 1, "image_size": 16, "architecture": "vgg_tiny",
              "classes_per_task": 3, "overlap": 1,
              "max_images_per_class": 10, "aux_images_per_class": 10,
              "train": {"epochs": 2, "aux_epochs": 1}},
    "quick": {"draws": 5, "image_size": 64, "architecture": "vgg_small",
              "max_images_per_class": 80, "aux_images_per_class": 40,
              "train": {"epochs": 100, "aux_epochs": 20}},
    # every single run as the paper profile (VGG16 from ImageNet at
    # 224x224, the paper's η, α, λ₁, λ₂, 300 iterations); 5 draws of 10
    "faithful": {"draws": 5, "image_size": 224, "architecture": "vgg16",
                 "aux": "imagenet", "train": {"epochs": 300}},
    "paper": {"draws": 10, "image_size": 224, "architecture": "vgg16",
              "aux": "imagenet", "train": {"epochs": 300}},
}


def settings_for(profile: str, seed: int = 0, **overrides) -> dg.Settings:
    s = profiles.make(dg.Settings, PROFILES, profile, seed, nested="train",
                      **overrides)
    return s


# --------------------------------------------------------------------------
# Run


def _auxiliary_network(cfg: CommonConfig, group: str,
                       data: dg.GroupData, s: dg.Settings, conv_blocks,
                       fc_units, log):
    """The auxiliary network of ``s.aux``: ``(model, info, lookup,
    notes)``, ``lookup`` mapping a normalised class name to its auxiliary
    class."""
    train = s.train
    notes_aux = []
    if s.aux == "union":
        x_aux, y_aux = dg.auxiliary_union_arrays(data, s)
        aux_model, aux_info = dc.pretrain_auxiliary(
            x_aux.astype(np.float32) / 255.0, y_aux, len(data.aux_classes),
            conv_blocks, fc_units, train, seed=s.seed,
            cache_dir=os.path.join(cfg.workdir, "checkpoints"),
            fingerprint={"group": group, "tasks": data.tasks,
                         "image_size": s.image_size,
                         "aux_images_per_class": s.aux_images_per_class,
                         "train_fraction": s.train_fraction},
            overwrite=cfg.overwrite, log=log)
        lookup = {n: i for i, n in enumerate(data.aux_classes)}
        notes_aux.append(
            f"Auxiliary big task: the union of both datasets' "
            f"{len(data.aux_classes)} classes (training images only, <= "
            f"{s.aux_images_per_class} per class), not ImageNet; train "
            f"accuracy {aux_info['train_accuracy']:.3f}.")
    else:
        aux_model = dg.imagenet_auxiliary(s)
        aux_info = {"source": "imagenet", "weights": s.aux_weights}
        lookup = {}
        if s.class_map_file:
            with open(s.class_map_file) as f:
                lookup = {str(k): int(v) for k, v in json.load(f).items()}
        notes_aux.append("Auxiliary network: Keras' ImageNet-1K VGG16 "
                         f"({s.aux_weights}).")
    return aux_model, aux_info, lookup, notes_aux


def _run_group_draw(key: str, data: dg.GroupData, s: dg.Settings,
                    g: dg.Group, lookup, aux_model, conv_blocks, fc_units,
                    log):
    """Draw ``key`` (``draw<d>``): its problem, then every method
    (:func:`common.run_draw`); a task class without an auxiliary class
    aligns the hidden layers only."""
    draw = int(key[4:])
    problem = dg.make_problem(data, s, g, draw, lookup)
    t = s.train
    if any(v < 0 for m in problem.class_map for v in m):
        # no auxiliary class for some task class: hidden layers only
        problem.class_map = [list(range(len(m)))
                             for m in problem.class_map]
        t = dataclasses.replace(s.train, align_layers="hidden",
                                head_init="random")
        problem.info["class_map"] = "missing: hidden-only alignment"
    log(f"{key}: classes {problem.info['classes']}")
    return dc.run_draw(problem, aux_model, conv_blocks, fc_units, t,
                       seed=s.seed * 1000 + draw,
                       methods=dc.methods_for(t),
                       log=lambda m: log(f"{key} {m}"))


def _group_notes(cfg: CommonConfig, group: str, g: dg.Group,
                 s: dg.Settings, cols, notes_aux) -> list[str]:
    """The notes of results.json."""
    train = s.train
    notes = [
        f"Group {group.upper()}: {' + '.join(cols)}; {s.draws} draw(s) of "
        f"{s.classes_per_task} classes per task"
        + (f" ({s.overlap} shared)" if g.partial else " (disjoint)")
        + f"; per-class {s.train_fraction:.0%}/"
        f"{1 - s.train_fraction:.0%} split (at most "
        f"{s.max_images_per_class} images per class); {s.image_size}px; "
        f"{s.architecture}; accuracy mean ± std over draws.",
        *notes_aux,
        f"All methods: {train.epochs} iterations, {train.optimizer} lr "
        f"{train.learning_rate}, alpha {train.alpha}; see docs/damtl.md.",
    ]
    if cfg.profile == "faithful":
        notes.append(f"Profile faithful: every run as the paper profile; "
                     f"{s.draws} draws (paper profile: 10).")
    elif cfg.profile != "paper":
        notes.append(f"Profile {cfg.profile}: not the paper profile.")
    return notes


@uses_runtime
def run(cfg: CommonConfig, group: str, **overrides) -> Results:
    """One group (``po1`` … ``no3``); results in
    ``<cfg.workdir>/<group>/``."""
    if group not in dg.GROUPS:
        raise ValueError(f"group must be one of {tuple(dg.GROUPS)}. "
                         f"Received: group={group!r}")
    start = time.monotonic()
    g = dg.GROUPS[group]
    s = settings_for(cfg.profile, cfg.seed, **overrides)
    conv_blocks, fc_units = architecture(s.architecture)
    data = dg.load_group(cfg, g, s)  # fails here when a dataset is absent

    def log(msg):
        print(f"[{cfg.experiment}/{group}] {msg}", flush=True)

    aux_model, aux_info, lookup, notes_aux = _auxiliary_network(
        cfg, group, data, s, conv_blocks, fc_units, log)
    workdir = os.path.join(cfg.workdir, group)
    run_dir = RunDir(workdir, overwrite=cfg.overwrite,
                     fingerprint={"experiment": cfg.experiment,
                                  "group": group,
                                  "methods": list(dc.methods_for(s.train)),
                                  **dc.fingerprint_settings(s)})
    run_dir.write_config({**cfg.to_dict(), "group": group,
                          "settings": s.to_dict()})
    keys = [f"draw{d}" for d in range(1, s.draws + 1)]

    def compute(key):
        return _run_group_draw(key, data, s, g, lookup, aux_model,
                              conv_blocks, fc_units, log)

    records = run_splits(run_dir, keys, compute, f"{cfg.experiment}/{group}")
    cols = [col for _, _, col in data.tasks]
    task_names = [c.split("/", 1)[1] for c in cols]
    rows = rep.rows_with_paper(records, keys, cols, g.table, g.ablation)
    timing = rep.load_timing(s.time_json, {
        "image_size": s.image_size, "channels": 3,
        "architecture": s.architecture})
    claims = rep.claims_for(records, keys, f"damtl.tables.{group}",
                            group.upper(), overlap=g.partial, timing=timing)
    summ = rep.summary(records, keys)
    figures = rep.figures_for(records, keys, workdir, group.upper(),
                              task_names, timing=timing)
    notes = _group_notes(cfg, group, g, s, cols, notes_aux)
    notes += rep.design_notes(records, keys, s.train, conv_blocks, 3,
                              timing)
    results = Results(
        experiment=cfg.experiment, profile=cfg.profile, dataset=group,
        rows=rows, claims=claims, figures=figures,
        wall_seconds=time.monotonic() - start, notes=notes,
        extra={"settings": s.to_dict(), "summary": summ,
               "auxiliary": {k: v for k, v in aux_info.items()
                             if k != "train_loss"},
               "free_choices": "docs/damtl.md"},
        profile_changes=profiles.changes(s, PROFILES, nested="train"))
    run_dir.write_results(results)
    rep.write_table_md(run_dir, results, rep.proxy_tables_markdown(
        summ, task_names, group.upper(), g.table, g.ablation,
        f"{group.upper()} shaped like the paper's tables"))
    return results
