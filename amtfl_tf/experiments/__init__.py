"""The logic behind the reproduction scripts (split loops, seeding,
progress), kept here so scripts stay thin and the logic is testable."""

from amtfl_tf.experiments.progress import Progress
from amtfl_tf.experiments.runner import run_splits
from amtfl_tf.experiments.runner import seed_everything

__all__ = ["Progress", "run_splits", "seed_everything"]
