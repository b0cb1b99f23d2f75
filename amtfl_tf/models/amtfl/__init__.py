"""Deep-AMTFL (Lee, Yang & Hwang, ICML 2018) and its comparisons.

- :mod:`~amtfl_tf.models.amtfl.shallow`: Sec. 4.1's shallow models
  (STL, GO-MTL, AMTL, NN, MT-NN, AMTFL; ``METHODS``) and DMTRL Appendix A's
  classic baselines (Evgeniou & Pontil, MTFL), defined in
  :mod:`~amtfl_tf.models.amtfl.linear`, :mod:`~amtfl_tf.models.amtfl.neural`
  and :mod:`~amtfl_tf.models.amtfl.classic` and re-exported there;
- :mod:`~amtfl_tf.models.amtfl.deep`: Sec. 4.2's :class:`DeepMultiTaskModel`
  (CNN, MT-CNN, Deep-AMTL, Deep-AMTFL on a backbone).
"""
