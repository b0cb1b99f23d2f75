"""Deep-AMTFL Table 1: STL, GO-MTL, AMTL, NN, MT-NN and AMTFL on School,
MNIST (PCA-64), AWA-A and Room, beside the published numbers.

  python reproductions/table1.py --dataset=school
  python reproductions/table1.py --dataset=mnist --profile=paper

AWA-A and Room need user-supplied features (see README, "Datasets").
Writes figures/table1/<dataset>/{results.json,table.md,config.json}.
"""

import os

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import table1

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("dataset", "all", list(table1.DATASETS) + ["all"],
                  "Which column of Table 1; 'all' runs school and mnist, "
                  "and awa_a/room where their features are supplied.")


def report(cfg, name):
    cli.report(cfg, table1.run_dataset(cfg, name),
               os.path.join(cfg.workdir, name))


def main(argv):
    cfg = cli.common_config(FLAGS, "table1", argv)
    if FLAGS.dataset != "all":
        report(cfg, FLAGS.dataset)
        return
    for name in table1.DATASETS:
        if name in ("awa_a", "room"):
            try:
                table1.load_features(name, cfg.data_dir)
            except FileNotFoundError as e:
                print(f"[table1] skipping {name}: {e}", flush=True)
                continue
        report(cfg, name)


if __name__ == "__main__":
    cli.run_main(main)
