"""Train (or load) a multi-task model and export it as a .keras file and a
TensorFlow SavedModel whose `serve` endpoint returns per-task probabilities.

  python reproductions/export_savedmodel.py --method=deep-amtfl --epochs=20
  python reproductions/export_savedmodel.py --keras_file=path/model.keras

The model is trained on MNIST-Imbalanced (Table 2's setting) unless
--keras_file names a saved model. Writes <workdir>/model.keras and
<workdir>/saved_model/.
"""

import json
import os

from absl import flags

from amtfl_tf import cli

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("method", "deep-amtfl",
                  ["cnn", "mt-cnn", "deep-amtl", "deep-amtfl"],
                  "Model to train when --keras_file is not given.")
flags.DEFINE_integer("epochs", 20, "Training epochs on MNIST-Imbalanced.",
                     lower_bound=1)
flags.DEFINE_string("keras_file", None, "Export this saved model instead.")


def main(argv):
    cfg = cli.common_config(FLAGS, "export_savedmodel", argv)
    with cfg.activate():
        export_one(cfg)


def export_one(cfg):
    from amtfl_tf import export
    from amtfl_tf.experiments.amtfl import table2

    if FLAGS.keras_file:
        model = export.load_model(FLAGS.keras_file, "--keras_file")
        error = None
    else:
        s = table2.settings_for(cfg.profile, cfg.seed, epochs=FLAGS.epochs)
        problem = table2.mnist_imbalanced_problem(cfg, s, 1)
        model, _ = table2.train_model(FLAGS.method, problem, s, cfg.seed,
                                      "lenet_conv")
        error = table2.evaluate_model(model, problem)["error_per_class"]
    paths = export.export_model(model, cfg.workdir)
    # with --keras_file the method is the loaded model's, not the flag's
    method = (getattr(model, "method", None) or type(model).__name__
              if FLAGS.keras_file else FLAGS.method)
    summary = {"paths": paths, "method": method,
               "keras_file": FLAGS.keras_file,
               "per_class_error_pct": error,
               "example_shape": list(model.example_shape)}
    with open(os.path.join(cfg.workdir, "export.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[export_savedmodel] wrote {paths['keras']} and "
          f"{paths['saved_model']} (serve: x {list(model.example_shape)} "
          f"-> per-task probabilities); per-class error {error}")


if __name__ == "__main__":
    cli.run_main(main)
