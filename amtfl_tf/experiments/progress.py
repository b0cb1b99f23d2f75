"""Progress lines for long runs: ``[3/5] split3 done in 12.1s (elapsed 36s,
eta 24s)``, printed to stderr and flushed at once."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from amtfl_tf.durations import hms


class Progress:
    """Counts finished items of a known total and prints elapsed time and
    an estimate of the time left.

    Args:
      total: number of items.
      name: prefix of every line (e.g. the experiment name).
      stream: where to print (default ``sys.stderr``).
    """

    def __init__(self, total: int, name: str = "", stream: TextIO | None = None,
                 clock=time.monotonic):
        if total < 0:
            raise ValueError(f"total must be >= 0. Received: total={total}")
        self.total = total
        self.name = name
        self.stream = stream
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self.done = 0
        self._timed = 0  # items actually computed (not skipped)
        self._timed_seconds = 0.0

    def _print(self, text: str) -> None:
        prefix = f"[{self.name}] " if self.name else ""
        print(prefix + text, file=self.stream or sys.stderr, flush=True)

    def skip(self, item: str, why: str = "already recorded") -> None:
        """Count an item that needed no work (e.g. resumed)."""
        self.done += 1
        self._last = self._clock()
        self._print(f"[{self.done}/{self.total}] {item}: {why}")

    def step(self, item: str, detail: str = "") -> float:
        """Count an item that was computed; returns its duration."""
        now = self._clock()
        took = now - self._last
        self._last = now
        self.done += 1
        self._timed += 1
        self._timed_seconds += took
        left = self.total - self.done
        eta = self._timed_seconds / self._timed * left
        extra = f" {detail}" if detail else ""
        self._print(
            f"[{self.done}/{self.total}] {item} done in {took:.1f}s{extra} "
            f"(elapsed {hms(now - self._start)}, eta {hms(eta)})")
        return took

    def info(self, text: str) -> None:
        self._print(text)

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start
