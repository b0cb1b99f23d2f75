"""Matplotlib helpers shared by the reproduction scripts (headless Agg
backend; every figure saved as PNG and PDF)."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np


def new_figure(nrows: int = 1, ncols: int = 1,
               size: tuple[float, float] = (6.0, 4.0),
               **kwargs: Any) -> tuple[Any, np.ndarray]:
    """A figure and its axes on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt
    return plt.subplots(nrows, ncols, figsize=size, squeeze=False, **kwargs)


def save_figure(fig: Any, workdir: str, name: str,
                formats: Sequence[str] = ("png", "pdf")) -> list[str]:
    """Save ``fig`` as ``<workdir>/<name>.<fmt>`` (atomically) and close it.

    Returns the file names written, relative to ``workdir``.
    """
    from matplotlib import pyplot as plt
    os.makedirs(workdir, exist_ok=True)
    written = []
    for fmt in formats:
        final = os.path.join(workdir, f"{name}.{fmt}")
        tmp = os.path.join(workdir, f".tmp-{name}.{fmt}")
        # PDFs embed a creation date; drop it so reruns give equal files.
        meta = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(tmp, format=fmt, dpi=120, bbox_inches="tight",
                    metadata=meta)
        os.replace(tmp, final)
        written.append(os.path.basename(final))
    plt.close(fig)
    return written


def image_grid(ax: Any, images: np.ndarray, ncols: int, title: str = "",
               cmap: str = "gray_r") -> None:
    """Tile ``images`` (N, H, W) into one panel with ``ncols`` columns."""
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    nrows = -(-n // ncols)
    canvas = np.zeros((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.float32)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = im
    ax.imshow(canvas, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
