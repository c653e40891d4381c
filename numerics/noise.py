r"""Noise families with independent, zero-mean, unit-variance coordinates.

Each family returns :math:`z \in \mathbb R^{m\times d}` with i.i.d. coordinates of mean 0 and
variance 1; a behaviour's embedding noise is then :math:`\sigma_b\,D\,F z` (per-coordinate
standard deviation :math:`\sigma_b`, optional diagonal scales :math:`D`, optional correlation
factor :math:`F F^\top = C`), so every family has the covariance :math:`\sigma_b^2 D C D`.

* ``gaussian``: :math:`N(0, 1)` (sub-Gaussian, :math:`\alpha = 2`).
* ``laplace``: density :math:`\frac{1}{\sqrt2}e^{-\sqrt2|x|}` (sub-exponential, :math:`\alpha = 1`).
* ``gennorm`` (generalized normal, shape :math:`\alpha > 0`): density
  :math:`\propto e^{-|x/a|^\alpha}` with :math:`a^2 = \Gamma(1/\alpha)/\Gamma(3/\alpha)`; its
  :math:`\psi_\alpha` norm is finite, the :math:`\alpha`-subexponential family of the
  accuracy bound. Sampled as :math:`\pm a\,\Gamma(1/\alpha, 1)^{1/\alpha}`.
* ``student-t`` (``df`` :math:`\nu > 2`): :math:`\sqrt{(\nu-2)/\nu}\; N / \sqrt{\chi^2_\nu/\nu}`;
  only moments below :math:`\nu` exist, so no :math:`\psi_\alpha` bound holds (heavy tails).

All sampling is float64 on the CPU from the caller's ``torch.Generator``.
"""

from __future__ import annotations

import math

import torch

DISTRIBUTIONS = ("gaussian", "laplace", "gennorm", "student-t")


def _random_sign(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.where(torch.rand(shape, generator=gen, dtype=torch.float64) < 0.5, -1.0, 1.0)


def _gamma(concentration: float, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """:math:`\\Gamma(k, 1)` samples (``torch.distributions`` takes no generator)."""
    return torch._standard_gamma(torch.full(shape, concentration, dtype=torch.float64), generator=gen)


def standard_noise(
    distribution: str, shape: tuple[int, ...], gen: torch.Generator, *, shape_param: float = 2.0, df: float = 5.0
) -> torch.Tensor:
    """i.i.d. mean-0, variance-1 samples of ``distribution`` (see the module docstring)."""
    if distribution == "gaussian":
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    if distribution == "laplace":
        exp = torch.empty(shape, dtype=torch.float64).exponential_(generator=gen)
        return _random_sign(shape, gen) * exp / math.sqrt(2.0)
    if distribution == "gennorm":
        alpha = shape_param
        # |X| = scale * G^(1/alpha), G ~ Gamma(1/alpha): formed in logs, so small alpha cannot overflow
        log_scale = 0.5 * (math.lgamma(1.0 / alpha) - math.lgamma(3.0 / alpha))
        log_radius = torch.log(_gamma(1.0 / alpha, shape, gen)) / alpha
        return _random_sign(shape, gen) * torch.exp(log_radius + log_scale)
    if distribution == "student-t":
        normal = torch.randn(shape, generator=gen, dtype=torch.float64)
        chi2 = 2.0 * _gamma(df / 2.0, shape, gen)
        return normal / torch.sqrt(chi2 / df) * math.sqrt((df - 2.0) / df)
    raise ValueError(f"unknown distribution {distribution!r}")
