"""Shared figure conventions (matplotlib, Agg backend) for every prefdyn figure.

* Colours: the Okabe--Ito colour-blind-safe palette (Okabe & Ito, 2008), ordered so that the
  first colours are the most distinct on white; behaviours also differ by marker, so a greyscale
  print still separates them.
* Type and axes: :func:`style` (a ``with`` block of matplotlib settings): one base font size,
  labels and titles at it, legends and ticks a point smaller, no top or right spine, a light
  grid, TrueType fonts in PDFs and a fixed SVG hash salt.
* Files: :func:`save` writes a vector PDF and a 200-dpi PNG with fixed metadata (no timestamps),
  so the same data give byte-identical files.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def colour(i: int) -> str:
    """The ``i``-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    """The ``i``-th marker (cycling)."""
    return MARKERS[i % len(MARKERS)]


def style(size: float = 9) -> AbstractContextManager[Any]:
    """The figure conventions (module docstring) for the figures drawn inside the block.

    Parameters
    ----------
    size : float
        Base font size in points (9 for the report's figures, 8 for denser grids).

    Returns
    -------
    contextlib.AbstractContextManager
        A :func:`matplotlib.pyplot.rc_context` with the settings.
    """
    return plt.rc_context({
        "font.size": size, "axes.labelsize": size, "axes.titlesize": size,
        "legend.fontsize": size - 1, "xtick.labelsize": size - 1, "ytick.labelsize": size - 1,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "lines.linewidth": 1.5, "pdf.fonttype": 42, "svg.hashsalt": "prefdyn", "figure.dpi": 100,
    })


def save(fig: Figure, outdir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` under ``outdir`` without timestamps; close ``fig``."""
    outdir.mkdir(parents=True, exist_ok=True)
    pdf, png = outdir / f"{name}.pdf", outdir / f"{name}.png"
    fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    fig.savefig(png, dpi=200, metadata={"Software": None})
    plt.close(fig)
    return [pdf, png]
