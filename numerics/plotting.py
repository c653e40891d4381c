"""Shared figure conventions (matplotlib, Agg backend) for every prefdyn figure.

* Colours: the Okabe--Ito colour-blind-safe palette (Okabe & Ito, 2008), ordered so that the
  first colours are the most distinct on white; behaviours also differ by marker, so a greyscale
  print still separates them.
* Files: :func:`save` writes a vector PDF and a 200-dpi PNG with fixed metadata (no timestamps),
  so the same data give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

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


def save(fig: Figure, outdir: Path, name: str) -> list[Path]:
    """Write ``name.pdf`` and ``name.png`` under ``outdir`` without timestamps; close ``fig``."""
    outdir.mkdir(parents=True, exist_ok=True)
    pdf, png = outdir / f"{name}.pdf", outdir / f"{name}.png"
    fig.savefig(pdf, metadata={"CreationDate": None, "Producer": None, "Creator": None})
    fig.savefig(png, dpi=200, metadata={"Software": None})
    plt.close(fig)
    return [pdf, png]
