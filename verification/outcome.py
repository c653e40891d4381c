r"""What a property reports for one example: comparisons of observed and claimed values.

A :class:`Comparison` holds tensors of observed and claimed values, the relation the theorem
asserts between them (``"="``: equal within ``radius``; ``"<="``: observed :math:`\le` claimed +
radius, an upper bound; ``">="``: observed :math:`\ge` claimed - radius, a lower bound) and the
radius (statistical or floating point, :mod:`prefdyn.verification.tolerance`).

The *violation* of a comparison is the largest excess over its radius, in the quantity's units:
:math:`\max(|o - c| - r)` for ``=``, :math:`\max(o - c - r)` for ``<=``, :math:`\max(c - o - r)`
for ``>=``; it is :math:`\le 0` exactly when the comparison holds (a NaN counts as :math:`+\infty`).

A bound can hold and still say nothing: a lower bound of :math:`-1.7` on an accuracy. A bound
value is *informative* when it is finite and strictly inside the quantity's natural range
:math:`[a, b]`: a lower bound (``>=``) above :math:`a`, an upper bound (``<=``) below :math:`b`
-- for a probability (a label naming an accuracy or a probability), bound :math:`> 0` and
:math:`< 1`; for a norm or absolute value (a label starting with ``|``), :math:`[0, \infty)`;
otherwise the range is unbounded and every finite bound is informative
(:func:`natural_range`; a :class:`Comparison` may also state its range). The *tightness* of a
bound is ``claimed / observed`` (bound over observed), reported only over informative values
whose bound and observed value are non-zero and of the same sign: a vacuous bound has no
meaningful tightness (a ratio of :math:`-1.68` says the bound is negative, not that it is
loose by a factor), and the share of informative values is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


def natural_range(label: str) -> tuple[float, float]:
    """The range a quantity takes whatever the theorem says, from its comparison label: a
    probability (the label names an accuracy or a probability) lies in :math:`[0, 1]`, a norm or
    absolute value (the label starts with ``|``) in :math:`[0, \\infty)`; anything else is
    unbounded."""
    text = label.strip().lower()
    if "accuracy" in text or "probability" in text:
        return 0.0, 1.0
    if text.startswith("|"):
        return 0.0, math.inf
    return -math.inf, math.inf


@dataclass(frozen=True)
class Comparison:
    """``observed`` vs ``claimed`` (broadcast tensors) under ``relation`` with ``radius``;
    ``natural`` is the quantity's range (``None``: :func:`natural_range` of the label)."""

    label: str
    observed: torch.Tensor
    claimed: torch.Tensor
    relation: str
    radius: torch.Tensor | float = 0.0
    natural: tuple[float, float] | None = None

    @property
    def is_bound(self) -> bool:
        return self.relation in ("<=", ">=")

    def informative(self) -> torch.Tensor:
        """Per entry: whether the bound says something (module docstring); empty for ``=``."""
        if not self.is_bound:
            return torch.zeros(0, dtype=torch.bool)
        low, high = self.natural or natural_range(self.label)
        _, c = torch.broadcast_tensors(self.observed.double(), torch.as_tensor(self.claimed, dtype=torch.float64))
        inside = c > low if self.relation == ">=" else c < high
        return (torch.isfinite(c) & inside).flatten()

    def excess(self) -> torch.Tensor:
        o, c = torch.broadcast_tensors(self.observed.double(), torch.as_tensor(self.claimed, dtype=torch.float64))
        gap = {"=": (o - c).abs(), "<=": o - c, ">=": c - o}[self.relation]
        excess = gap - torch.as_tensor(self.radius, dtype=torch.float64)
        return torch.nan_to_num(excess, nan=math.inf)  # a non-finite value never passes

    def ratios(self) -> list[float]:
        """``claimed / observed`` over the informative entries whose two values are non-zero
        and of the same sign (module docstring); always positive."""
        if not self.is_bound:
            return []
        o, c = torch.broadcast_tensors(self.observed.double(), torch.as_tensor(self.claimed, dtype=torch.float64))
        o, c = o.flatten(), c.flatten()
        keep = self.informative() & (o.abs() > 1e-12) & (c.abs() > 1e-12) & (torch.sign(o) == torch.sign(c))
        return (c[keep] / o[keep]).tolist()


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

    def bounds(self) -> dict[str, tuple[int, int, str, tuple[float, float]]]:
        """Per bound (label): ``(informative entries, entries, relation, natural range)`` in
        this example."""
        out: dict[str, tuple[int, int, str, tuple[float, float]]] = {}
        for c in self.comparisons:
            if c.is_bound:
                mask = c.informative()
                k, n, _, _ = out.get(c.label, (0, 0, c.relation, (0.0, 0.0)))
                out[c.label] = (k + int(mask.sum()), n + mask.numel(), c.relation, c.natural or natural_range(c.label))
        return out

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
            text = (
                f"{c.label}: observed {float(o.flatten()[i]):.6g} {c.relation} claimed "
                f"{float(cl.flatten()[i]):.6g} (tolerance {float(radius):.3g})"
            )
            best = max(best, (float(excess.flatten()[i]), text))
        return best[1]
