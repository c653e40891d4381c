r"""Population gradient descent on Gaussian preference mixtures (theory curves on tensors).

Implements the ``population-flow`` theorem (Im & Li 2024, arXiv 2403.18742, Sec. 4): for classes
:math:`g \mid (b, c) \sim N(\mu_b^c, \Sigma_b^c)` observed with label sign :math:`s`, behaviour
:math:`b`'s expected gradient at a head direction :math:`\Delta` is

.. math:: F_b(\Delta) = \mathbb E[-\phi'(h)\,s\,g \mid b]
          = \sum_c w_{bc}\big[s_c\,\mu_b^c A_{bc} - \beta\,\Sigma_b^c\Delta\,B_{bc}\big],
   \quad A = \mathbb E[-\phi'(\beta z)],\; B = \mathbb E[\phi''(\beta z)],\; z\sim N(m, r^2),

:math:`m = s_c\Delta^\top\mu_b^c`, :math:`r^2 = \Delta^\top\Sigma_b^c\Delta`, with :math:`A, B` in
closed form or by quadrature (:meth:`prefdyn.numerics.evaluate.LossKernels.moments`). Components
:math:`c` are (true class, label flipped?) with weights :math:`w_{bc} = q_b^{\pm}(1-\epsilon_b)` and
:math:`q_b^{\pm}\epsilon_b` (:math:`q_b^+ = q_b`, :math:`q_b^- = 1 - q_b`, label noise
:math:`\epsilon_b`); the loss sees :math:`g` only through :math:`s\,g` and
:math:`h = \beta s\Delta^\top g`, so these are the moments the flow needs.

**One engine, two ways of sharing the head** (:func:`population_gd`, ``heads``), both started at
:math:`W_{\rm ref}` (:math:`\Delta_0 = 0`) with label noise handled by the same four components:

* ``joint``: one head for all behaviours, :math:`F = \sum_b p_b F_b(\Delta)`;
* ``independent``: every behaviour trained alone by its own head,
  :math:`\Delta_{b,t+1} = \Delta_{b,t} + 2\eta\beta F_b(\Delta_{b,t})` (SGD), batched over
  behaviours: one ``[K, 2, d, d] x [K, d]`` product per step (135 behaviours, :math:`d = 384`:
  about 40 M multiply-adds a step).

The head :math:`W = W_{\rm ref} + \frac12(e_1-e_2)\Delta^\top` is stepped by the simulator's own
optimizer (:class:`prefdyn.numerics.optim.RowOptimizer`) on the population gradient of its first
answer row, :math:`-\beta F(\Delta)`: SGD gives :math:`\Delta_{t+1} = \Delta_t + 2\eta\beta F(\Delta_t)`.
The margin :math:`h = \beta s\Delta^\top g` does not involve :math:`W_{\rm ref}`, so neither does
this recursion, except through AdamW's decay toward 0 (not toward :math:`W_{\rm ref}`); with an
AdamW decay and answer rows :math:`w_1 + w_2 \ne 0` both answer rows are tracked, as in the
simulator. Minibatch SGD is modelled *in expectation* (the expected minibatch gradient is the
population gradient; the :math:`O(\eta^2\beta^2/\text{batch})` fluctuation of the iterate is
neglected); Adam/AdamW are applied to the population gradient (deterministic: their second
moment misses the minibatch variance, so this is exact only for full-batch training on
:math:`n\to\infty` samples).

**Moment model of a data set** (:func:`fit_mixture`): on real data the class means and
covariances are the *empirical* moments of the training samples per behaviour and training label
(covariance with divisor :math:`n_b^s`), :math:`p_b = n_b/n` and :math:`q_b = n_b^+/n_b`. The flow
then replaces the law of each class's projection :math:`s\Delta^\top g` by the normal law with the
same first two moments (Gaussian moment closure), the only approximation for full-batch GD: the
prediction is exact for data whose per-class projections are Gaussian, and its error is set by
their non-Gaussianity along the trajectory.

Per behaviour and step (index 0 = before training), everything in closed form or by quadrature,
at the behaviour's own direction (``independent``) or the shared one (``joint``):
reward accuracy :math:`\Pr(h > 0) + \frac12\Pr(h = 0) = \sum_c w_c\Phi(m_c/r_c)` (:func:`gaussian_accuracy`;
a tie counts one half, so a point mass at :math:`h = 0`, e.g. :math:`\Delta = 0`, scores :math:`\frac12`), policy
accuracy :math:`\Pr(\log\pi_W(y_w|x) > \log\pi_W(y_l|x))`, the same at :math:`\Delta + w` with the
reference's logit-gap vector :math:`w = (e_1 - e_2)^\top W_{\rm ref}`
(:func:`gaussian_policy_accuracy`; equal to the reward accuracy when :math:`W_{\rm ref} = 0`),
loss :math:`\mathbb E\phi(h)`, margin :math:`\mathbb E h = \beta\sum_c w_c m_c` and its standard
deviation, :math:`\log\pi` changes of the chosen / rejected answer (two-way head:
:math:`\mathbb E\log\sigma(\pm s(w+\Delta)^\top g) - \mathbb E\log\sigma(\pm s\,w^\top g)`, which is
:math:`\mathbb E\log\sigma(\pm\rho) + \log 2` for :math:`W_{\rm ref} = 0`; :math:`V > 2` rows only
for :math:`W_{\rm ref} = 0`, see :func:`behavior_metrics`), and
:math:`\|W_t - W_{\rm ref}\|_{op} = \|W_t - W_{\rm ref}\|_F = \|\Delta_t\|/\sqrt2` (rank one; both
norms of the two tracked rows when AdamW's decay makes them asymmetric).

Example (the worked example of ``priority``, one SGD step; each behaviour alone tends to
:math:`\Phi(\|\delta_b\|/2)`, isotropic noise: any direction along :math:`\delta_b`):

>>> mix = GaussianMixture.isotropic(weights=[0.5, 0.5], distinguishability=[3.0, 1.0], noise=1.0, dim=16)
>>> out = population_gd(mix, "dpo", beta=1.0, learning_rate=2.0, steps=1)
>>> [round(x, 4) for x in out.accuracy[-1, 0].tolist()]
[0.9226, 0.5628]
>>> alone = population_gd(mix, "dpo", beta=1.0, learning_rate=2.0, steps=3, heads="independent")
>>> [round(x, 4) for x in alone.accuracy[-1, 0].tolist()]
[0.9332, 0.6915]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import sympy as sp
import torch

from prefdyn.errors import PrefdynError, require
from prefdyn.theory.losses import Loss, get_loss
from prefdyn.theory.symbols import beta as beta_symbol

from .config import Phase, TrainConfig
from .data import PreferenceData
from .evaluate import LossKernels, loss_kernels
from .metrics import tie_half_indicator, weight_norms
from .optim import RowOptimizer
from .quadrature import DEFAULT_NODES, HermiteRule, hermite_rule, normal_expectation, rule_for
from .scenario import Scenario, behavior_noise_factor, class_means

#: observed sign and true class (0 = "+", 1 = "-") of the four components (class, flipped?)
_SIGN = (1.0, -1.0, -1.0, 1.0)
_CLASS = (0, 1, 0, 1)
#: How behaviours share the trained head: ``joint`` (one head) or ``independent`` (one each).
Heads = Literal["joint", "independent"]
HEADS: tuple[str, ...] = get_args(Heads)


@dataclass(frozen=True)
class GaussianMixture:
    r"""Gaussian classes per behaviour, as plain tensors (float64 by default).

    ``weights`` :math:`p_b` ``[K]``; ``positive_fraction`` :math:`q_b` ``[K]``; ``means``
    ``[K, 2, d]`` (index 0: :math:`\mu_b^+`, 1: :math:`\mu_b^-`); ``covariances`` ``[K, 2, d, d]``
    (full), ``[K, 2, d]`` (diagonal) or ``[K, 2]`` (isotropic variances); ``label_noise``
    :math:`\epsilon_b` ``[K]`` (observed label flipped with that probability; default 0).
    """

    weights: torch.Tensor
    positive_fraction: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor
    label_noise: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def __post_init__(self) -> None:
        K, two, _ = self.means.shape
        require(two == 2, "means", "must have shape [K, 2, d]")
        require(self.weights.shape == (K,) and self.positive_fraction.shape == (K,), "weights", "need shape [K]")
        require(
            self.covariances.shape[:2] == (K, 2) and self.covariances.dim() in (2, 3, 4),
            "covariances",
            "must be [K, 2, d, d], [K, 2, d] or [K, 2]",
        )
        if self.label_noise.numel() == 0:
            object.__setattr__(self, "label_noise", torch.zeros_like(self.weights))
        require(self.label_noise.shape == (K,), "label_noise", "needs shape [K]")
        names = ("weights", "positive_fraction", "means", "covariances", "label_noise")
        dtype = torch.float32
        for name in names:  # one floating dtype for all (float32 weights with float64 means mix)
            dtype = torch.promote_types(dtype, getattr(self, name).dtype)
        for name in names:
            object.__setattr__(self, name, getattr(self, name).to(dtype))

    @classmethod
    def isotropic(
        cls,
        weights: Sequence[float],
        distinguishability: Sequence[float],
        noise: float | Sequence[float],
        dim: int,
        positive_fraction: float = 0.5,
        dtype: torch.dtype = torch.float64,
    ) -> GaussianMixture:
        r"""Orthogonal :math:`\delta_b = \|\delta_b\| e_b`, :math:`\mu_b^\pm = \pm\delta_b/2`,
        :math:`\Sigma = \sigma_b^2 I`."""
        K = len(weights)
        delta = torch.zeros(K, dim, dtype=dtype)
        delta[range(K), range(K)] = torch.as_tensor(distinguishability, dtype=dtype)
        sigma = torch.as_tensor(noise, dtype=dtype).expand(K)
        return cls(
            torch.as_tensor(weights, dtype=dtype),
            torch.full((K,), positive_fraction, dtype=dtype),
            torch.stack([delta / 2, -delta / 2], dim=1),
            (sigma**2).unsqueeze(1).expand(K, 2).clone(),
        )

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    @property
    def num_behaviors(self) -> int:
        return self.means.shape[0]

    def alone(self, b: int) -> GaussianMixture:
        """Behaviour ``b`` alone (weight 1): what a head trained on it alone sees."""
        keep = slice(b, b + 1)
        return GaussianMixture(
            torch.ones_like(self.weights[keep]),
            self.positive_fraction[keep],
            self.means[keep],
            self.covariances[keep],
            self.label_noise[keep],
        )

    def component_weights(self) -> torch.Tensor:
        """``[K, 4]``: P(component | behaviour) for (class +, -, + flipped, - flipped)."""
        q, e = self.positive_fraction, self.label_noise
        return torch.stack([q * (1 - e), (1 - q) * (1 - e), q * e, (1 - q) * e], dim=-1)

    def covariance_times(self, delta: torch.Tensor) -> torch.Tensor:
        r""":math:`\Sigma_b^c\Delta` for every class, ``delta [..., d]`` -> ``[..., K, 2, d]``."""
        return _covariance_times(self, _shared(self, delta))

    def second_moment(self) -> torch.Tensor:
        r""":math:`\mathbb E[gg^\top] = \sum_b p_b\sum_c q^c(\Sigma_b^c + \mu_b^c\mu_b^{c\top})` ``[d, d]``."""
        qc = torch.stack([self.positive_fraction, 1 - self.positive_fraction], dim=-1)
        outer = self.means[..., :, None] * self.means[..., None, :]
        return torch.einsum("k,kc,kcij->ij", self.weights, qc, _full_covariances(self) + outer)


def _full_covariances(mix: GaussianMixture) -> torch.Tensor:
    """``[K, 2, d, d]`` whatever the mixture stores (full, diagonal or isotropic)."""
    cov = mix.covariances
    if cov.dim() == 4:
        return cov
    eye = torch.eye(mix.dim, dtype=cov.dtype, device=cov.device)
    return torch.diag_embed(cov) if cov.dim() == 3 else cov[..., None, None] * eye


def fit_mixture(data: PreferenceData) -> GaussianMixture:
    r"""The moment model of ``data``'s *training* samples (shared data: ``g`` ``[n, d]``).

    Per behaviour :math:`b` and training label :math:`s`: :math:`\hat\mu_b^s` and
    :math:`\hat\Sigma_b^s = \frac1{n_b^s}\sum_i (g_i - \hat\mu_b^s)(g_i - \hat\mu_b^s)^\top`
    (float64, ``[K, 2, d, d]``); :math:`p_b = n_b/n`, :math:`q_b = n_b^+/n_b`, no label noise (the
    observed labels are the classes). A class with no sample gets zero moments (its weight
    :math:`q_b^s` is zero).

    Parameters
    ----------
    data : PreferenceData
        One shared data set; every behaviour needs training samples.

    Returns
    -------
    GaussianMixture
        Full covariances.
    """
    require(data.runs is None, "data", "the moment model needs one shared data set (g: [n, d])")
    g, s = data.g.double(), data.s
    K, d = data.num_behaviors, data.dim
    means = torch.zeros(K, 2, d, dtype=torch.float64)
    covs = torch.zeros(K, 2, d, d, dtype=torch.float64)
    counts = torch.zeros(K, 2, dtype=torch.float64)
    for b in range(K):
        for c, sign in enumerate(_SIGN[:2]):  # class + is training label +1, class - is -1
            x = g[data.train & (data.behavior == b) & (s == sign)]
            counts[b, c] = len(x)
            if len(x):
                means[b, c] = x.mean(0)
                centred = x - means[b, c]
                covs[b, c] = centred.T @ centred / len(x)
    per_behavior = counts.sum(1)
    require(bool(torch.all(per_behavior > 0)), "data", "every behavior needs training samples")
    return GaussianMixture(per_behavior / per_behavior.sum(), counts[:, 0] / per_behavior, means, covs)


def _shared(mix: GaussianMixture, delta: torch.Tensor) -> torch.Tensor:
    """One direction for every behaviour: ``[..., d]`` -> ``[..., K, d]`` (a view)."""
    return delta.unsqueeze(-2).expand(*delta.shape[:-1], mix.num_behaviors, mix.dim)


def _covariance_times(mix: GaussianMixture, directions: torch.Tensor) -> torch.Tensor:
    r""":math:`\Sigma_b^c\Delta_b` at each behaviour's own direction: ``[..., K, d]`` -> ``[..., K, 2, d]``."""
    cov = mix.covariances
    if cov.dim() == 4:
        return torch.einsum("kcij,...kj->...kci", cov, directions)
    x = directions.unsqueeze(-2)
    return cov * x if cov.dim() == 3 else cov[..., None] * x


def _component_stats(mix: GaussianMixture, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(m, r, Sigma Delta)`` at each behaviour's direction ``[..., K, d]``: :math:`m, r` per
    component ``[..., K, 4]`` (observed labels), :math:`\Sigma_b^c\Delta_b` per class ``[..., K, 2, d]``."""
    sign = torch.tensor(_SIGN, dtype=directions.dtype, device=directions.device)
    proj = torch.einsum("kcd,...kd->...kc", mix.means, directions)[..., _CLASS]
    sd = _covariance_times(mix, directions)
    r2 = (sd * directions.unsqueeze(-2)).sum(-1)[..., _CLASS]
    return sign * proj, r2.clamp(min=0).sqrt(), sd


def _per_class(x: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` per component -> ``[..., 2]`` summed per true class (components 0, 2 and 1, 3)."""
    return x[..., :2] + x[..., 2:]


def _behavior_gradients(
    mix: GaussianMixture,
    stats: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    kernels: LossKernels,
    beta: torch.Tensor,
    rule: HermiteRule,
    label_sign: float,
) -> torch.Tensor:
    r""":math:`F_b(\Delta_b)` ``[..., K, d]`` from :func:`_component_stats` at the directions
    :math:`\Delta_b` (``beta`` broadcasts against the leading dims); ``label_sign = -1`` trains on
    the flipped labels :math:`-s`."""
    m, r, sd = stats
    sign = label_sign * torch.tensor(_SIGN, dtype=m.dtype, device=m.device)
    A, B = kernels.moments(label_sign * m, r, beta[..., None, None], rule)
    w = mix.component_weights()  # [K, 4]
    mean_part = torch.einsum("...kc,kcd->...kd", _per_class(w * sign * A), mix.means)
    cov_part = torch.einsum("...kc,...kcd->...kd", _per_class(w * B), sd)
    return mean_part - beta[..., None, None] * cov_part


def population_gradient(
    mix: GaussianMixture,
    delta: torch.Tensor,
    kernels: LossKernels,
    beta: torch.Tensor,
    rule: HermiteRule,
    flipped: bool = False,
) -> torch.Tensor:
    r"""The joint head's population gradient :math:`F(\Delta) = \sum_b p_b F_b(\Delta)`.

    Parameters
    ----------
    mix : GaussianMixture
        The class laws of the :math:`K` behaviours.
    delta : torch.Tensor
        :math:`\Delta`, ``[..., d]``.
    kernels : LossKernels
        The loss (:func:`~prefdyn.numerics.evaluate.loss_kernels`).
    beta : torch.Tensor
        :math:`\beta`, broadcast against ``delta``'s leading dims.
    rule : HermiteRule
        The quadrature rule of :meth:`~prefdyn.numerics.evaluate.LossKernels.moments`.
    flipped : bool
        Train on the flipped labels :math:`-s`.

    Returns
    -------
    torch.Tensor
        :math:`\mathbb E[-\phi'(h)\,s\,g]`, ``[..., d]``.
    """
    directions = _shared(mix, delta)
    per_behavior = _behavior_gradients(
        mix, _component_stats(mix, directions), kernels, beta, rule, -1.0 if flipped else 1.0
    )
    return torch.einsum("k,...kd->...d", mix.weights, per_behavior)


@dataclass
class Trajectory:
    r"""Theory curves, indexed ``[step, run, ...]`` (runs: one per ``beta``/``learning_rate`` entry).

    ``heads`` is ``joint`` or ``independent`` (module docstring). ``delta`` is ``[T+1, R, d]``
    (joint) or ``[T+1, R, K, d]`` (each behaviour's own head). Per behaviour ``[T+1, R, K]``, at
    its head: ``accuracy`` (the reward accuracy :math:`\Pr(h > 0) + \frac12\Pr(h = 0)`: a tie
    counts one half, so 1/2 at :math:`\Delta = 0`), ``policy_accuracy``
    (:math:`\Pr(\log\pi_W(y_w|x) > \log\pi_W(y_l|x))`, a tie again one half, equal to
    ``accuracy`` when :math:`W_{\rm ref} = 0`), ``loss``, ``margin``, ``margin_std``,
    ``chosen_logp_change``, ``rejected_logp_change`` (``None`` where :func:`behavior_metrics`
    has no exact form: :math:`V > 2` and :math:`W_{\rm ref} \ne 0`); ``weight_change_opnorm`` and
    ``weight_change_frobenius`` of each head, ``[T+1, R]`` (joint) or ``[T+1, R, K]``; ``phases``
    as the simulator reports them.
    """

    heads: Heads
    steps: list[int]
    delta: torch.Tensor
    accuracy: torch.Tensor
    policy_accuracy: torch.Tensor
    loss: torch.Tensor
    margin: torch.Tensor
    margin_std: torch.Tensor
    chosen_logp_change: torch.Tensor | None
    rejected_logp_change: torch.Tensor | None
    weight_change_opnorm: torch.Tensor
    weight_change_frobenius: torch.Tensor
    phases: list[dict[str, object]]


def _component_accuracy(mix: GaussianMixture, m: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_c w_c(\Pr(z_c > 0) + \tfrac12\Pr(z_c = 0))`, :math:`z_c \sim N(m_c, r_c^2)`,
    ``[..., K]``. For :math:`r_c > 0` the tie has probability 0 and this is :math:`\Phi(m_c/r_c)`;
    a zero variance is the point mass at :math:`m_c`, scored :math:`[m_c > 0] + \tfrac12[m_c = 0]`
    (a tie counts one half, as in the simulator: :mod:`prefdyn.numerics.metrics`)."""
    safe_r = r.clamp(min=torch.finfo(r.dtype).tiny)
    acc = torch.where(r > 0, torch.special.ndtr(m / safe_r), tie_half_indicator(m))
    return (mix.component_weights() * acc).sum(-1)


def _accuracy(mix: GaussianMixture, directions: torch.Tensor) -> torch.Tensor:
    """Reward accuracy ``[..., K]`` at each behaviour's direction ``[..., K, d]``."""
    m, r, _ = _component_stats(mix, directions)
    return _component_accuracy(mix, m, r)


def gaussian_accuracy(mix: GaussianMixture, delta: torch.Tensor) -> torch.Tensor:
    r"""Reward accuracy :math:`\Pr(h > 0 \mid b)`, :math:`h = \beta s\Delta^\top g`, per behaviour.

    For Gaussian classes :math:`g \mid (b, \pm) \sim N(\mu_b^\pm, \Sigma_b^\pm)` without label
    noise (``accuracy-gaussian``),

    .. math:: \operatorname{Acc}_b(\Delta) = q_b\,\Phi\Big(\frac{\Delta^\top\mu_b^+}
              {\sqrt{\Delta^\top\Sigma_b^+\Delta}}\Big) + (1-q_b)\,\Phi\Big(-\frac{\Delta^\top\mu_b^-}
              {\sqrt{\Delta^\top\Sigma_b^-\Delta}}\Big);

    with label noise :math:`\epsilon_b` the sum runs over the four (class, flipped?) components,
    scored against the observed label. A degenerate projection (:math:`\Delta^\top\Sigma\Delta = 0`)
    is the point mass at :math:`m = s\Delta^\top\mu`, scored :math:`[m > 0] + \tfrac12[m = 0]`:
    a tie :math:`h = 0` counts one half, as in the simulator, so
    :math:`\operatorname{Acc}_b(0) = \tfrac12`.

    Parameters
    ----------
    mix : GaussianMixture
        The class laws of the :math:`K` behaviours.
    delta : torch.Tensor
        :math:`\Delta`, ``[..., d]``.

    Returns
    -------
    torch.Tensor
        ``[..., K]``.
    """
    return _accuracy(mix, _shared(mix, delta))


def gaussian_policy_accuracy(
    mix: GaussianMixture, delta: torch.Tensor, reference_gap: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Policy accuracy :math:`\Pr(\log\pi_W(y_w|x) > \log\pi_W(y_l|x) \mid b)` per behaviour.

    The policy's own logit gap is :math:`(e_{y_w} - e_{y_l})^\top Wg = s\,(w + \Delta)^\top g` for
    :math:`W = W_{\rm ref} + \frac12(e_1 - e_2)\Delta^\top`, with the reference's logit-gap vector
    :math:`w = (e_1 - e_2)^\top W_{\rm ref}` (a :math:`d`-vector; the softmax normaliser cancels,
    for any vocabulary size). So this is :func:`gaussian_accuracy` evaluated at
    :math:`\Delta + w`: for Gaussian classes without label noise

    .. math:: \operatorname{Acc}^{\pi}_b(\Delta) = q_b\,\Phi\Big(\frac{(\Delta+w)^\top\mu_b^+}
              {\sqrt{(\Delta+w)^\top\Sigma_b^+(\Delta+w)}}\Big)
              + (1-q_b)\,\Phi\Big(-\frac{(\Delta+w)^\top\mu_b^-}
              {\sqrt{(\Delta+w)^\top\Sigma_b^-(\Delta+w)}}\Big),

    (with label noise: the four components, against the observed label), and with
    :math:`W_{\rm ref} = 0` it is the reward accuracy exactly. Ties (a gap of exactly 0, only
    possible for a degenerate projection) count one half, as in the simulator. This is Im & Li's
    (ICML 2024) experimental "policy accuracy"; the reward accuracy scores :math:`\rho` alone.

    Parameters
    ----------
    mix : GaussianMixture
        The class laws of the :math:`K` behaviours.
    delta : torch.Tensor
        :math:`\Delta`, ``[..., d]``.
    reference_gap : torch.Tensor, optional
        :math:`w = W_{\rm ref}[y_1] - W_{\rm ref}[y_2]`, ``[d]`` (broadcast against ``delta``);
        ``None`` means :math:`W_{\rm ref} = 0`.

    Returns
    -------
    torch.Tensor
        ``[..., K]``.
    """
    return gaussian_accuracy(mix, delta if reference_gap is None else delta + reference_gap)


def _log_sigmoid_expectation(
    mix: GaussianMixture, directions: torch.Tensor, sign: float, rule: HermiteRule
) -> torch.Tensor:
    r""":math:`\mathbb E[\log\sigma(\pm s\,v_b^\top g) \mid b]` ``[..., K]`` for directions :math:`v_b`
    ``[..., K, d]`` (``sign`` :math:`\pm1`), by quadrature over each component's normal projection."""
    m, r, _ = _component_stats(mix, directions)
    values = normal_expectation(lambda z: torch.nn.functional.logsigmoid(sign * z), m, r, rule_for(r, rule))
    return (mix.component_weights() * values).sum(-1)


def _metrics(
    mix: GaussianMixture,
    directions: torch.Tensor,
    stats: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    kernels: LossKernels,
    beta: torch.Tensor,
    rule: HermiteRule,
    reference: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """:func:`behavior_metrics` at each behaviour's own direction ``[..., K, d]``, given
    :func:`_component_stats` there."""
    m, r, _ = stats
    w = mix.component_weights()
    b = beta[..., None, None]
    rho_rule = rule_for(b.clamp(min=1.0) * r, rule)  # phi(beta z) and log sigma(z)
    rho_expect = lambda f: normal_expectation(f, m, r, rho_rule)
    loss = rho_expect(lambda z: kernels.phi(b[..., None] * z, b[..., None]))
    logsig = torch.nn.functional.logsigmoid
    mean_h = (w * b * m).sum(-1)
    second = (w * b**2 * (m**2 + r**2)).sum(-1)
    vocab = 2 if reference is None else reference.shape[0]
    zero = reference is None or not bool(reference.any())
    gap = None if reference is None or zero else (reference[0] - reference[1]).to(directions)
    accuracy = _component_accuracy(mix, m, r)
    out = {
        "accuracy": accuracy,
        "policy_accuracy": accuracy if gap is None else _accuracy(mix, directions + gap),
        "loss": (w * loss).sum(-1),
        "margin": mean_h,
        "margin_std": (second - mean_h**2).clamp(min=0).sqrt(),
    }
    if zero and vocab == 2:
        out["chosen_logp_change"] = (w * rho_expect(lambda z: logsig(z))).sum(-1) + math.log(2.0)
        out["rejected_logp_change"] = (w * rho_expect(lambda z: logsig(-z))).sum(-1) + math.log(2.0)
    elif zero:
        others = math.log(vocab - 2)

        def change(sign: float) -> torch.Tensor:
            def f(z: torch.Tensor) -> torch.Tensor:
                parts = torch.stack([z / 2, -z / 2, torch.full_like(z, others)])
                return sign * z / 2 - torch.logsumexp(parts, dim=0)

            return (w * rho_expect(f)).sum(-1) + math.log(vocab)

        out["chosen_logp_change"], out["rejected_logp_change"] = change(1.0), change(-1.0)
    elif vocab == 2:
        assert gap is not None
        for key, sign in (("chosen_logp_change", 1.0), ("rejected_logp_change", -1.0)):
            out[key] = _log_sigmoid_expectation(mix, directions + gap, sign, rule) - _log_sigmoid_expectation(
                mix, _shared(mix, gap), sign, rule
            )
    return out


def behavior_metrics(
    mix: GaussianMixture,
    delta: torch.Tensor,
    kernels: LossKernels,
    beta: torch.Tensor,
    rule: HermiteRule,
    *,
    reference: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    r"""Per-behaviour population metrics at ``delta [..., d]`` (original labels), ``[..., K]`` each.

    Parameters
    ----------
    mix, delta, kernels, beta, rule
        The class laws, :math:`\Delta` ``[..., d]``, the loss, :math:`\beta` (broadcast against
        ``delta``'s leading dims) and the quadrature rule.
    reference : torch.Tensor, optional
        The full reference head :math:`W_{\rm ref}` ``[V, d]`` (rows 0, 1: the two responses);
        ``None`` means :math:`W_{\rm ref} = 0`, :math:`V = 2`.

    Returns
    -------
    dict
        ``accuracy`` (reward accuracy, :func:`gaussian_accuracy`), ``policy_accuracy``
        (:func:`gaussian_policy_accuracy` with :math:`w = W_{\rm ref}[0] - W_{\rm ref}[1]`),
        ``loss``, ``margin``, ``margin_std`` and, where exact, ``chosen_logp_change`` /
        ``rejected_logp_change``: for :math:`V = 2`,
        :math:`\mathbb E\log\sigma(\pm s(w+\Delta)^\top g) - \mathbb E\log\sigma(\pm s\,w^\top g)`;
        for :math:`V > 2` and :math:`W_{\rm ref} = 0`,
        :math:`\mathbb E[\pm\rho/2 - \log(e^{\rho/2} + e^{-\rho/2} + V - 2)] + \log V`. For
        :math:`V > 2` and :math:`W_{\rm ref} \ne 0` the other rows' log-sum-exp enters and the
        two keys are absent.
    """
    directions = _shared(mix, delta)
    return _metrics(mix, directions, _component_stats(mix, directions), kernels, beta, rule, reference)


def population_gd(
    mix: GaussianMixture,
    loss: str | Loss | None = None,
    *,
    beta: float | torch.Tensor | None = None,
    learning_rate: float | torch.Tensor | None = None,
    steps: int | None = None,
    config: TrainConfig | None = None,
    nodes: int = DEFAULT_NODES,
    reference: torch.Tensor | None = None,
    heads: Heads = "joint",
) -> Trajectory:
    r"""Run population GD (see the module docstring) from :math:`W_{\rm ref}`.

    Parameters
    ----------
    mix : GaussianMixture
        The class laws of the :math:`K` behaviours.
    loss : str or Loss, optional
        The margin loss :math:`\phi` (default: ``config``'s).
    beta, learning_rate : float or torch.Tensor, optional
        :math:`\beta` and :math:`\eta` (default: ``config``'s); ``[R]`` tensors give R
        trajectories, batched.
    steps : int, optional
        Without ``config``: one SGD phase of this many steps.
    config : TrainConfig, optional
        The training: loss, :math:`\beta`, :math:`\eta` (each overridden by the argument of
        that name, as in :func:`~prefdyn.numerics.simulator.simulate`), optimizer and phases.
        Without it ``loss``, ``beta``, ``learning_rate`` and ``steps`` are all needed.
    nodes : int
        Gauss-Hermite nodes.
    reference : torch.Tensor, optional
        The full reference head :math:`W_{\rm ref}` ``[V, d]`` (rows 0, 1: the two responses;
        ``None``: :math:`W_{\rm ref} = 0`, :math:`V = 2`). It sets the policy accuracy and
        log-prob changes (:func:`behavior_metrics`) and the anchor of AdamW's decay. As in the
        simulator, one answer row is tracked (:math:`\Delta = 2u_1`) unless AdamW decays rows with
        :math:`w_1 + w_2 \ne 0`; then both (:math:`\Delta = u_1 - u_2`).
    heads : {"joint", "independent"}
        One head for all behaviours, or each behaviour alone on its own head (batched).

    Returns
    -------
    Trajectory
        The curves, ``[T+1, R, ...]``.
    """
    require(heads in HEADS, "heads", f"must be one of {', '.join(HEADS)}")
    if config is None:
        require(
            loss is not None and beta is not None and learning_rate is not None,
            "config",
            "without a config, loss, beta and learning_rate are needed",
        )
        require(steps is not None and steps >= 0, "steps", "must be >= 0 (or give a config)")
    else:
        require(steps is None, "steps", "the config's phases fix the steps; give one or the other")
        loss = config.loss if loss is None else loss
        beta = config.beta if beta is None else beta
        learning_rate = config.learning_rate if learning_rate is None else learning_rate
    assert loss is not None and beta is not None and learning_rate is not None
    dtype, device = mix.means.dtype, mix.means.device
    beta_t = torch.as_tensor(beta, dtype=dtype, device=device).reshape(-1)
    lr_t = torch.as_tensor(learning_rate, dtype=dtype, device=device).reshape(-1)
    R = max(beta_t.numel(), lr_t.numel())
    beta_t, lr_t = beta_t.expand(R), lr_t.expand(R)
    if config is None:
        config = TrainConfig(
            loss=loss, beta=float(beta_t[0]), learning_rate=float(lr_t[0]), phases=(Phase("train", int(steps or 0)),)
        )
    if reference is not None:
        require(
            reference.dim() == 2 and reference.shape[0] >= 2 and reference.shape[1] == mix.dim,
            "reference",
            f"W_ref must be [V >= 2, {mix.dim}]",
        )
        reference = reference.to(dtype=dtype, device=device)
    answers = torch.zeros(2, mix.dim, dtype=dtype, device=device) if reference is None else reference[:2]
    symmetric = bool(torch.all(answers[0] + answers[1] == 0))
    k = 1 if (config.optimizer != "adamw" or config.weight_decay == 0 or symmetric) else 2
    kernels, rule = loss_kernels(loss), hermite_rule(nodes, dtype, device)
    K, d = mix.num_behaviors, mix.dim
    H = K if heads == "independent" else 1  # heads per run; the optimizer sees R * H of them
    optimizer = RowOptimizer(config, lr_t.repeat_interleave(H), answers[:k])
    row_beta = beta_t.repeat_interleave(H)[:, None]
    row_sign = torch.tensor([1.0, -1.0], dtype=dtype, device=device)[:k].view(1, k, 1)
    rows = torch.zeros(R * H, k, d, dtype=dtype, device=device)  # answer rows of W - W_ref

    def per_head(x: torch.Tensor) -> torch.Tensor:
        """``[R * H, ...]`` -> ``[R, ...]`` (joint) or ``[R, K, ...]`` (independent)."""
        return x.reshape(R, H, *x.shape[1:])[:, 0] if H == 1 else x.reshape(R, H, *x.shape[1:])

    def delta_of(state: torch.Tensor) -> torch.Tensor:
        return state[:, 0] * 2 if k == 1 else state[:, 0] - state[:, 1]

    def norms_of(state: torch.Tensor) -> torch.Tensor:
        """``[R * H, 2]``: operator and Frobenius norm of each head's change."""
        if k == 2:
            return weight_norms(state)
        return (delta_of(state).norm(dim=-1) / math.sqrt(2.0)).unsqueeze(-1).expand(-1, 2)

    records: list[dict[str, torch.Tensor]] = []
    deltas: list[torch.Tensor] = []
    norms: list[torch.Tensor] = []

    def record(state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Record the curves at ``state``; return the component statistics there."""
        delta = delta_of(state).reshape(R, H, d)
        directions = delta.expand(R, K, d)
        stats = _component_stats(mix, directions)
        records.append(_metrics(mix, directions, stats, kernels, beta_t, rule, reference))
        deltas.append(per_head(delta.reshape(R * H, d)))
        norms.append(norms_of(state))
        return stats

    phases: list[dict[str, object]] = []
    stats = record(rows)
    for phase, start, end in config.phase_bounds():
        phases.append({"name": phase.name, "labels": phase.labels, "start": start, "end": end})
        optimizer.reset()
        for _ in range(start, end):
            per_behavior = _behavior_gradients(mix, stats, kernels, beta_t, rule, phase.label_sign)  # [R, K, d]
            F = torch.einsum("k,rkd->rd", mix.weights, per_behavior) if H == 1 else per_behavior.reshape(R * K, d)
            rows = optimizer.step(rows, row_sign * (-row_beta * F).unsqueeze(1))
            stats = record(rows)
    curves = {key: torch.stack([r[key] for r in records]) for key in records[0]}
    norm = torch.stack([per_head(n) for n in norms])
    return Trajectory(
        heads,
        list(range(len(records))),
        torch.stack(deltas),
        accuracy=curves["accuracy"],
        policy_accuracy=curves["policy_accuracy"],
        loss=curves["loss"],
        margin=curves["margin"],
        margin_std=curves["margin_std"],
        chosen_logp_change=curves.get("chosen_logp_change"),
        rejected_logp_change=curves.get("rejected_logp_change"),
        weight_change_opnorm=norm[..., 0],
        weight_change_frobenius=norm[..., 1],
        phases=phases,
    )


def fixed_point(
    mix: GaussianMixture,
    loss: str | Loss,
    *,
    beta: float,
    learning_rate: float,
    tol: float = 1e-12,
    max_steps: int = 100_000,
    nodes: int = DEFAULT_NODES,
) -> torch.Tensor:
    r"""A fixed point :math:`\Delta^\star` of joint population SGD, by iterating until
    :math:`\|\Delta_{t+1} - \Delta_t\| \le \text{tol}\,\|\Delta_t\|`; per-behaviour accuracies then
    come from :func:`behavior_metrics`. Not converging within ``max_steps`` is a
    :class:`~prefdyn.errors.PrefdynError`."""
    kernels, rule = loss_kernels(loss), hermite_rule(nodes, mix.means.dtype, mix.means.device)
    b = torch.tensor(beta, dtype=mix.means.dtype, device=mix.means.device)
    delta = torch.zeros(mix.dim, dtype=mix.means.dtype, device=mix.means.device)
    for _ in range(max_steps):
        step = 2 * learning_rate * beta * population_gradient(mix, delta, kernels, b, rule)
        delta = delta + step
        if step.norm() <= tol * delta.norm():
            return delta
    raise PrefdynError(f"max_steps: population GD did not reach a fixed point in {max_steps} steps")


def max_learning_rate(mix: GaussianMixture, loss: str | Loss, beta: float) -> float | None:
    r"""``stable-step-size``: :math:`\eta_{\max} = 1/(\beta^2 L_2\,\lambda_{\max}(\mathbb E gg^\top))`
    with the *certified* :math:`L_2 = \sup|\phi''|` (:attr:`~prefdyn.theory.losses.Loss.smoothness`,
    :mod:`prefdyn.theory.certify`; a ``Float`` :math:`L_2` is rounded up, and once more by one ulp
    here, so :math:`\eta_{\max}` is never rounded up).

    Only a step size whose descent guarantee is verified is ever returned: ``None`` when
    :math:`L_2 = \infty` (:math:`\phi'` jumps, e.g. hinge, or :math:`\phi''` is unbounded: the
    theorem gives no step), ``inf`` for a linear loss (:math:`L_2 = 0`: every step descends), and a
    :class:`~prefdyn.errors.PrefdynError` (one line, from the loss) when :math:`L_2` cannot be
    certified -- never ``0`` or a guess. (:math:`\lambda_{\max}` is the float eigenvalue of the
    mixture's second moment.)"""
    L2_expr = get_loss(loss).smoothness.subs(beta_symbol, beta)
    if L2_expr == sp.oo:
        return None
    L2 = math.nextafter(float(sp.Float(L2_expr, 30)), math.inf) if L2_expr != 0 else 0.0
    top = float(torch.linalg.eigvalsh(mix.second_moment())[-1])
    return math.inf if L2 == 0 else 1.0 / (beta**2 * L2 * top)


def scenario_mixture(scenario: Scenario) -> GaussianMixture:
    r"""The hidden Gaussian structure of a synthetic scenario: :math:`\mu_b^\pm` from
    :func:`~prefdyn.numerics.scenario.class_means`, :math:`\Sigma_b^\pm = F_bF_b^\top` with
    :math:`F_b` the behaviour's noise factor, and the declared weights, balances and label noise."""
    plus, minus = (torch.as_tensor(m, dtype=torch.float64) for m in class_means(scenario))
    factors = [torch.as_tensor(behavior_noise_factor(b, scenario.dim)) for b in scenario.behaviors]
    cov = torch.stack([f @ f.T for f in factors])

    def as_tensor(values: Sequence[float] | np.ndarray) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64)

    return GaussianMixture(
        as_tensor(scenario.weights),
        as_tensor([b.positive_fraction for b in scenario.behaviors]),
        torch.stack([plus, minus], dim=1),
        torch.stack([cov, cov], dim=1),
        as_tensor([b.label_noise for b in scenario.behaviors]),
    )
