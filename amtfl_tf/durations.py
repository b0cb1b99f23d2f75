"""Durations as short text, for progress lines (no TensorFlow import)."""

from __future__ import annotations


def hms(seconds: float) -> str:
    """A duration as ``45s``, ``3m05s`` or ``2h07m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
