r"""The exact population-GD trajectory of a loss quadratic in the margin (``quadratic-trajectory``).

For :math:`\phi(h) = a_2h^2 + a_1h + a_0` with :math:`a_2 > 0` (IPO: :math:`a_2 = 1/\beta^2`,
:math:`a_1 = -1/\beta^2`) and :math:`h = \beta s\Delta^\top g`, one population gradient step is the
affine map :math:`\Delta_{t+1} = (I - \kappa M)\Delta_t - 2\eta\beta a_1 m` with
:math:`\kappa = 4\eta\beta^2a_2`, :math:`M = \mathbb E[gg^\top]` and :math:`m = \mathbb E[sg]`, so

.. math::
   \Delta_t = \Delta^\star + (I - \kappa M)^t(\Delta_0 - \Delta^\star), \qquad
   \Delta^\star = -\frac{a_1}{2a_2\beta}M^+m .

With the eigendecomposition :math:`M = V\operatorname{diag}(\lambda)V^\top` this is

.. math::
   \Delta_t = \Delta^\star + V\operatorname{diag}\big((1 - \kappa\lambda)^t\big)V^\top(\Delta_0 - \Delta^\star),
   \qquad \Delta^\star = -\frac{a_1}{2a_2\beta}V\operatorname{diag}(\lambda^+)V^\top m,

:math:`\lambda^+ = 1/\lambda` for :math:`\lambda > 0` and :math:`0` for :math:`\lambda = 0`: every
step count at once, without iterating. A direction of the null space of :math:`M` keeps its
component of :math:`\Delta_0` (factor exactly :math:`1^t`; :math:`m` has no component there), so a
singular :math:`M` (fewer samples than dimensions) is exact too. Eigenvalues below
:math:`d\,\epsilon_{\rm mach}\lambda_{\max}` are treated as zero, the threshold of a pseudo-inverse.

The empirical law of a training set is a law like any other: with :math:`M` and :math:`m` its
sample averages, the trajectory is that of full-batch GD on it.

Example
-------
>>> import torch
>>> M = torch.diag(torch.tensor([1.0, 0.0], dtype=torch.float64))
>>> m = torch.tensor([0.5, 0.0], dtype=torch.float64)
>>> path = quadratic_trajectory(M, m, torch.tensor([0, 1, 50]), loss="ipo", beta=1.0, learning_rate=0.1)
>>> [round(x, 6) for x in path[:, 0].tolist()]
[0.0, 0.1, 0.25]
"""

from __future__ import annotations

import torch

from prefdyn.theory.losses import Loss, get_loss
from prefdyn.theory.symbols import beta as beta_symbol
from prefdyn.theory.theorems.quadratic_trajectory import quadratic_coefficients

from .population import GaussianMixture, gaussian_accuracy


def coefficients(loss: str | Loss, beta: float) -> tuple[float, float]:
    r""":math:`(a_2, a_1)` of :math:`\phi(h) = a_2h^2 + a_1h + a_0` at :math:`\beta` (IPO:
    :math:`(1/\beta^2, -1/\beta^2)`); a loss that is not quadratic with :math:`a_2 > 0` is a
    :class:`ValueError`."""
    found = quadratic_coefficients(get_loss(loss))
    if found is None:
        raise ValueError(f"loss {get_loss(loss).name}: phi is not quadratic in h with a positive leading coefficient")
    a2, a1, _ = (float(c.subs(beta_symbol, beta)) for c in found)
    return a2, a1


def _spectrum(second_moment: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(lambda, V, zero)``: :math:`M = V\operatorname{diag}(\lambda)V^\top` and the mask of the
    eigenvalues treated as zero (at most :math:`d\,\epsilon_{\rm mach}\lambda_{\max}`)."""
    values, vectors = torch.linalg.eigh(second_moment)
    tolerance = values.shape[-1] * torch.finfo(values.dtype).eps * values.amax(-1, keepdim=True).clamp(min=0)
    return values, vectors, values <= tolerance


def _fixed_point_coordinates(
    values: torch.Tensor,
    vectors: torch.Tensor,
    zero: torch.Tensor,
    signed_mean: torch.Tensor,
    a2: float,
    a1: float,
    beta: float,
) -> torch.Tensor:
    r""":math:`V^\top\Delta^\star = -\frac{a_1}{2a_2\beta}\operatorname{diag}(\lambda^+)V^\top m`, ``[..., d]``."""
    inverse = torch.where(zero, torch.zeros_like(values), 1 / torch.where(zero, torch.ones_like(values), values))
    return -a1 / (2 * a2 * beta) * inverse * (vectors.mT @ signed_mean.unsqueeze(-1)).squeeze(-1)


def quadratic_fixed_point(
    second_moment: torch.Tensor, signed_mean: torch.Tensor, *, loss: str | Loss, beta: float
) -> torch.Tensor:
    r"""The fixed point :math:`\Delta^\star = -\frac{a_1}{2a_2\beta}M^+m` of population GD for a quadratic loss.

    :math:`M^+ = V\operatorname{diag}(\lambda^+)V^\top` is the Moore--Penrose inverse
    (:math:`\lambda^+ = 1/\lambda`, and 0 on the null space); :math:`m \in \operatorname{range}(M)`,
    so :math:`M\Delta^\star = -\frac{a_1}{2a_2\beta}m` also when :math:`M` is singular, and
    :math:`\Delta^\star` is then its solution of least norm.

    Parameters
    ----------
    second_moment : torch.Tensor
        :math:`M = \mathbb E[gg^\top]`, ``[..., d, d]``.
    signed_mean : torch.Tensor
        :math:`m = \mathbb E[sg]`, ``[..., d]``.
    loss : str or Loss
        A loss quadratic in :math:`h`.
    beta : float
        :math:`\beta`.

    Returns
    -------
    torch.Tensor
        :math:`\Delta^\star`, ``[..., d]``.
    """
    a2, a1 = coefficients(loss, beta)
    values, vectors, zero = _spectrum(second_moment)
    star = _fixed_point_coordinates(values, vectors, zero, signed_mean, a2, a1, beta)
    return (vectors @ star.unsqueeze(-1)).squeeze(-1)


def quadratic_trajectory(
    second_moment: torch.Tensor,
    signed_mean: torch.Tensor,
    steps: torch.Tensor,
    *,
    loss: str | Loss,
    beta: float,
    learning_rate: float,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    r""":math:`\Delta_t` of population GD for a quadratic loss, at every ``steps`` at once, in closed form.

    .. math::
       \Delta_t = \Delta^\star + V\operatorname{diag}\big((1 - \kappa\lambda)^t\big)V^\top(\Delta_0 - \Delta^\star),
       \quad \kappa = 4\eta\beta^2a_2,\quad \Delta^\star = -\frac{a_1}{2a_2\beta}M^+m,

    with :math:`M = V\operatorname{diag}(\lambda)V^\top` (:func:`torch.linalg.eigh`); null
    directions of :math:`M` keep their start (factor exactly 1, no fixed-point component). The
    iterates converge from every start iff :math:`\kappa\lambda_{\max} < 2`.

    Parameters
    ----------
    second_moment : torch.Tensor
        :math:`M = \mathbb E[gg^\top]`, ``[..., d, d]`` (symmetric, positive semi-definite).
    signed_mean : torch.Tensor
        :math:`m = \mathbb E[sg]`, ``[..., d]``.
    steps : torch.Tensor
        Step counts :math:`t \ge 0`, ``[T]``.
    loss : str or Loss
        A loss quadratic in :math:`h` (``ipo``, or a user quadratic).
    beta, learning_rate : float
        :math:`\beta` and :math:`\eta`.
    start : torch.Tensor, optional
        :math:`\Delta_0`, ``[..., d]`` (default 0: training from :math:`W_{\rm ref}`).

    Returns
    -------
    torch.Tensor
        :math:`\Delta_t`, ``[..., T, d]``.
    """
    a2, a1 = coefficients(loss, beta)
    kappa = 4 * learning_rate * beta**2 * a2
    values, vectors, zero = _spectrum(second_moment)
    star = _fixed_point_coordinates(values, vectors, zero, signed_mean, a2, a1, beta)
    begin = torch.zeros_like(star) if start is None else (vectors.mT @ start.unsqueeze(-1)).squeeze(-1)
    factor = torch.where(zero, torch.ones_like(values), 1 - kappa * values)  # [..., d]
    powers = factor.unsqueeze(-2) ** steps.to(values.dtype).unsqueeze(-1)  # [..., T, d]
    coordinates = star.unsqueeze(-2) + powers * (begin - star).unsqueeze(-2)
    return coordinates @ vectors.mT


def quadratic_accuracy_curve(mix: GaussianMixture, trajectory: torch.Tensor) -> torch.Tensor:
    r"""The exact accuracy curve :math:`\operatorname{Acc}_b(\Delta_t)` of Gaussian classes along a
    trajectory (accuracy-gaussian's formula, :func:`~prefdyn.numerics.population.gaussian_accuracy`).

    Parameters
    ----------
    mix : GaussianMixture
        The class laws of the :math:`K` behaviours.
    trajectory : torch.Tensor
        :math:`\Delta_t`, ``[..., T, d]`` (:func:`quadratic_trajectory`).

    Returns
    -------
    torch.Tensor
        ``[..., T, K]``.
    """
    return gaussian_accuracy(mix, trajectory)
