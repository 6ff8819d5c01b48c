"""Figures: drawn with matplotlib's object API (no pyplot, so no display and no global backend
switch in the user's process), saved atomically as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from motorgym.agents.checkpoint import atomic_write

DPI = 110


def subplots(rows: int = 1, columns: int = 1, figsize: tuple[float, float] = (6.0, 4.0)) -> tuple[Figure, Any]:
    """A new figure and its axes, as ``pyplot.subplots``."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, columns)


def save_figure(figure: Figure, path: Path) -> Path:
    """Lay out and save a figure (PNG, atomically)."""
    figure.tight_layout()
    atomic_write(path, lambda file: figure.savefig(file, format="png", dpi=DPI))
    return path


__all__ = ["Figure", "save_figure", "subplots"]
