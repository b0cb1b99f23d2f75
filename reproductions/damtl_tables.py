"""DAMTL Tables 4-7 on the paper's real datasets (not available offline).

  python reproductions/damtl_tables.py --setting=po1 [--profile=quick]
      [--data_dir=DIR]

Groups: po1 (Caltech-101 + Caltech-256), po2 (Amazon + Webcam), po3
(DSLR + Product), no1 (Art + Real World), no2 (Caltech-101 + Webcam), no3
(Amazon + Tiny ImageNet); 10 random classes per task (3 shared in po*),
70/30 split. The datasets are read from class folders under --data_dir
(layouts in amtfl_tf/datasets/class_folders.py and docs/damtl.md); a
missing one stops the run at once with the expected path. Writes
<workdir>/<group>/ (default figures/<profile>/damtl_tables/<group>/).
"""

from absl import flags

from amtfl_tf import cli
from amtfl_tf.experiments.damtl import groups as damtl_groups
from amtfl_tf.experiments.damtl import tables as damtl_tables

FLAGS = flags.FLAGS
cli.define_common_flags(FLAGS)
flags.DEFINE_enum("setting", None, list(damtl_groups.GROUPS),
                  "Task group of Tables 2-3.")
flags.mark_flag_as_required("setting")
flags.DEFINE_integer("draws", None, "Class draws (default: profile).")
flags.DEFINE_integer("image_size", None, "Image side after resizing.")
flags.DEFINE_enum("architecture", None,
                  ["vgg_small", "vgg_tiny", "vgg11", "vgg16"],
                  "VGG variant (default: the profile's).")
flags.DEFINE_integer("classes_per_task", None, "Classes per task (10).")
flags.DEFINE_integer("overlap", None, "Shared classes in po groups (3).")
flags.DEFINE_float("train_fraction", None, "Per-class training fraction.")
flags.DEFINE_integer("max_images_per_class", None,
                     "Cap on a class's images (train + test).")
flags.DEFINE_enum("aux", None, list(damtl_groups.AUX_SOURCES),
                  "Auxiliary big task: union of the group's classes, or "
                  "Keras' ImageNet VGG16 (--aux_weights).")
flags.DEFINE_integer("aux_images_per_class", None,
                     "Auxiliary training images per class (union).")
flags.DEFINE_string("aux_weights", None,
                    "Keras VGG16 ImageNet weights file (--aux=imagenet).")
flags.DEFINE_string("class_map_file", None,
                    "JSON {normalised class name: ImageNet index} "
                    "(--aux=imagenet).")
flags.DEFINE_enum("office", None, list(damtl_groups.OFFICE_SOURCES),
                  "Source of Amazon/Webcam/DSLR (default office31).")
cli.define_damtl_flags(FLAGS)

_PROTOCOL = ("draws", "image_size", "architecture", "classes_per_task",
             "overlap", "train_fraction", "max_images_per_class", "aux",
             "aux_images_per_class", "aux_weights", "class_map_file",
             "office")


def main(argv):
    cfg = cli.common_config(FLAGS, "damtl_tables", argv)
    res = damtl_tables.run(cfg, FLAGS.setting,
                           **cli.given_flags(FLAGS, _PROTOCOL),
                           **cli.damtl_overrides(FLAGS))
    cli.report(cfg, res, workdir=f"{cfg.workdir}/{FLAGS.setting}")


if __name__ == "__main__":
    cli.run_main(main)
