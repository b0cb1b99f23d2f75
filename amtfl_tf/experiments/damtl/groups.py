"""The six task groups of DAMTL Tables 4–7 on the paper's real datasets
(:mod:`amtfl_tf.experiments.damtl.tables`, whose doc gives the groups and
the auxiliary sources): the groups, the experiment's settings, and the
data of a group (class folders, the fixed per-class split, the union
auxiliary task, Keras' ImageNet VGG16 and each draw's two tasks).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from amtfl_tf.experiments.config import CommonConfig
from amtfl_tf.datasets import DatasetError
from amtfl_tf.datasets import DatasetNotFoundError
from amtfl_tf.datasets import class_folders as cf
from amtfl_tf.experiments.damtl import common as dc
from amtfl_tf.models.backbones import vgg_architecture as architecture


AUX_SOURCES = ("union", "imagenet")
OFFICE_SOURCES = ("office31", "office_caltech10")


@dataclasses.dataclass(frozen=True)
class Group:
    key: str
    tasks: tuple[tuple[str, str | None, str], ...]  # (dataset, domain, col)
    partial: bool
    table: str
    ablation: str


GROUPS = {
    "po1": Group("po1", (("caltech101", None, "PO-1/Caltech-101"),
                         ("caltech256", None, "PO-1/Caltech-256")),
                 True, "table4", "table6"),
    "po2": Group("po2", (("office31", "amazon", "PO-2/Amazon"),
                         ("office31", "webcam", "PO-2/Webcam")),
                 True, "table4", "table6"),
    "po3": Group("po3", (("office31", "dslr", "PO-3/DSLR"),
                         ("office_home", "Product", "PO-3/Product")),
                 True, "table4", "table6"),
    "no1": Group("no1", (("office_home", "Art", "NO-1/Art"),
                         ("office_home", "Real World", "NO-1/Real World")),
                 False, "table5", "table7"),
    "no2": Group("no2", (("caltech101", None, "NO-2/Caltech-101"),
                         ("office31", "webcam", "NO-2/Webcam")),
                 False, "table5", "table7"),
    "no3": Group("no3", (("office31", "amazon", "NO-3/Amazon"),
                         ("tiny_imagenet", None, "NO-3/Tiny ImageNet")),
                 False, "table5", "table7"),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    profile: str
    seed: int = 0
    draws: int = 10
    image_size: int = 224
    architecture: str = "vgg16"
    classes_per_task: int = 10
    overlap: int = 3
    train_fraction: float = 0.7
    max_images_per_class: int = 150
    aux: str = "union"
    aux_images_per_class: int = 100
    aux_weights: str | None = None
    class_map_file: str | None = None
    office: str = "office31"
    #: the step times the time claims read (None: benchmarks/results/
    #: damtl_time.json, which must have run at this experiment's image
    #: size, architecture and 3 channels); not part of the fingerprint
    time_json: str | None = None
    train: dc.TrainSettings = dc.TrainSettings()

    def __post_init__(self):
        for name in ("draws", "image_size", "classes_per_task",
                     "max_images_per_class", "aux_images_per_class"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1. Received: "
                                 f"{name}={v!r}")
        if not 0 <= self.overlap < self.classes_per_task:
            raise ValueError("overlap must be in [0, classes_per_task). "
                             f"Received: overlap={self.overlap}")
        if self.aux not in AUX_SOURCES:
            raise ValueError(f"aux must be one of {AUX_SOURCES}. Received: "
                             f"aux={self.aux!r}")
        if self.office not in OFFICE_SOURCES:
            raise ValueError(f"office must be one of {OFFICE_SOURCES}. "
                             f"Received: office={self.office!r}")
        architecture(self.architecture)

    def to_dict(self):
        return dataclasses.asdict(self)


def group_tasks(group: Group, s: Settings):
    """``(dataset, domain, column)`` of both tasks, Office source
    applied."""
    return [((s.office if d == "office31" else d), dom, col)
            for d, dom, col in group.tasks]


# --------------------------------------------------------------------------
# Data


@dataclasses.dataclass
class GroupData:
    """Class folders, the fixed per-class split and the auxiliary
    classes of one group."""

    tasks: list[tuple[str, str | None, str]]
    classes: list[dict[str, str]]      # per task: normalised -> folder
    splits: list[dict[str, tuple[list[str], list[str]]]]  # train/test
    aux_classes: list[str]             # normalised names (union)


def load_group(cfg: CommonConfig, group: Group, s: Settings) -> GroupData:
    """List both datasets' classes and fix the per-class split (fails at
    once, with the layout, when a dataset is absent)."""
    tasks = group_tasks(group, s)
    classes, splits = [], []
    for i, (dataset, domain, _) in enumerate(tasks):
        files = cf.image_files(dataset, cfg.data_dir, domain)
        by_name = {}
        for folder in files:
            by_name.setdefault(cf.normalize_name(folder), folder)
        classes.append(by_name)
        split = {}
        for j, (folder, paths) in enumerate(sorted(files.items())):
            rng = np.random.default_rng([s.seed, i, j, 7])
            order = [paths[k] for k in rng.permutation(len(paths))]
            n = min(max(int(round(s.train_fraction * len(order))), 1),
                    max(len(order) - 1, 1))
            split[folder] = (order[:n], order[n:])
        splits.append(split)
    union = sorted(set(classes[0]) | set(classes[1]))
    return GroupData(tasks, classes, splits, union)


def choose_classes(data: GroupData, s: Settings, partial: bool,
                   rng: np.random.Generator) -> list[list[str]]:
    """Normalised class names of both tasks: ``overlap`` shared (PO) or
    none (NO), the rest distinct."""
    k = s.classes_per_task
    names_a, names_b = sorted(data.classes[0]), sorted(data.classes[1])
    shared = []
    if partial:
        common = sorted(set(names_a) & set(names_b))
        if len(common) < s.overlap:
            raise DatasetError(
                f"{data.tasks[0][0]}/{data.tasks[1][0]}: only "
                f"{len(common)} class names are shared "
                f"({common}); overlap={s.overlap} needs more.")
        shared = list(rng.choice(common, s.overlap, replace=False))
    pool_a = [n for n in names_a if n not in shared]
    if len(pool_a) < k - len(shared):
        raise DatasetError(f"{data.tasks[0][0]} has {len(names_a)} classes;"
                           f" classes_per_task={k} needs more.")
    a = shared + list(rng.choice(pool_a, k - len(shared), replace=False))
    pool_b = [n for n in names_b if n not in a]
    if len(pool_b) < k - len(shared):
        raise DatasetError(
            f"{data.tasks[1][0]} has {len(pool_b)} classes outside task "
            f"A's; classes_per_task={k} needs more.")
    b = shared + list(rng.choice(pool_b, k - len(shared), replace=False))
    return [list(rng.permutation(a)), list(rng.permutation(b))]


def _read(paths, s: Settings) -> np.ndarray:
    return cf.read_images(paths, s.image_size)


def auxiliary_union_arrays(data: GroupData, s: Settings):
    """uint8 images and labels of the union auxiliary task (training
    parts only, at most ``aux_images_per_class`` per class)."""
    xs, ys = [], []
    for label, name in enumerate(data.aux_classes):
        paths = []
        for t in range(2):
            folder = data.classes[t].get(name)
            if folder is not None:
                paths += data.splits[t][folder][0]
        rng = np.random.default_rng([s.seed, label, 11])
        if len(paths) > s.aux_images_per_class:
            paths = list(rng.choice(paths, s.aux_images_per_class,
                                    replace=False))
        xs.append(_read(paths, s))
        ys.append(np.full(len(paths), label))
    return np.concatenate(xs), np.concatenate(ys)


def imagenet_auxiliary(s: Settings):
    """Keras' VGG16 with ImageNet weights from ``s.aux_weights``, copied
    into :func:`build_vgg`'s layer names."""
    import keras

    from amtfl_tf.models import build_vgg

    if s.architecture != "vgg16" or s.image_size != 224:
        raise ValueError(
            "aux='imagenet' needs architecture='vgg16' and image_size=224. "
            f"Received: architecture={s.architecture!r}, "
            f"image_size={s.image_size}")
    if not s.aux_weights or not os.path.exists(s.aux_weights):
        raise DatasetNotFoundError(
            "The ImageNet auxiliary network needs Keras' VGG16 weights "
            "file (vgg16_weights_tf_dim_ordering_tf_kernels.h5, from "
            "https://storage.googleapis.com/tensorflow/keras-applications/"
            "vgg16/). Pass it with --aux_weights=<file>, or use "
            f"--aux=union. Received: aux_weights={s.aux_weights!r}")
    src = keras.applications.VGG16(weights=s.aux_weights,
                                   include_top=True)
    blocks, fc = architecture("vgg16")
    model = build_vgg((224, 224, 3), 1000, blocks, fc)
    src_layers = [la for la in src.layers if la.get_weights()]
    dst_layers = [la for la in model.layers if la.get_weights()]
    for a, b in zip(src_layers, dst_layers):
        b.set_weights(a.get_weights())
    return model


def make_problem(data: GroupData, s: Settings, group: Group, draw: int,
                 class_map_lookup: dict[str, int] | None
                 ) -> dc.TaskProblem:
    rng = np.random.default_rng([s.seed, draw, 13])
    chosen = choose_classes(data, s, group.partial, rng)
    parts = {"train": ([], [], []), "test": ([], [], [])}
    for t, names in enumerate(chosen):
        for c, name in enumerate(names):
            folder = data.classes[t][name]
            train, test = data.splits[t][folder]
            cap = s.max_images_per_class
            n_train = min(len(train), max(1, int(round(
                cap * s.train_fraction))))
            n_test = min(len(test), max(1, cap - n_train))
            for part, paths in (("train", train[:n_train]),
                                ("test", test[:n_test])):
                parts[part][0].append(_read(paths, s))
                parts[part][1].append(np.full(len(paths), t))
                parts[part][2].append(np.full(len(paths), c))
    arrays = {p: [np.concatenate(v) for v in vals]
              for p, vals in parts.items()}
    lookup = class_map_lookup or {}
    class_map = [[lookup.get(n, -1) for n in names] for names in chosen]
    info = {"group": group.key, "draw": draw, "classes": chosen,
            "shared": sorted(set(chosen[0]) & set(chosen[1])),
            "train_per_task": [int(np.sum(arrays["train"][1] == t))
                               for t in range(2)],
            "test_per_task": [int(np.sum(arrays["test"][1] == t))
                              for t in range(2)]}
    return dc.TaskProblem(
        x_train=arrays["train"][0].astype(np.float32) / 255.0,
        task_train=arrays["train"][1].astype(np.int32),
        y_train=arrays["train"][2].astype(np.int32),
        x_test=arrays["test"][0].astype(np.float32) / 255.0,
        task_test=arrays["test"][1].astype(np.int32),
        y_test=arrays["test"][2].astype(np.int32),
        num_classes=[s.classes_per_task] * 2, class_map=class_map,
        task_names=[col.split("/", 1)[1] for _, _, col in data.tasks],
        info=info)
