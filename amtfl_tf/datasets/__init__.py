"""Datasets: one entry point, ``load(name, data_dir=None, seed=0, **options)``.

Registered names:

- ``"mnist"``: :class:`Mnist` (official idx files; ``backend="tfds"``
  optional).
- ``"mnist_imbalanced"``: :class:`MnistImbalanced` (Deep-AMTFL Table 2).
- ``"omniglot"``: :class:`Omniglot` (50 alphabets, 32,460 drawings).
- ``"school"``: :class:`School` (139 schools, Argyriou et al.'s 10 splits).
- ``"synthetic_amtfl"``: :class:`SyntheticAMTFL` (Deep-AMTFL Sec. 4.1;
  generated from ``seed``).

Every file is verified against its published sha256. Missing files are
downloaded from the official source where the network allows; otherwise a
:class:`DatasetNotFoundError` names the dataset, the files expected, where
they come from and ``--data_dir`` / ``AMTFL_TF_DATA_DIR``. A corrupt file
raises :class:`ChecksumError`.
"""

from amtfl_tf.datasets.files import DATA_DIR_ENV
from amtfl_tf.datasets.files import ChecksumError
from amtfl_tf.datasets.files import DatasetError
from amtfl_tf.datasets.files import DatasetNotFoundError
from amtfl_tf.datasets.files import resolve_data_dir
from amtfl_tf.datasets.mnist import Mnist
from amtfl_tf.datasets.mnist import MnistImbalanced
from amtfl_tf.datasets.mnist import load_mnist
from amtfl_tf.datasets.mnist import load_mnist_imbalanced
from amtfl_tf.datasets.omniglot import Omniglot
from amtfl_tf.datasets.omniglot import load_omniglot
from amtfl_tf.datasets.registry import describe
from amtfl_tf.datasets.registry import load
from amtfl_tf.datasets.registry import names
from amtfl_tf.datasets.registry import register
from amtfl_tf.datasets.school import School
from amtfl_tf.datasets.school import SchoolSplit
from amtfl_tf.datasets.school import load_school
from amtfl_tf.datasets.synthetic import SyntheticAMTFL
from amtfl_tf.datasets.synthetic import TaskSplit
from amtfl_tf.datasets.synthetic import make_synthetic_amtfl

register("mnist", load_mnist,
         "MNIST 60,000/10,000 digits, 28x28 uint8 (official idx files)")
register("mnist_imbalanced", load_mnist_imbalanced,
         "Deep-AMTFL's MNIST-Imbalanced: 200, 180, ..., 20 training images "
         "for classes 0..9")
register("omniglot", load_omniglot,
         "Omniglot 50 alphabets, 1,623 characters x 20 drawings, 105x105")
register("school", load_school,
         "School (ILEA) 15,362 students, 139 schools, 10 splits")
register("synthetic_amtfl", make_synthetic_amtfl,
         "Deep-AMTFL's synthetic regression tasks (6 bases, easy/hard)")

__all__ = [
    "DATA_DIR_ENV", "ChecksumError", "DatasetError", "DatasetNotFoundError",
    "Mnist", "MnistImbalanced", "Omniglot", "School", "SchoolSplit",
    "SyntheticAMTFL", "TaskSplit", "describe", "load", "load_mnist",
    "load_mnist_imbalanced", "load_omniglot",
    "load_school", "make_synthetic_amtfl", "names", "register",
    "resolve_data_dir",
]

from amtfl_tf.datasets.adience import Adience  # noqa: E402
from amtfl_tf.datasets.adience import load_adience  # noqa: E402

register("adience", load_adience,
         "AdienceFaces 19,487 aligned faces in 5 folds, gender (2) and "
         "Levi & Hassner age group (8); no download (registration form)")
__all__ += ["Adience", "load_adience"]

# DAMTL's real data: class-folder image datasets (not downloadable).
from amtfl_tf.datasets import class_folders  # noqa: E402
from amtfl_tf.datasets.class_folders import ClassFolderImages  # noqa: E402

for _name, _desc in (
        ("office31", "Office-31 (Amazon/Webcam/DSLR), class folders"),
        ("office_caltech10", "Office-Caltech10 (4 domains), class folders"),
        ("office_home", "Office-Home (Art/Clipart/Product/Real World), "
                        "class folders"),
        ("caltech101", "Caltech-101 101_ObjectCategories, class folders"),
        ("caltech256", "Caltech-256 256_ObjectCategories, class folders"),
        ("tiny_imagenet", "Tiny ImageNet train/<wnid>/images, class "
                          "folders")):
    register(_name, class_folders.LOADERS[_name], _desc)
del _name, _desc

__all__ += ["ClassFolderImages", "class_folders"]
