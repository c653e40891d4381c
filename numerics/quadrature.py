r"""Gauss-Hermite quadrature for expectations over a normal law, on tensors.

For :math:`Z \sim N(0, 1)`, :math:`\mathbb E f(Z) \approx \sum_i w_i f(z_i)` with
:math:`z_i = \sqrt2 x_i`, :math:`w_i = \omega_i/\sqrt\pi` from the physicists' rule
:math:`(x_i, \omega_i)` of :func:`numpy.polynomial.hermite.hermgauss`; exact for polynomials of
degree :math:`< 2n`, and geometrically convergent for integrands analytic in a strip (the logistic
kernels of DPO at moderate :math:`\beta r`; the error grows when :math:`\beta r \gg n`, where the
integrand has a kink on the node scale).

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

#: Default number of nodes (float64-exact for the DPO kernels up to beta * r of about 10).
DEFAULT_NODES = 96


@dataclass(frozen=True)
class HermiteRule:
    """Nodes ``z`` and weights ``w`` (summing to 1) for :math:`\\mathbb E f(Z)`, :math:`Z\\sim N(0,1)`."""

    z: torch.Tensor
    w: torch.Tensor


@lru_cache(maxsize=16)
def _nodes(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite.hermgauss(n)
    return np.sqrt(2.0) * x, w / np.sqrt(np.pi)


def hermite_rule(n: int = DEFAULT_NODES, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> HermiteRule:
    """The ``n``-node rule for the standard normal law."""
    z, w = _nodes(n)
    return HermiteRule(torch.as_tensor(z, dtype=dtype, device=device), torch.as_tensor(w, dtype=dtype, device=device))


def normal_expectation(
    f: Callable[[torch.Tensor], torch.Tensor], mean: torch.Tensor, std: torch.Tensor, rule: HermiteRule
) -> torch.Tensor:
    r""":math:`\mathbb E f(X)`, :math:`X \sim N(\text{mean}, \text{std}^2)`, broadcast over ``mean, std``."""
    x = mean.unsqueeze(-1) + std.unsqueeze(-1) * rule.z
    return (f(x) * rule.w).sum(-1)
