"""Image datasets stored as one folder per class (DAMTL's real data).

None of these can be downloaded automatically (licences and hosts vary);
put them under the data directory (``<data_dir>/``) exactly as below (the
layouts of the official archives once extracted). Class folders are sorted
by name; image files are ``*.jpg``, ``*.jpeg``, ``*.png`` or ``*.bmp`` (any
case).

- ``office31``: ``office31/<domain>/images/<class>/*.jpg`` (or
  ``office31/<domain>/<class>/``); domains amazon, webcam, dslr.
- ``office_caltech10``: ``office_caltech10/<domain>/<class>/*.jpg``;
  domains amazon, webcam, dslr, caltech.
- ``office_home``: ``office_home/<domain>/<class>/*.jpg``; domains Art,
  Clipart, Product, Real World (or Real_World).
- ``caltech101``: ``caltech101/101_ObjectCategories/<class>/*.jpg``
  (BACKGROUND_Google ignored).
- ``caltech256``: ``caltech256/256_ObjectCategories/<NNN.class>/*.jpg``
  (257.clutter ignored).
- ``tiny_imagenet``:
  ``tiny_imagenet/tiny-imagenet-200/train/<wnid>/images/*.JPEG``
  (``words.txt`` beside ``train/`` names the classes).

Class names are compared across datasets after :func:`normalize_name`
(lower case, Caltech-256's ``NNN.`` prefix and ``-101`` suffix removed,
non-alphanumerics as ``_``), which is how DAMTL's partially overlapping
task pairs (e.g. Caltech-101 + Caltech-256) find their shared classes.

``load(name, data_dir=..., seed=..., domain=..., classes=...,
image_size=..., max_per_class=...)`` returns :class:`ClassFolderImages`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Callable, Iterable, Sequence

import numpy as np

from amtfl_tf.datasets import files as _files
from amtfl_tf.datasets.registry import compact_repr

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclasses.dataclass(frozen=True)
class FolderLayout:
    """Where one dataset's class folders are."""

    name: str
    subdir: str
    domains: tuple[str, ...] | None
    layout: str        # human-readable layout (error messages, docs)
    source: str        # where to get it
    candidates: Callable[[str, str | None], list[str]]
    excluded: tuple[str, ...] = ()
    images_subdir: str | None = None  # inside each class folder
    domain_aliases: dict[str, tuple[str, ...]] = dataclasses.field(
        default_factory=dict)


def _office31(root, domain):
    return [os.path.join(root, domain, "images"), os.path.join(root, domain)]


def _domain_only(root, domain):
    return [os.path.join(root, domain)]


LAYOUTS: dict[str, FolderLayout] = {
    "office31": FolderLayout(
        "office31", "office31", ("amazon", "webcam", "dslr"),
        "<data_dir>/office31/<domain>/images/<class>/*.jpg",
        "Saenko et al. 2010, Office-31 (domain_adaptation_images.tar.gz, "
        "https://faculty.cc.gatech.edu/~judy/domainadapt/)", _office31),
    "office_caltech10": FolderLayout(
        "office_caltech10", "office_caltech10",
        ("amazon", "webcam", "dslr", "caltech"),
        "<data_dir>/office_caltech10/<domain>/<class>/*.jpg",
        "Gong et al. 2012, Office-Caltech10 (10 classes shared by Office-31 "
        "and Caltech-256)", _domain_only),
    "office_home": FolderLayout(
        "office_home", "office_home", ("Art", "Clipart", "Product",
                                       "Real World"),
        "<data_dir>/office_home/<domain>/<class>/*.jpg",
        "Venkateswara et al. 2017, Office-Home "
        "(https://www.hemanthdv.org/officeHomeDataset.html)", _domain_only,
        domain_aliases={"Real World": ("Real World", "Real_World",
                                       "RealWorld")}),
    "caltech101": FolderLayout(
        "caltech101", "caltech101", None,
        "<data_dir>/caltech101/101_ObjectCategories/<class>/*.jpg",
        "Fei-Fei et al. 2004, Caltech-101 (101_ObjectCategories.tar.gz, "
        "https://data.caltech.edu/records/mzrjq-6wc02)",
        lambda root, _: [os.path.join(root, "101_ObjectCategories")],
        excluded=("BACKGROUND_Google",)),
    "caltech256": FolderLayout(
        "caltech256", "caltech256", None,
        "<data_dir>/caltech256/256_ObjectCategories/<NNN.class>/*.jpg",
        "Griffin et al. 2007, Caltech-256 (256_ObjectCategories.tar, "
        "https://data.caltech.edu/records/nyy15-4j048)",
        lambda root, _: [os.path.join(root, "256_ObjectCategories")],
        excluded=("257.clutter",)),
    "tiny_imagenet": FolderLayout(
        "tiny_imagenet", "tiny_imagenet", None,
        "<data_dir>/tiny_imagenet/tiny-imagenet-200/train/<wnid>/images/"
        "*.JPEG",
        "Stanford CS231n, Tiny ImageNet (tiny-imagenet-200.zip, "
        "http://cs231n.stanford.edu/tiny-imagenet-200.zip)",
        lambda root, _: [os.path.join(root, "tiny-imagenet-200", "train")],
        images_subdir="images"),
}
NAMES = tuple(LAYOUTS)


@compact_repr
@dataclasses.dataclass(frozen=True)
class ClassFolderImages:
    """Images of some classes of one dataset (domain).

    Attributes:
      images: uint8 ``(N, S, S, 3)``.
      labels: int64 ``(N,)`` index into ``classes``.
      classes: the class folder names, in label order.
      names: their display names (Tiny ImageNet: from ``words.txt``).
      files: the image paths, one per row.
      dataset, domain: where they come from.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    names: tuple[str, ...]
    files: tuple[str, ...]
    dataset: str
    domain: str | None


def normalize_name(name: str) -> str:
    """A class name comparable across datasets: ``"251.airplanes-101"``
    and ``"airplanes"`` both give ``"airplanes"``."""
    n = re.sub(r"^\d{3}\.", "", name.strip())
    n = re.sub(r"-101$", "", n)
    return re.sub(r"[^0-9a-z]+", "_", n.lower()).strip("_")


def _layout(name: str) -> FolderLayout:
    if name not in LAYOUTS:
        raise ValueError(f"dataset must be one of {NAMES}. Received: "
                         f"dataset={name!r}")
    return LAYOUTS[name]


def _check_domain(layout: FolderLayout, domain):
    if layout.domains is None:
        if domain is not None:
            raise ValueError(f"{layout.name} has no domains. Received: "
                             f"domain={domain!r}")
        return None
    if domain not in layout.domains:
        raise ValueError(f"domain of {layout.name} must be one of "
                         f"{layout.domains}. Received: domain={domain!r}")
    return domain


def class_root(name: str, data_dir: str | None = None,
               domain: str | None = None) -> str:
    """The folder holding the class folders.

    Raises:
      DatasetNotFoundError: no candidate folder exists (the message names
        the dataset, the layout, where to get it and
        ``--data_dir``/``AMTFL_TF_DATA_DIR``).
    """
    layout = _layout(name)
    domain = _check_domain(layout, domain)
    root = os.path.join(_files.resolve_data_dir(data_dir), layout.subdir)
    tried = []
    for dom in layout.domain_aliases.get(domain, (domain,)):
        for path in layout.candidates(root, dom):
            tried.append(path)
            if os.path.isdir(path) and _class_folders(layout, path):
                return path
    what = f"{name!r}" + (f" (domain {domain!r})" if domain else "")
    raise _files.DatasetNotFoundError(
        f"Dataset {what} not found: no class folders in "
        f"{' or '.join(tried)}. It cannot be downloaded automatically; get "
        f"it from {layout.source} and extract it as {layout.layout}. Set "
        f"--data_dir=<dir> or {_files.DATA_DIR_ENV}=<dir> to the folder "
        f"that holds {layout.subdir}/.")


def _class_folders(layout: FolderLayout, root: str) -> list[str]:
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return []
    return [e for e in entries if e not in layout.excluded
            and not e.startswith(".")
            and os.path.isdir(os.path.join(root, e))]


def _images_in(layout: FolderLayout, root: str, cls: str) -> list[str]:
    folder = os.path.join(root, cls)
    if layout.images_subdir and os.path.isdir(
            os.path.join(folder, layout.images_subdir)):
        folder = os.path.join(folder, layout.images_subdir)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def list_classes(name: str, data_dir: str | None = None,
                 domain: str | None = None) -> tuple[str, ...]:
    """The class folders (with at least one image), sorted."""
    layout = _layout(name)
    root = class_root(name, data_dir, domain)
    return tuple(c for c in _class_folders(layout, root)
                 if _images_in(layout, root, c))


def display_names(name: str, classes: Iterable[str],
                  data_dir: str | None = None) -> tuple[str, ...]:
    """Readable names (Tiny ImageNet wnids through ``words.txt``)."""
    if name != "tiny_imagenet":
        return tuple(classes)
    root = os.path.dirname(class_root(name, data_dir))
    words = {}
    path = os.path.join(root, "words.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 2:
                    words[parts[0]] = parts[1].split(",")[0].strip()
    return tuple(words.get(c, c) for c in classes)


def image_files(name: str, data_dir: str | None = None,
                domain: str | None = None,
                classes: Iterable[str] | None = None
                ) -> dict[str, list[str]]:
    """``{class: sorted image paths}`` for ``classes`` (default all)."""
    layout = _layout(name)
    root = class_root(name, data_dir, domain)
    available = list_classes(name, data_dir, domain)
    classes = available if classes is None else tuple(classes)
    missing = [c for c in classes if c not in available]
    if missing:
        raise ValueError(f"{name}: unknown class folder(s) {missing}. "
                         f"Received: classes={list(classes)!r}")
    return {c: _images_in(layout, root, c) for c in classes}


def read_images(paths: Sequence[str], image_size: int) -> np.ndarray:
    """uint8 ``(N, S, S, 3)``: each file as RGB, resized bilinearly."""
    from PIL import Image  # pillow ships with matplotlib

    out = np.zeros((len(paths), image_size, image_size, 3), np.uint8)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                out[i] = np.asarray(im.convert("RGB").resize(
                    (image_size, image_size), Image.BILINEAR))
        except OSError as e:
            raise _files.DatasetError(f"cannot read image {p}: {e}") from e
    return out


def load_class_folders(data_dir: str | None = None, seed: int = 0,
                       dataset: str = "office31", domain: str | None = None,
                       classes: Iterable[str] | None = None,
                       image_size: int = 64,
                       max_per_class: int | None = None
                       ) -> ClassFolderImages:
    """Images of ``classes`` (default all) of one dataset/domain.

    Args:
      data_dir: see ``resolve_data_dir``.
      seed: picks ``max_per_class`` images per class (all when None).
      dataset: one of ``NAMES``; domain: one of its domains (or None).
      classes: class folder names.
      image_size: side S of the square RGB images.
    """
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be an int >= 1. Received: "
                         f"image_size={image_size!r}")
    if max_per_class is not None and (not isinstance(max_per_class, int)
                                      or max_per_class < 1):
        raise ValueError(f"max_per_class must be an int >= 1 or None. "
                         f"Received: max_per_class={max_per_class!r}")
    files = image_files(dataset, data_dir, domain, classes)
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for i, (c, fs) in enumerate(files.items()):
        if max_per_class is not None and len(fs) > max_per_class:
            fs = sorted(rng.choice(fs, max_per_class, replace=False))
        paths += fs
        labels += [i] * len(fs)
    cls = tuple(files)
    return ClassFolderImages(
        images=read_images(paths, image_size),
        labels=np.asarray(labels, np.int64), classes=cls,
        names=display_names(dataset, cls, data_dir), files=tuple(paths),
        dataset=dataset, domain=domain)


def _loader(dataset: str, default_domain: str | None
            ) -> Callable[..., ClassFolderImages]:
    def load(data_dir: str | None = None, seed: int = 0,
             domain: str | None = default_domain,
             classes: Iterable[str] | None = None,
             image_size: int = 64, max_per_class: int | None = None
             ) -> ClassFolderImages:
        return load_class_folders(data_dir, seed, dataset, domain, classes,
                                  image_size, max_per_class)

    load.__name__ = f"load_{dataset}"
    load.__doc__ = (f"{dataset}: see :func:`load_class_folders` "
                    f"({LAYOUTS[dataset].layout}).")
    return load


load_office31 = _loader("office31", "amazon")
load_office_caltech10 = _loader("office_caltech10", "amazon")
load_office_home = _loader("office_home", "Art")
load_caltech101 = _loader("caltech101", None)
load_caltech256 = _loader("caltech256", None)
load_tiny_imagenet = _loader("tiny_imagenet", None)
LOADERS = {"office31": load_office31,
           "office_caltech10": load_office_caltech10,
           "office_home": load_office_home, "caltech101": load_caltech101,
           "caltech256": load_caltech256,
           "tiny_imagenet": load_tiny_imagenet}
