"""Deep-AMTFL Fig. 4: true vs learned bases and parameters on the synthetic
data (8 heat maps) plus basis-recovery scores.

  python reproductions/fig4_synthetic_bases.py [--profile=quick] [--seed=0]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import fig4_bases as fig4_synthetic

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_synthetic_flags(FLAGS)


def main(argv):
    cfg = cli.common_config(FLAGS, "fig4_synthetic_bases", argv)
    results = fig4_synthetic.run(cfg, noise_on=FLAGS.noise_on,
                                 num_latent=FLAGS.num_latent)
    cli.report(cfg, results)


if __name__ == "__main__":
    cli.run_main(main)
