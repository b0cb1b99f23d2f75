"""Load every offline dataset, compare its size with the papers' and draw a
sample sheet per dataset.

  python reproductions/data_overview.py [--data_dir=...] [--workdir=...]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments import data_overview

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)


def main(argv):
    cfg = cli.common_config(FLAGS, "data_overview", argv)
    results = data_overview.run(cfg)
    held = sum(c.holds for c in results.claims)
    print(f"[data_overview] wrote {cfg.workdir}/results.json, table.md and "
          f"{', '.join(results.figures)}; {held}/{len(results.claims)} "
          f"claims hold")


if __name__ == "__main__":
    cli.run_main(main)
