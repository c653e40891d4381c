r"""Gauss-Hermite quadrature for expectations over a normal law, on tensors.

For :math:`Z \sim N(0, 1)`, :math:`\mathbb E f(Z) \approx \sum_i w_i f(z_i)` with
:math:`z_i = \sqrt2 x_i`, :math:`w_i = \omega_i/\sqrt\pi` from the physicists' rule
:math:`(x_i, \omega_i)` of :func:`numpy.polynomial.hermite.hermgauss`; exact for polynomials of
degree :math:`< 2n`. For an integrand :math:`f(\beta z)` with a logistic kernel the error grows
with the sharpness :math:`\beta r` (96 nodes, :math:`A` and :math:`B` of DPO: 3e-12 at
:math:`\beta r = 2`, 3e-7 at 4, 2e-4 at 8), so :func:`rule_for` switches to the trapezoidal rule on
a uniform grid :math:`z \in [-9, 9]` with spacing :math:`h = \min(0.3, 0.25/(\beta r))`: for a
kernel analytic in the strip :math:`|\operatorname{Im} x| < \pi` its error is
:math:`O(e^{-2\pi^2/(\beta r h)}) \le e^{-78}`, plus the :math:`\Pr(|Z| > 9) \approx 2\cdot10^{-19}` tail.

>>> import torch
>>> rule = hermite_rule(20)
>>> round(float(normal_expectation(lambda z: z**2, torch.tensor(0.0), torch.tensor(2.0), rule)), 12)
4.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from prefdyn.errors import require

#: Default number of Gauss-Hermite nodes, and the sharpness beta*r up to which they are used.
DEFAULT_NODES = 96
HERMITE_MAX_SHARPNESS = 2.0
#: Largest trapezoidal grid (memory grows with nodes x behaviours x settings): sharpness up to
#: about 13,900 (beyond, the theory refuses with a clear error instead of exhausting memory).
MAX_TRAPEZOID_NODES = 1_000_001


@dataclass(frozen=True)
class HermiteRule:
    """Nodes ``z`` and weights ``w`` (summing to 1, Gauss-Hermite or trapezoidal) for
    :math:`\\mathbb E f(Z)`, :math:`Z\\sim N(0,1)`."""

    z: torch.Tensor
    w: torch.Tensor


@lru_cache(maxsize=16)
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite.hermgauss(n)
    return np.sqrt(2.0) * x, w / np.sqrt(np.pi)


def hermite_rule(
    n: int = DEFAULT_NODES, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
) -> HermiteRule:
    """The ``n``-node rule for the standard normal law."""
    z, w = _nodes(n)
    return HermiteRule(torch.as_tensor(z, dtype=dtype, device=device), torch.as_tensor(w, dtype=dtype, device=device))


def normal_expectation(
    f: Callable[[torch.Tensor], torch.Tensor], mean: torch.Tensor, std: torch.Tensor, rule: HermiteRule
) -> torch.Tensor:
    r""":math:`\mathbb E f(X)`, :math:`X \sim N(\text{mean}, \text{std}^2)`, broadcast over ``mean, std``."""
    x = mean.unsqueeze(-1) + std.unsqueeze(-1) * rule.z
    return (f(x) * rule.w).sum(-1)


def trapezoid_rule(
    sharpness: float, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
) -> HermiteRule:
    """Uniform-grid rule on ``[-9, 9]`` resolving a kernel of width ``1/sharpness`` (module docstring)."""
    h = min(0.3, 0.25 / sharpness)
    require(
        18.0 / h < MAX_TRAPEZOID_NODES,
        "beta",
        f"the margin kernel is too sharp for the theory's quadrature (beta x margin scale = "
        f"{sharpness:.4g} needs {18.0 / h:.0f} nodes, at most {MAX_TRAPEZOID_NODES}); lower "
        "beta or the embedding scale",
    )
    z = torch.arange(-9.0, 9.0 + h / 2, h, dtype=dtype, device=device)
    w = torch.exp(-z * z / 2)
    return HermiteRule(z, w / w.sum())


def rule_for(sharpness: torch.Tensor, rule: HermiteRule) -> HermiteRule:
    """``rule`` when ``max(sharpness) <= HERMITE_MAX_SHARPNESS``, else a fine trapezoidal rule."""
    top = float(sharpness.max()) if sharpness.numel() else 0.0
    if top <= HERMITE_MAX_SHARPNESS:
        return rule
    return trapezoid_rule(top, rule.z.dtype, rule.z.device)
