r"""The ``accuracy-subexponential`` bound on tensors, for scenarios without an exact population form.

For a noise family with i.i.d. unit-variance coordinates :math:`z` scaled by a factor
:math:`F` (noise :math:`= Fz`), the projected deviation :math:`u^\top Fz` has
:math:`\|u^\top F z\|_{\psi_\alpha} \le K_b\|u\|` with

* Gaussian (:math:`\alpha = 2`): :math:`K_b = \|F\|_{op}\sqrt{8/3}` (exact: :math:`u^\top Fz` is normal, and
  :math:`\|N(0,1)\|_{\psi_2} = \sqrt{8/3}` since :math:`\mathbb E e^{Z^2/k^2} = (1 - 2/k^2)^{-1/2}`);
* generalized normal of shape :math:`\alpha \ge 1` (Laplace: :math:`\alpha = 1`):
  :math:`K_b = \sqrt d\,\|F\|_{op}\,\kappa_\alpha`, by the triangle inequality of the
  :math:`\psi_\alpha` norm (:math:`\alpha \ge 1`) and :math:`\|w\|_1 \le \sqrt d\|w\|_2`, where
  :math:`\kappa_\alpha = a/(1 - 2^{-\alpha})^{1/\alpha}`, :math:`a^2 = \Gamma(1/\alpha)/\Gamma(3/\alpha)`
  (from :math:`\mathbb E e^{(|X|/k)^\alpha} = (1 - (a/k)^\alpha)^{-1/\alpha}`);
* Student-t and gennorm with :math:`\alpha < 1`: no bound here (``None``).

:func:`accuracy_lower_bound` evaluates the t-step bound (SGD, no label noise):
:math:`\varepsilon = 2\eta\beta^2L_2\lambda_{\max}(\mathbb E gg^\top)`,
:math:`\rho_t = ((1+\varepsilon)^t - 1 - t\varepsilon)/(t\varepsilon)`,
:math:`\theta_b^\pm = \pm\bar m^\top\mu_b^\pm/\|\bar m\|`, bound
:math:`1 - 2\sum_\pm q_b^\pm\exp[-((\theta_b^\pm - \rho_t\|\mu_b^\pm\|)_+/(K_b(1+\rho_t)))^\alpha]`,
clipped at 0; index 0 (before training, :math:`h = 0`) is 0.
"""

from __future__ import annotations

import math

import torch


def psi_alpha_constant(distribution: str, shape: float, factor: torch.Tensor) -> tuple[float, float] | None:
    """``(alpha, K_b)`` for noise ``factor @ z`` of ``distribution`` (see the module docstring)."""
    op = float(torch.linalg.matrix_norm(factor, ord=2))
    if distribution == "gaussian":
        return 2.0, op * math.sqrt(8.0 / 3.0)
    alpha = {"laplace": 1.0, "gennorm": shape}.get(distribution)
    if alpha is None or alpha < 1.0:
        return None
    a = math.exp(0.5 * (math.lgamma(1.0 / alpha) - math.lgamma(3.0 / alpha)))
    kappa = a / (1.0 - 2.0 ** (-alpha)) ** (1.0 / alpha)
    return alpha, math.sqrt(factor.shape[0]) * op * kappa


def accuracy_lower_bound(
    means: torch.Tensor,
    positive_fraction: torch.Tensor,
    weights: torch.Tensor,
    alpha: torch.Tensor,
    K_b: torch.Tensor,
    *,
    smoothness: float,
    second_moment_top: float,
    beta: float,
    learning_rate: float,
    steps: int,
) -> torch.Tensor:
    """``[steps + 1, K]`` lower bounds on each behavior's accuracy (``means`` ``[K, 2, d]``)."""
    q = positive_fraction
    mbar = (weights[:, None] * (q[:, None] * means[:, 0] - (1 - q)[:, None] * means[:, 1])).sum(0)
    unit = mbar / mbar.norm()
    theta = torch.stack([means[:, 0] @ unit, -(means[:, 1] @ unit)], dim=-1)  # [K, 2]
    norms = means.norm(dim=-1)
    eps = 2 * learning_rate * beta**2 * smoothness * second_moment_top
    t = torch.arange(1, steps + 1, dtype=means.dtype)
    rho = torch.expm1(t * math.log1p(eps)) / (t * eps) - 1 if eps > 0 else torch.zeros_like(t)
    ratio = (theta - rho[:, None, None] * norms).clamp(min=0) / (K_b[:, None] * (1 + rho[:, None, None]))
    qs = torch.stack([q, 1 - q], dim=-1)
    bound = 1 - 2 * (qs * torch.exp(-(ratio ** alpha[:, None]))).sum(-1)
    return torch.cat([torch.zeros(1, means.shape[0], dtype=means.dtype), bound.clamp(min=0)])
