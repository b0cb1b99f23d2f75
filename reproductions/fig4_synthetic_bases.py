"""Deep-AMTFL Fig. 4: true vs learned bases and parameters on the synthetic
data (8 heat maps) plus basis-recovery scores.

  python reproductions/fig4_synthetic_bases.py [--profile=quick] [--seed=0]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import fig4_bases as fig4_synthetic

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("noise_on", "parameters",
                  ["parameters", "parameters_norm", "outputs"],
                  "Where the easy/hard noise σ goes: 'parameters' (the "
                  "paper's text: N(0, σ²) on every coordinate of w_t), "
                  "'parameters_norm' (‖ε‖ ≈ σ) or 'outputs' (y = x·w_t + "
                  "N(0, σ²)); see amtfl_tf/datasets/synthetic.py.")
flags.DEFINE_integer("num_latent", None,
                     "Latent bases k of GO-MTL and AMTFL (default: the "
                     "rank of the true parameters W*: min(T, 30) with the "
                     "noise on the parameters, 6 on the outputs).",
                     lower_bound=1)


def main(argv):
    cfg = cli.common_config(FLAGS, "fig4_synthetic_bases", argv)
    results = fig4_synthetic.run(cfg, noise_on=FLAGS.noise_on,
                                 num_latent=FLAGS.num_latent)
    cli.report(cfg, results)


if __name__ == "__main__":
    cli.run_main(main)
