"""DMTRL Fig. 4 (Omniglot, 50 alphabets as tasks): mean error vs training
fraction, the sharing strength ρ per layer, and the most / least related
alphabet pairs at FC1.

  python reproductions/dmtrl_fig4_omniglot.py [--profile=quick]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.dmtrl import fig4_omniglot as dmtrl_omniglot

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_dmtrl_flags(FLAGS, extra=("image_size", "per_task"))


def main(argv):
    cfg = cli.common_config(FLAGS, "dmtrl_fig4_omniglot", argv)
    cli.report(cfg, dmtrl_omniglot.run(cfg, **cli.dmtrl_overrides(FLAGS)))


if __name__ == "__main__":
    cli.run_main(main)
