"""Notation entries shared by several theorems (their "where" clauses)."""

from __future__ import annotations

import sympy as sp

from ..losses import Loss


def loss_parameters(loss: Loss) -> dict[sp.Basic, str]:
    """Meanings of the loss's own parameters (e.g. cDPO's label smoothing), with their values."""
    return {s: rf"is a parameter of $\phi_{{\mathrm{{{loss.name}}}}}$ (here ${sp.latex(v)}$)"
            for s, v in loss.params.items()}
