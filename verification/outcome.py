r"""What a property reports for one example: comparisons of observed and claimed values.

A :class:`Comparison` holds tensors of observed and claimed values, the relation the theorem
asserts between them (``"="``: equal within ``radius``; ``"<="``: observed :math:`\le` claimed +
radius, an upper bound; ``">="``: observed :math:`\ge` claimed - radius, a lower bound) and the
radius (statistical or floating point, :mod:`prefdyn.verification.tolerance`).

The *violation* of a comparison is the largest excess over its radius, in the quantity's units:
:math:`\max(|o - c| - r)` for ``=``, :math:`\max(o - c - r)` for ``<=``, :math:`\max(c - o - r)`
for ``>=``; it is :math:`\le 0` exactly when the comparison holds (a NaN counts as :math:`+\infty`). The *tightness* of a bound is
``claimed / observed`` (bound over observed), reported where both are non-zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class Comparison:
    """``observed`` vs ``claimed`` (broadcast tensors) under ``relation`` with ``radius``."""

    label: str
    observed: torch.Tensor
    claimed: torch.Tensor
    relation: str
    radius: torch.Tensor | float = 0.0

    def excess(self) -> torch.Tensor:
        o, c = torch.broadcast_tensors(self.observed.double(), torch.as_tensor(self.claimed, dtype=torch.float64))
        gap = {"=": (o - c).abs(), "<=": o - c, ">=": c - o}[self.relation]
        excess = gap - torch.as_tensor(self.radius, dtype=torch.float64)
        return torch.nan_to_num(excess, nan=math.inf)  # a non-finite value never passes

    def ratios(self) -> list[float]:
        if self.relation == "=":
            return []
        o, c = torch.broadcast_tensors(self.observed.double(), torch.as_tensor(self.claimed, dtype=torch.float64))
        keep = (o.abs() > 1e-12) & (c.abs() > 1e-12)  # a bound of 0 has no ratio
        return (c[keep] / o[keep]).flatten().tolist()


@dataclass(frozen=True)
class Outcome:
    """All comparisons of one example (an example with none is vacuous and passes)."""

    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def violation(self) -> float:
        values = [float(c.excess().max()) for c in self.comparisons if c.excess().numel()]
        return max(values, default=float("-inf"))

    @property
    def ratios(self) -> list[float]:
        return [r for c in self.comparisons for r in c.ratios()]

    def worst(self) -> str:
        """``label: observed ... vs claimed ...`` of the most violated entry."""
        best: tuple[float, str] = (float("-inf"), "no comparison")
        for c in self.comparisons:
            excess = c.excess()
            if not excess.numel():
                continue
            i = int(excess.flatten().argmax())
            o, cl = torch.broadcast_tensors(c.observed.double(), torch.as_tensor(c.claimed, dtype=torch.float64))
            radius = torch.as_tensor(c.radius, dtype=torch.float64).expand_as(o).flatten()[i]
            text = (f"{c.label}: observed {float(o.flatten()[i]):.6g} {c.relation} claimed "
                    f"{float(cl.flatten()[i]):.6g} (tolerance {float(radius):.3g})")
            best = max(best, (float(excess.flatten()[i]), text))
        return best[1]
