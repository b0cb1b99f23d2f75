"""Deep-AMTFL Table 2 (MNIST-Imbalanced): MT-CNN and Deep-AMTFL under the
authors' Adam ε and cross-entropy against Keras' defaults, paired by run
(what made ours trail the authors' TF1 code; see
amtfl_tf.experiments.amtfl.table2_variants).

  python reproductions/table2_variants.py --profile=quick
  python reproductions/table2_variants.py --profile=faithful \
      --variants=authors,bfloat16 --notf1_reference   # bfloat16 vs float32

Writes figures/<profile>/table2_variants/mnist_imbalanced/.
"""

import os

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import table2_variants

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_list("variants", list(table2_variants.DEFAULT_VARIANTS),
                  "Which variants to run ('authors' is always needed), of "
                  f"{', '.join(table2_variants.VARIANTS)}.")
flags.DEFINE_integer("runs", None,
                     "Runs (seeds seed+1..seed+runs); default: the "
                     "profile's (quick and faithful 2, paper 5).",
                     lower_bound=1)
flags.DEFINE_bool("tf1_reference", True,
                  "Also train the authors' TF1 graph per run (MT-CNN and "
                  "Deep-AMTFL) for the paired 'ours trails theirs' claim.")


def main(argv):
    cfg = cli.common_config(FLAGS, "table2_variants", argv)
    overrides = {} if FLAGS.runs is None else {"runs": FLAGS.runs}
    results = table2_variants.run(cfg, variants=tuple(FLAGS.variants),
                                  tf1_reference=FLAGS.tf1_reference,
                                  **overrides)
    cli.report(cfg, results, os.path.join(cfg.workdir, "mnist_imbalanced"))


if __name__ == "__main__":
    cli.run_main(main)
