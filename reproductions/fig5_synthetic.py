"""Deep-AMTFL Fig. 5: RMSE on easy/hard/all synthetic tasks, per-task
reduction over STL, and RMSE/training time as the number of tasks grows.

  python reproductions/fig5_synthetic.py [--profile=quick] [--seed=0]
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.amtfl import fig5_synthetic

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
