r"""Gaussian moment model of a preference data set, run through the population flow.

The ``population-flow`` theorem (Im & Li 2024, arXiv 2403.18742, Sec. 4) gives the
expected gradient of a margin loss when each class of each behaviour is Gaussian,
:math:`g \mid (b, s) \sim N(\mu_b^s, \Sigma_b^s)`:

.. math:: F_b(\Delta) = \mathbb E[-\phi'(h)\,s\,g \mid b]
          = \sum_{s=\pm} q_b^s\big[s\,\mu_b^s A_b^s - \beta\,\Sigma_b^s\Delta\,B_b^s\big],
   \quad A = \mathbb E[-\phi'(\beta z)],\ B = \mathbb E[\phi''(\beta z)],\
   z \sim N(s\Delta^\top\mu_b^s, \Delta^\top\Sigma_b^s\Delta),

(:math:`q_b^+ = q_b`, :math:`q_b^- = 1 - q_b`). The classes are split by the *training label*
:math:`s` (which answer is preferred), not by any other property of the prompt: the loss sees
:math:`g` only through :math:`s\,g` and :math:`h = \beta s\Delta^\top g`, so the moments the flow
needs are those of :math:`g` given :math:`(b, s)`.

**Moment model** (:func:`fit_mixture`): on a real data set the class means and covariances are
the *empirical* moments of the training samples (covariance with divisor :math:`n_b^s`), the
weights are :math:`p_b = n_b/n` and the balances :math:`q_b = n_b^+/n_b`. The empirical gradient
is :math:`\hat{\mathbb E}[-\phi'(\beta s\Delta^\top g)\,s\,g]`; the model replaces the law of the
projection :math:`s\Delta^\top g` in each class by the normal law with the same first two moments
(**Gaussian moment closure**), and Stein's lemma then turns :math:`\hat{\mathbb E}[\phi'\,g]` into
the :math:`A, B` form above. This is the only approximation for full-batch gradient descent:
the mean and covariance entering :math:`F` are the exact empirical ones, so the prediction is
exact for any data whose per-class projections are Gaussian, and its error is set by their
non-Gaussianity (skewness, kurtosis) along the trajectory.

**Minibatch SGD in expectation**: the expected minibatch gradient is the full-batch gradient,
so SGD is predicted by the same recursion; the minibatch covariance term (the iterate's
:math:`O(\eta^2\beta^2/B)` fluctuation, and the curvature it couples into the mean loss) is
neglected.

**Two modes**, both started at :math:`W_{\rm ref}` (:math:`\Delta_0 = 0`) and stepped by the
simulator's optimizer (:class:`prefdyn.numerics.optim.RowOptimizer`, SGD:
:math:`\Delta_{t+1} = \Delta_t + 2\eta\beta F(\Delta_t)`):

* ``joint``: one head for all behaviours, :math:`F = \sum_b p_b F_b(\Delta)`:
  :func:`prefdyn.numerics.population.population_gd` itself;
* ``single``: every behaviour trained alone by its own head, :math:`\Delta_{b,t+1} = \Delta_{b,t}
  + 2\eta\beta F_b(\Delta_{b,t})`, batched over behaviours (:func:`independent_flow`): one
  ``[K, 2, d, d] x [K, d]`` product per step (135 behaviours, :math:`d = 384`: about 40 M
  multiply-adds a step).

Curves (:class:`FlowCurves`) are the population loss :math:`\mathbb E\phi(h)` and accuracy
:math:`\sum_s q_b^s\Phi(m/r)` per behaviour from
:func:`prefdyn.numerics.population.behavior_metrics`.

Example (two isotropic behaviours, each alone vs on one head):

>>> import torch
>>> from prefdyn.numerics.config import Phase, TrainConfig
>>> from prefdyn.numerics.population import GaussianMixture
>>> mix = GaussianMixture.isotropic([0.5, 0.5], [3.0, 1.0], 1.0, dim=8)
>>> cfg = TrainConfig(loss="dpo", beta=1.0, learning_rate=2.0, phases=(Phase("train", 1),))
>>> alone, joint = flow_curves(mix, cfg, joint=False), flow_curves(mix, cfg, joint=True)
>>> [round(x, 4) for x in joint.accuracy[-1].tolist()]
[0.9226, 0.5628]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prefdyn.errors import require
from prefdyn.numerics.config import TrainConfig
from prefdyn.numerics.data import PreferenceData
from prefdyn.numerics.optim import RowOptimizer
from prefdyn.numerics.population import (
    GaussianMixture,
    LossDerivatives,
    behavior_metrics,
    population_gd,
)
from prefdyn.numerics.quadrature import DEFAULT_NODES, HermiteRule, hermite_rule

#: label sign of class index 0 (:math:`\mu^+`) and 1 (:math:`\mu^-`)
_CLASS_SIGN = (1.0, -1.0)


@dataclass(frozen=True)
class FlowCurves:
    """Predicted per-behaviour curves ``[T + 1, K]`` (index 0 = before training)."""

    loss: torch.Tensor
    accuracy: torch.Tensor


def fit_mixture(data: PreferenceData) -> GaussianMixture:
    r"""The moment model of ``data``'s *training* samples (shared data: ``g`` ``[n, d]``).

    Per behaviour :math:`b` and label class :math:`s`: :math:`\hat\mu_b^s` and
    :math:`\hat\Sigma_b^s = \frac1{n_b^s}\sum_i (g_i - \hat\mu_b^s)(g_i - \hat\mu_b^s)^\top`
    (float64, ``[K, 2, d, d]``); :math:`p_b = n_b/n`, :math:`q_b = n_b^+/n_b`. A class with no
    sample gets zero moments (its weight :math:`q_b^s` is zero).
    """
    require(data.runs is None, "data", "the moment model needs one shared data set (g: [n, d])")
    g, s = data.g.double(), data.s
    K, d = data.num_behaviors, data.dim
    means = torch.zeros(K, 2, d, dtype=torch.float64)
    covs = torch.zeros(K, 2, d, d, dtype=torch.float64)
    counts = torch.zeros(K, 2, dtype=torch.float64)
    for b in range(K):
        for c, sign in enumerate(_CLASS_SIGN):
            x = g[data.train & (data.behavior == b) & (s == sign)]
            counts[b, c] = len(x)
            if len(x):
                means[b, c] = x.mean(0)
                centred = x - means[b, c]
                covs[b, c] = centred.T @ centred / len(x)
    per_behavior = counts.sum(1)
    require(bool(torch.all(per_behavior > 0)), "data", "every behaviour needs training samples")
    return GaussianMixture(per_behavior / per_behavior.sum(), counts[:, 0] / per_behavior,
                           means, covs)


def _full_covariances(mix: GaussianMixture) -> torch.Tensor:
    """``[K, 2, d, d]`` whatever the mixture stores (full, diagonal or isotropic)."""
    cov = mix.covariances
    if cov.dim() == 4:
        return cov
    eye = torch.eye(mix.dim, dtype=cov.dtype, device=cov.device)
    return torch.diag_embed(cov) if cov.dim() == 3 else cov[..., None, None] * eye


def single(mix: GaussianMixture, b: int) -> GaussianMixture:
    """Behaviour ``b`` of ``mix`` alone (weight 1)."""
    keep = slice(b, b + 1)
    return GaussianMixture(torch.ones_like(mix.weights[keep]), mix.positive_fraction[keep],
                           mix.means[keep], mix.covariances[keep], mix.label_noise[keep])


def independent_gradient(means: torch.Tensor, covs: torch.Tensor, q: torch.Tensor,
                         delta: torch.Tensor, derivs: LossDerivatives, beta: torch.Tensor,
                         rule: HermiteRule, label_sign: float = 1.0) -> torch.Tensor:
    r""":math:`F_b(\Delta_b)` of every behaviour at its *own* direction ``delta`` ``[K, d]``
    (module docstring); ``means`` ``[K, 2, d]``, ``covs`` ``[K, 2, d, d]``, ``q`` ``[K]``;
    ``label_sign = -1`` trains on flipped labels. Returns ``[K, d]``."""
    sign = label_sign * torch.tensor(_CLASS_SIGN, dtype=delta.dtype, device=delta.device)
    cov_delta = torch.einsum("kcij,kj->kci", covs, delta)
    m = sign * torch.einsum("kcd,kd->kc", means, delta)
    r = (cov_delta * delta[:, None]).sum(-1).clamp(min=0).sqrt()
    A, B = derivs.moments(m, r, beta.expand(m.shape), rule)
    w = torch.stack([q, 1 - q], dim=-1)
    return (torch.einsum("kc,kcd->kd", w * sign * A, means)
            - beta * torch.einsum("kc,kcd->kd", w * B, cov_delta))


def independent_flow(mix: GaussianMixture, config: TrainConfig,
                     nodes: int = DEFAULT_NODES) -> torch.Tensor:
    r"""Directions :math:`\Delta_{b,t}` ``[T + 1, K, d]`` of ``K`` heads, each trained on its own
    behaviour only (population GD, or SGD in expectation; ``config``'s optimizer and phases)."""
    require(bool(torch.all(mix.label_noise == 0)), "label_noise",
            "the per-behaviour flow assumes clean labels")
    dtype, device = mix.means.dtype, mix.means.device
    K, d = mix.means.shape[0], mix.dim
    derivs, rule = LossDerivatives.of(config.loss), hermite_rule(nodes, dtype, device)
    beta = torch.tensor(config.beta, dtype=dtype, device=device)
    covs = _full_covariances(mix)
    optimizer = RowOptimizer(config, torch.full((K,), config.learning_rate, dtype=dtype,
                                                device=device),
                             torch.zeros(1, d, dtype=dtype, device=device))
    rows = torch.zeros(K, 1, d, dtype=dtype, device=device)  # first answer row = Delta / 2
    deltas = [rows[:, 0] * 2]
    for phase, start, end in config.phase_bounds():
        optimizer.reset()
        for _ in range(start, end):
            F = independent_gradient(mix.means, covs, mix.positive_fraction, rows[:, 0] * 2,
                                     derivs, beta, rule, phase.label_sign)
            rows = optimizer.step(rows, (-beta * F).unsqueeze(1))
            deltas.append(rows[:, 0] * 2)
    return torch.stack(deltas)


def flow_curves(mix: GaussianMixture, config: TrainConfig, *, joint: bool,
                nodes: int = DEFAULT_NODES) -> FlowCurves:
    """Predicted loss and accuracy curves ``[T + 1, K]``: all behaviours on one head
    (``joint``) or each behaviour alone (module docstring)."""
    if joint:
        traj = population_gd(mix, config.loss, beta=config.beta,
                             learning_rate=config.learning_rate, config=config, nodes=nodes)
        return FlowCurves(traj.loss[:, 0], traj.accuracy[:, 0])
    delta = independent_flow(mix, config, nodes)
    derivs = LossDerivatives.of(config.loss)
    rule = hermite_rule(nodes, delta.dtype, delta.device)
    beta = torch.full(delta.shape[:1], config.beta, dtype=delta.dtype, device=delta.device)
    per_b = [behavior_metrics(single(mix, b), delta[:, b], derivs, beta, rule)
             for b in range(delta.shape[1])]
    return FlowCurves(torch.cat([m["loss"] for m in per_b], dim=1),
                      torch.cat([m["accuracy"] for m in per_b], dim=1))
