"""Deep-AMTFL Fig. 5: RMSE on easy/hard/all synthetic tasks, per-task
reduction over STL, and RMSE/training time as the number of tasks grows.

  python reproductions/fig5_synthetic.py [--profile=quick] [--seed=0]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import fig5_synthetic

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
cli.define_synthetic_flags(FLAGS)
flags.DEFINE_string("scaling_json", None,
                    "The side-by-side timing JSON of benchmarks/"
                    "amtl_scaling.py that Fig. 5(c)'s time claim reads "
                    "(default benchmarks/results/amtl_scaling.json).")


def main(argv):
    cfg = cli.common_config(FLAGS, "fig5_synthetic", argv)
    results = fig5_synthetic.run(cfg, scaling_json=FLAGS.scaling_json,
                                 noise_on=FLAGS.noise_on,
                                 num_latent=FLAGS.num_latent)
    cli.report(cfg, results)


if __name__ == "__main__":
    cli.run_main(main)
