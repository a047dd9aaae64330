"""A figure off-screen and its PNG written atomically: how every plot of deepshrink starts and ends.

matplotlib is imported only when a figure is asked for (heavy to import, and most calls plot
nothing), with the Agg backend so no display is needed; figures are :class:`matplotlib.figure.Figure`
objects, never pyplot's global state, so plotting is safe in worker processes and threads.
"""

from __future__ import annotations

import io
import os
from typing import Any

from deepshrink.fileio import atomic_write

__all__ = ["new_figure", "save_png"]


def new_figure(width: float, height: float) -> Any:
    """An empty figure of ``width`` x ``height`` inches (add axes with ``fig.add_subplot``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def save_png(fig: Any, path: str | os.PathLike, dpi: int = 110) -> None:
    """Lay ``fig`` out tightly and write it to ``path`` as a PNG, atomically (never a half-written file)."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    atomic_write(path, buffer.getvalue())
