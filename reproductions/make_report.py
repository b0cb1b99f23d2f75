"""figures/REPORT.md from every run folder's results.json (run_all.sh
calls it last): each item at the most faithful profile run so far
(figures/paper/, then figures/faithful/, then figures/quick/).

  python reproductions/make_report.py [--figures_dir=figures]

A --figures_dir without profile subfolders is read as one profile's folder.
"""

import os

from absl import flags

from amtfl_tf import cli
from amtfl_tf import report

FLAGS = flags.FLAGS
flags.DEFINE_string("figures_dir", None,
                    "Folder holding the run folders (default: figures/).")


def main(argv):
    if len(argv) > 1:
        raise ValueError(f"Unexpected positional arguments. Received: "
                         f"argv={list(argv)!r}")
    folder = FLAGS.figures_dir or os.path.dirname(os.path.dirname(
        cli.default_workdir("x")))
    print(f"wrote {report.write_report(folder)}")


if __name__ == "__main__":
    cli.run_main(main)
