"""amtfl_tf: TensorFlow 2 / Keras 3 reproduction of three multi-task papers.

- Deep-AMTFL: Lee, Yang, Hwang, "Deep Asymmetric Multi-task Feature
  Learning", ICML 2018 (arXiv:1708.00260).
- DMTRL: Yang, Hospedales, "Deep Multi-task Representation Learning: A
  Tensor Factorisation Approach", ICLR 2017 (arXiv:1605.06391).
- DAMTL: Feng, Chen, "Learning Multi-Tasks with Inconsistent Labels by using
  Auxiliary Big Task" (arXiv:2201.02305).

Subpackages: ``datasets`` (registry and checksum-verified loaders),
``results`` (run folders, results.json, table.md, resume), ``published``
(every number the papers print), ``metrics``, ``plotting``, ``experiments``
(the logic behind the reproduction scripts), ``layers``, ``tensor``,
``objectives`` and ``models``. Importing the package does not import
TensorFlow; the modules that need it do. It registers its Keras classes
(``keras.saving.load_model`` then reloads every model and layer of the
package) as soon as Keras is imported, before or after it
(:mod:`amtfl_tf.registration`).
"""

__version__ = "0.1.0"

from amtfl_tf import registration  # noqa: E402

registration.install()
