"""MNIST from the four official idx ``.gz`` files.

Default reader: the idx files directly (numpy), in the files' own order.
Optional ``backend="tfds"``: TensorFlow Datasets' ``mnist`` builder, fed
offline from the same verified files through its ``manual_dir``. The direct
reader is the default because (1) it keeps the official file order, which the
Deep-AMTFL authors' MNIST-Imbalanced recipe relies on ("the first N_t images
of each class"); tfds shuffles examples while preparing; (2) it needs no
one-off TFRecord build (about 10 s and a second copy on disk).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from typing import Sequence

import numpy as np

from amtfl_tf.datasets import files as _files
from amtfl_tf.datasets.registry import compact_repr

_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

FILES = _files.DatasetFiles(
    dataset="mnist",
    subdir="mnist",
    source=("Y. LeCun et al., the official MNIST idx files "
            "(yann.lecun.com/exdb/mnist), as mirrored by TensorFlow "
            "Datasets at " + _URL),
    files=(
        _files.FileSpec(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            9912422, _URL + "train-images-idx3-ubyte.gz"),
        _files.FileSpec(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            28881, _URL + "train-labels-idx1-ubyte.gz"),
        _files.FileSpec(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            1648877, _URL + "t10k-images-idx3-ubyte.gz"),
        _files.FileSpec(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            4542, _URL + "t10k-labels-idx1-ubyte.gz"),
    ),
)

BACKENDS = ("idx", "tfds")


@compact_repr
@dataclasses.dataclass(frozen=True)
class Mnist:
    """MNIST as numpy arrays.

    Attributes:
      train_images: uint8 ``(60000, 28, 28)``, 0 = background, 255 = ink.
      train_labels: uint8 ``(60000,)`` in 0..9.
      test_images: uint8 ``(10000, 28, 28)``.
      test_labels: uint8 ``(10000,)``.
      backend: ``"idx"`` (file order) or ``"tfds"`` (tfds order).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    backend: str = "idx"


def _read_idx(path: str, magic: int, ndim: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise _files.DatasetError(f"mnist: {path} is too short for idx.")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise _files.DatasetError(
            f"mnist: {path} has idx magic {got}, expected {magic}.")
    dims = [int.from_bytes(raw[4 * (i + 1):4 * (i + 2)], "big")
            for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=header)
    if data.size != int(np.prod(dims)):
        raise _files.DatasetError(
            f"mnist: {path} holds {data.size} bytes, header says {dims}.")
    return data.reshape(dims)


def load_mnist(data_dir: str | None = None, seed: int = 0,
               backend: str = "idx", download: bool = True) -> Mnist:
    """Load MNIST (60,000 train / 10,000 test), checksum-verified.

    Args:
      data_dir: folder holding ``mnist/``; see ``resolve_data_dir``.
      seed: unused (the data are fixed); accepted for the registry contract.
      backend: ``"idx"`` (default; official file order) or ``"tfds"``.
      download: fetch missing files from the tfds mirror if possible.
    """
    del seed
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
    folder = _files.ensure_files(FILES, data_dir, download_missing=download)
    if backend == "tfds":
        return _load_with_tfds(folder)
    path = lambda n: os.path.join(folder, n)  # noqa: E731
    return Mnist(
        train_images=_read_idx(path("train-images-idx3-ubyte.gz"), 2051, 3),
        train_labels=_read_idx(path("train-labels-idx1-ubyte.gz"), 2049, 1),
        test_images=_read_idx(path("t10k-images-idx3-ubyte.gz"), 2051, 3),
        test_labels=_read_idx(path("t10k-labels-idx1-ubyte.gz"), 2049, 1),
        backend="idx",
    )


def _load_with_tfds(folder: str) -> Mnist:
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "backend='tfds' needs tensorflow-datasets "
            "(pip install 'amtfl_tf[tfds]').") from e
    config = tfds.download.DownloadConfig(manual_dir=folder)
    tfds_dir = _files.tfds_cache_dir()
    splits = {}
    for split in ("train", "test"):
        ds = tfds.load("mnist", split=split, data_dir=tfds_dir,
                       batch_size=-1, download=True,
                       download_and_prepare_kwargs={
                           "download_config": config})
        arr = tfds.as_numpy(ds)
        splits[split] = (arr["image"][..., 0].astype(np.uint8),
                         arr["label"].astype(np.uint8))
    return Mnist(*splits["train"], *splits["test"], backend="tfds")


DEFAULT_IMBALANCE = tuple(range(200, 0, -20))  # 200, 180, ..., 20
SELECTIONS = ("first", "random")


@compact_repr
@dataclasses.dataclass(frozen=True)
class MnistImbalanced:
    """Deep-AMTFL's MNIST-Imbalanced (float32 images in [0, 1], NHWC).

    Attributes:
      x_train, y_train: ``counts[c]`` images of class c (1,100 by default).
      x_val, y_val: the rest of the official training set (58,900).
      x_test, y_test: the official 10,000 test images.
      counts: training images per class.
      train_index: indices of the training images in the official file.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    counts: tuple[int, ...]
    train_index: np.ndarray


def load_mnist_imbalanced(data_dir: str | None = None, seed: int = 0,
                          counts: Sequence[int] = DEFAULT_IMBALANCE,
                          selection: str = "first",
                          download: bool = True) -> MnistImbalanced:
    """MNIST-Imbalanced as the Deep-AMTFL authors ran it.

    Args:
      counts: training images for classes 0..9 (200, 180, ..., 20).
      selection: ``"first"``: the first ``counts[c]`` images of class c in
        the official file order (the authors' code); ``"random"``: a random
        sample drawn with ``seed``.
    """
    counts = tuple(int(c) for c in counts)
    if len(counts) != 10 or min(counts) < 1:
        raise ValueError(f"counts must be 10 positive ints. Received: "
                         f"counts={counts!r}")
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}. "
                         f"Received: selection={selection!r}")
    d = load_mnist(data_dir, download=download)
    rng = np.random.default_rng(seed)
    picks = []
    for c, n in enumerate(counts):
        idx = np.flatnonzero(d.train_labels == c)
        picks.append(idx[:n] if selection == "first"
                     else np.sort(rng.choice(idx, n, replace=False)))
    train = np.sort(np.concatenate(picks))
    val = np.setdiff1d(np.arange(len(d.train_labels)), train)

    def images(a):
        return (a.astype(np.float32) / 255.0)[..., None]

    return MnistImbalanced(
        x_train=images(d.train_images[train]),
        y_train=d.train_labels[train].astype(np.int64),
        x_val=images(d.train_images[val]),
        y_val=d.train_labels[val].astype(np.int64),
        x_test=images(d.test_images), y_test=d.test_labels.astype(np.int64),
        counts=counts, train_index=train)
