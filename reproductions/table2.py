"""Deep-AMTFL Table 2: CNN, MT-CNN, Deep-AMTL and Deep-AMTFL on
MNIST-Imbalanced (offline), CUB-200, AWA-C and ImageNet-Small (supplied
data), beside the published numbers.

  python reproductions/table2.py --dataset=mnist_imbalanced
  python reproductions/table2.py --dataset=mnist_imbalanced --profile=paper

Writes figures/table2/<dataset>/{results.json,table.md,config.json}.
"""

import os

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import table2

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("dataset", "mnist_imbalanced",
                  list(table2.DATASETS) + ["all"],
                  "Which column of Table 2; 'all' runs MNIST-Imbalanced and "
                  "every other dataset whose data are present.")
flags.DEFINE_enum("imb_selection", "first", ["first", "random"],
                  "MNIST-Imbalanced training images: the first N_t of each "
                  "class (authors' code) or a random sample per run.")
flags.DEFINE_integer("epochs", None, "Override the profile's epochs.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "Keras dtype policy of the models. float32 is the paper's; "
                  "mixed_bfloat16 is faster on a CPU with AVX512-BF16 "
                  "(benchmarks/levers.py) and is measured against float32 "
                  "by reproductions/table2_variants.py "
                  "--variants=authors,bfloat16 (docs/performance.md); "
                  "profile_changes lists it.")
flags.DEFINE_integer("ramp_steps", 0,
                     "Raise α and γ linearly from 0 over this many steps "
                     "(the paper's CUB setting); 0 = off.")


def report(cfg, name):
    overrides = {"selection": FLAGS.imb_selection,
                 "ramp_steps": FLAGS.ramp_steps,
                 "precision": FLAGS.precision}
    if FLAGS.epochs:
        overrides["epochs"] = FLAGS.epochs
    cli.report(cfg, table2.run_dataset(cfg, name, **overrides),
               os.path.join(cfg.workdir, name))


def main(argv):
    cfg = cli.common_config(FLAGS, "table2", argv)
    if FLAGS.dataset != "all":
        report(cfg, FLAGS.dataset)
        return
    for name in table2.DATASETS:
        try:
            report(cfg, name)
        except FileNotFoundError as e:
            print(f"[table2] skipping {name}: {e}", flush=True)


if __name__ == "__main__":
    cli.run_main(main)
