r"""Population gradient descent on Gaussian preference mixtures (theory curves on tensors).

Implements the ``population-flow`` theorem (Im & Li 2024, arXiv 2403.18742, Sec. 4): for classes
:math:`g \mid (b, c) \sim N(\mu_b^c, \Sigma_b^c)` observed with label sign :math:`s`,

.. math:: F(\Delta) = \mathbb E[-\phi'(h)\,s\,g]
          = \sum_{b,c} p_b\,w_{bc}\big[s\,\mu_b^c A_{bc} - \beta\,\Sigma_b^c\Delta\,B_{bc}\big],
   \quad A = \mathbb E[-\phi'(\beta z)],\; B = \mathbb E[\phi''(\beta z)],\; z\sim N(m, r^2),

:math:`m = s\Delta^\top\mu_b^c`, :math:`r^2 = \Delta^\top\Sigma_b^c\Delta`, with :math:`A, B` by
Gauss-Hermite quadrature (:mod:`prefdyn.numerics.quadrature`). Components :math:`c` are
(true class, label flipped?) with weights :math:`q^{\pm}(1-\epsilon_b)` and :math:`q^{\pm}\epsilon_b`.
The head :math:`W = W_{\rm ref} + \frac12(e_1-e_2)\Delta^\top` is stepped by the simulator's own
optimizer (:class:`prefdyn.numerics.optim.RowOptimizer`) on the population gradient of its first
answer row, :math:`-\beta F(\Delta)`: SGD gives :math:`\Delta_{t+1} = \Delta_t + 2\eta\beta F(\Delta_t)`.
The margin :math:`h = \beta s\Delta^\top g` does not involve :math:`W_{\rm ref}`, so neither does
this recursion, except through AdamW's decay toward 0 (not toward :math:`W_{\rm ref}`); with an
AdamW decay and answer rows :math:`w_1 + w_2 \ne 0` both answer rows are tracked, as in the
simulator. Minibatch SGD is modelled *in
expectation* (the same recursion: the expected minibatch gradient is the population gradient; the
:math:`O(\eta^2/\text{batch})` fluctuation of the iterate is neglected); Adam/AdamW are applied to
the population gradient (deterministic: their second moment misses the minibatch variance, so
this is exact only for full-batch training on :math:`n\to\infty` samples).

Per behaviour and step (index 0 = before training), everything in closed form or by quadrature:
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

Example (the worked example of ``priority``, one SGD step):

>>> import torch
>>> mix = GaussianMixture.isotropic(weights=[0.5, 0.5], distinguishability=[3.0, 1.0], noise=1.0, dim=16)
>>> out = population_gd(mix, "dpo", beta=1.0, learning_rate=2.0, steps=1)
>>> [round(x, 4) for x in out.accuracy[-1, 0].tolist()]
[0.9226, 0.5628]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch

from prefdyn.errors import require
from prefdyn.theory.functions import to_elementary
from prefdyn.theory.gaussian_moments import gaussian_moments
from prefdyn.theory.gaussian_moments import m as m_symbol
from prefdyn.theory.gaussian_moments import r as r_symbol
from prefdyn.theory.losses import Loss, get_loss
from prefdyn.theory.symbols import beta as beta_symbol
from prefdyn.theory.symbols import h as h_symbol

from .config import Phase, TrainConfig
from .evaluate import TensorFunction, torch_lambdify
from .metrics import tie_half_indicator, weight_norms
from .optim import RowOptimizer
from .quadrature import DEFAULT_NODES, HermiteRule, hermite_rule, normal_expectation, rule_for
from .scenario import Scenario, behavior_noise_factor, class_means

#: SymPy heads whose presence makes phi non-smooth (phi'' is then taken by Stein's identity)
_NONSMOOTH = (sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside)
#: observed sign and true class (0 = "+", 1 = "-") of the four components (class, flipped?)
_SIGN = (1.0, -1.0, -1.0, 1.0)
_CLASS = (0, 1, 0, 1)


@dataclass(frozen=True)
class GaussianMixture:
    r"""Gaussian classes per behaviour, as plain tensors (float64 by default).

    ``weights`` :math:`p_b` ``[K]``; ``positive_fraction`` :math:`q_b` ``[K]``; ``means``
    ``[K, 2, d]`` (index 0: :math:`\mu_b^+`, 1: :math:`\mu_b^-`); ``covariances`` ``[K, 2, d, d]``
    (full), ``[K, 2, d]`` (diagonal) or ``[K, 2]`` (isotropic variances); ``label_noise``
    :math:`\epsilon_b` ``[K]`` (observed label flipped with that probability).
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
        require(self.covariances.shape[:2] == (K, 2) and self.covariances.dim() in (2, 3, 4), "covariances",
                "must be [K, 2, d, d], [K, 2, d] or [K, 2]")
        if self.label_noise.numel() == 0:
            object.__setattr__(self, "label_noise", torch.zeros_like(self.weights))

    @classmethod
    def isotropic(cls, weights: Sequence[float], distinguishability: Sequence[float], noise: float | Sequence[float],
                  dim: int, positive_fraction: float = 0.5, dtype: torch.dtype = torch.float64) -> GaussianMixture:
        r"""Orthogonal :math:`\delta_b = \|\delta_b\| e_b`, :math:`\mu_b^\pm = \pm\delta_b/2`, :math:`\Sigma = \sigma_b^2 I`."""
        K = len(weights)
        delta = torch.zeros(K, dim, dtype=dtype)
        delta[range(K), range(K)] = torch.as_tensor(distinguishability, dtype=dtype)
        sigma = torch.as_tensor(noise, dtype=dtype).expand(K)
        return cls(torch.as_tensor(weights, dtype=dtype), torch.full((K,), positive_fraction, dtype=dtype),
                   torch.stack([delta / 2, -delta / 2], dim=1), (sigma**2).unsqueeze(1).expand(K, 2).clone())

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    def component_weights(self) -> torch.Tensor:
        """``[K, 4]``: P(component | behaviour) for (class +, -, + flipped, - flipped)."""
        q, e = self.positive_fraction, self.label_noise
        return torch.stack([q * (1 - e), (1 - q) * (1 - e), q * e, (1 - q) * e], dim=-1)

    def covariance_times(self, delta: torch.Tensor) -> torch.Tensor:
        r""":math:`\Sigma_b^c\Delta` for every class, ``delta [..., d]`` -> ``[..., K, 2, d]``."""
        x = delta[..., None, None, :]
        if self.covariances.dim() == 4:
            return torch.einsum("kcij,...j->...kci", self.covariances, delta)
        if self.covariances.dim() == 3:
            return self.covariances * x
        return self.covariances[..., None] * x

    def second_moment(self) -> torch.Tensor:
        r""":math:`\mathbb E[gg^\top] = \sum_b p_b\sum_c q^c(\Sigma_b^c + \mu_b^c\mu_b^{c\top})` ``[d, d]``."""
        d = self.dim
        eye = torch.eye(d, dtype=self.means.dtype, device=self.means.device)
        cov = self.covariances
        full = cov if cov.dim() == 4 else (torch.diag_embed(cov) if cov.dim() == 3 else cov[..., None, None] * eye)
        qc = torch.stack([self.positive_fraction, 1 - self.positive_fraction], dim=-1)
        outer = self.means[..., :, None] * self.means[..., None, :]
        return torch.einsum("k,kc,kcij->ij", self.weights, qc, full + outer)


@dataclass(frozen=True)
class LossDerivatives:
    r""":math:`\phi, \phi', \phi''` of a loss as torch functions of ``(h, beta)``, and how to take
    :math:`A = \mathbb E[-\phi'(\beta z)]`, :math:`B = \mathbb E[\phi''(\beta z)]`:

    * ``exact``: SymPy's closed forms (:func:`prefdyn.theory.gaussian_moments.gaussian_moments`)
      when :math:`\phi'` is piecewise polynomial (hinge, IPO), exact at kinks too;
    * otherwise quadrature (:func:`~prefdyn.numerics.quadrature.rule_for`) on the kernel's own
      scale: its sharpness is :math:`\beta r` times ``kernel_scale``, the largest slope of a
      logistic argument in :math:`\phi'` (20 for DiscoPOP's :math:`\tau = 0.05` gate). For a
      non-smooth :math:`\phi` without a closed form, :math:`B` comes from Stein's identity
      :math:`\mathbb E\phi''(\beta z) = \mathbb E[\phi'(\beta z)(z - m)]/(\beta r^2)`.
    """

    loss: Loss
    phi: TensorFunction
    dphi: TensorFunction
    d2phi: TensorFunction | None
    exact: tuple[TensorFunction, TensorFunction] | None = None
    kernel_scale: float = 1.0

    @classmethod
    def of(cls, loss: str | Loss) -> LossDerivatives:
        resolved = get_loss(loss)
        symbols = (h_symbol, beta_symbol)
        compile_ = lambda e: torch_lambdify(resolved.bind(e), symbols)
        smooth = not resolved.phi.has(*_NONSMOOTH)
        closed = gaussian_moments(resolved)
        exact = None if closed is None else tuple(torch_lambdify(e, (m_symbol, r_symbol, beta_symbol))
                                                  for e in (closed.A, closed.B))
        return cls(resolved, compile_(resolved.phi), compile_(resolved.dphi),
                   compile_(resolved.d2phi) if smooth else None, exact,  # type: ignore[arg-type]
                   _kernel_scale(resolved.bind(resolved.dphi)))

    def moments(self, m: torch.Tensor, r: torch.Tensor, beta: torch.Tensor, rule: HermiteRule) -> tuple[torch.Tensor, torch.Tensor]:
        """``(A, B)`` at ``z ~ N(m, r^2)`` (broadcast)."""
        if self.exact is not None:
            # r -> 0 is the point mass at m: the closed forms' limits, reached at r = machine
            # epsilon (standardised break points stay finite, so u^k phi(u) is 0, not inf * 0)
            r = r.clamp(min=torch.finfo(r.dtype).eps)
            return self.exact[0](m, r, beta), self.exact[1](m, r, beta)
        b = beta.unsqueeze(-1)
        rule = rule_for(self.kernel_scale * beta * r, rule)
        A = normal_expectation(lambda z: -self.dphi(b * z, b), m, r, rule)
        if self.d2phi is not None:
            B = normal_expectation(lambda z: self.d2phi(b * z, b), m, r, rule)  # type: ignore[misc]
        else:
            stein = (self.dphi(b * (m.unsqueeze(-1) + r.unsqueeze(-1) * rule.z), b) * rule.z * rule.w).sum(-1)
            B = stein / (beta * r).clamp(min=torch.finfo(m.dtype).tiny)
        return A, B


def _kernel_scale(dphi: sp.Expr) -> float:
    r"""The kernel's inverse width: the largest :math:`|\partial a/\partial h|` (or
    :math:`\sqrt{|\partial^2 a/\partial h^2|}`) over arguments :math:`a` of the functions in ``dphi``
    (written with ``exp``/``log``: logistic gates, ``tanh``, Gaussian bumps, ...) where it is a
    constant; 1 when there is none. The kernel varies on the scale :math:`1/\text{scale}` in :math:`h`."""
    args = [arg for f in to_elementary(dphi).atoms(sp.Function) if not isinstance(f, sp.Piecewise)
            for arg in f.args if isinstance(arg, sp.Expr)]
    slopes = [abs(float(s)) for a in args if (s := sp.diff(a, h_symbol)).is_number]
    # a quadratic argument (a Gaussian bump e^{-c h^2}) varies on the scale 1/sqrt(|a''|)
    slopes += [math.sqrt(abs(float(s))) for a in args if (s := sp.diff(a, h_symbol, 2)).is_number]
    return max([1.0, *slopes])


def _component_stats(mix: GaussianMixture, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(m, r, Sigma Delta)`` per component: ``[..., K, 4]``, ``[..., K, 4]``, ``[..., K, 4, d]``."""
    sign = torch.tensor(_SIGN, dtype=delta.dtype, device=delta.device)
    proj = torch.einsum("kcd,...d->...kc", mix.means, delta)[..., _CLASS]
    sd = mix.covariance_times(delta)
    r2 = (sd * delta[..., None, None, :]).sum(-1)[..., _CLASS]
    return sign * proj, r2.clamp(min=0).sqrt(), sd[..., _CLASS, :]


def population_gradient(mix: GaussianMixture, delta: torch.Tensor, derivs: LossDerivatives, beta: torch.Tensor,
                        rule: HermiteRule, flipped: bool = False) -> torch.Tensor:
    r""":math:`F(\Delta) = \mathbb E[-\phi'(h)\,s\,g]` ``[..., d]`` for ``delta [..., d]`` (``beta``
    broadcasts against the leading dims). ``flipped`` trains on :math:`-s`."""
    m, r, sd = _component_stats(mix, delta)
    sign = torch.tensor(_SIGN, dtype=delta.dtype, device=delta.device)
    if flipped:
        m, sign = -m, -sign
    A, B = derivs.moments(m, r, beta[..., None, None], rule)
    w = mix.weights[:, None] * mix.component_weights()  # [K, 4]
    mean_part = torch.einsum("...kc,kcd->...d", w * sign * A, mix.means[:, _CLASS])
    cov_part = torch.einsum("...kc,...kcd->...d", w * B, sd)
    return mean_part - beta[..., None] * cov_part


@dataclass
class Trajectory:
    r"""Theory curves, indexed ``[step, run, ...]`` (runs: one per ``beta``/``learning_rate`` entry).

    ``delta`` ``[T+1, R, d]``; per behaviour ``[T+1, R, K]``: ``accuracy`` (the reward accuracy
    :math:`\Pr(h > 0) + \frac12\Pr(h = 0)`: a tie counts one half, so 1/2 at :math:`\Delta = 0`),
    ``policy_accuracy`` (:math:`\Pr(\log\pi_W(y_w|x) > \log\pi_W(y_l|x))`, a tie again one half,
    equal to ``accuracy`` when :math:`W_{\rm ref} = 0`), ``loss``, ``margin``, ``margin_std``,
    ``chosen_logp_change``, ``rejected_logp_change`` (``None`` where :func:`behavior_metrics`
    has no exact form: :math:`V > 2` and :math:`W_{\rm ref} \ne 0`); ``weight_change_opnorm`` and
    ``weight_change_frobenius`` ``[T+1, R]``; ``phases`` as the simulator reports them.
    """

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
    m, r, _ = _component_stats(mix, delta)
    return _component_accuracy(mix, m, r)


def gaussian_policy_accuracy(mix: GaussianMixture, delta: torch.Tensor,
                             reference_gap: torch.Tensor | None = None) -> torch.Tensor:
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


def _log_sigmoid_expectation(mix: GaussianMixture, direction: torch.Tensor, sign: float,
                             rule: HermiteRule) -> torch.Tensor:
    r""":math:`\mathbb E[\log\sigma(\pm s\,v^\top g) \mid b]` ``[..., K]`` for ``direction`` :math:`v`
    ``[..., d]`` (``sign`` :math:`\pm1`), by quadrature over each component's normal projection."""
    m, r, _ = _component_stats(mix, direction)
    values = normal_expectation(lambda z: torch.nn.functional.logsigmoid(sign * z), m, r, rule_for(r, rule))
    return (mix.component_weights() * values).sum(-1)


def behavior_metrics(mix: GaussianMixture, delta: torch.Tensor, derivs: LossDerivatives, beta: torch.Tensor,
                      rule: HermiteRule, *, reference: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    r"""Per-behaviour population metrics at ``delta [..., d]`` (original labels), ``[..., K]`` each.

    Parameters
    ----------
    mix, delta, derivs, beta, rule
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
    m, r, _ = _component_stats(mix, delta)
    w = mix.component_weights()
    b = beta[..., None, None]
    rho_rule = rule_for(b.clamp(min=1.0) * r, rule)  # phi(beta z) and log sigma(z)
    rho_expect = lambda f: normal_expectation(f, m, r, rho_rule)
    loss = rho_expect(lambda z: derivs.phi(b[..., None] * z, b[..., None]))
    logsig = torch.nn.functional.logsigmoid
    mean_h = (w * b * m).sum(-1)
    second = (w * b**2 * (m**2 + r**2)).sum(-1)
    vocab = 2 if reference is None else reference.shape[0]
    zero = reference is None or not bool(reference.any())
    gap = None if reference is None or zero else (reference[0] - reference[1]).to(delta)
    out = {
        "accuracy": _component_accuracy(mix, m, r),
        "policy_accuracy": gaussian_policy_accuracy(mix, delta, gap),
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
        policy = delta + gap
        for key, sign in (("chosen_logp_change", 1.0), ("rejected_logp_change", -1.0)):
            out[key] = (_log_sigmoid_expectation(mix, policy, sign, rule)
                        - _log_sigmoid_expectation(mix, gap, sign, rule))
    return out


def population_gd(
    mix: GaussianMixture,
    loss: str | Loss,
    *,
    beta: float | torch.Tensor,
    learning_rate: float | torch.Tensor,
    steps: int | None = None,
    config: TrainConfig | None = None,
    nodes: int = DEFAULT_NODES,
    reference: torch.Tensor | None = None,
) -> Trajectory:
    r"""Run population GD (see the module docstring) from :math:`W_{\rm ref}`.

    ``config`` supplies the optimizer and phases (``steps`` alone: one SGD phase). ``beta`` and
    ``learning_rate`` may be ``[R]`` tensors: R trajectories, batched. ``reference`` is the full
    reference head :math:`W_{\rm ref}` ``[V, d]`` (rows 0, 1: the two responses; ``None``:
    :math:`W_{\rm ref} = 0`, :math:`V = 2`); it sets the policy accuracy and log-prob changes
    (:func:`behavior_metrics`) and the anchor of AdamW's decay. As in the simulator, one answer
    row is tracked (:math:`\Delta = 2u_1`) unless AdamW decays rows with :math:`w_1 + w_2 \ne 0`;
    then both (:math:`\Delta = u_1 - u_2`).
    """
    dtype, device = mix.means.dtype, mix.means.device
    beta_t = torch.as_tensor(beta, dtype=dtype, device=device).reshape(-1)
    lr_t = torch.as_tensor(learning_rate, dtype=dtype, device=device).reshape(-1)
    R = max(beta_t.numel(), lr_t.numel())
    beta_t, lr_t = beta_t.expand(R), lr_t.expand(R)
    if config is None:
        require(steps is not None and steps >= 0, "steps", "must be >= 0")
        config = TrainConfig(loss=loss, beta=float(beta_t[0]), learning_rate=float(lr_t[0]), phases=(Phase("train", int(steps or 0)),))
    if reference is not None:
        require(reference.dim() == 2 and reference.shape[0] >= 2 and reference.shape[1] == mix.dim, "reference",
                f"W_ref must be [V >= 2, {mix.dim}]")
        reference = reference.to(dtype=dtype, device=device)
    answers = torch.zeros(2, mix.dim, dtype=dtype, device=device) if reference is None else reference[:2]
    symmetric = bool(torch.all(answers[0] + answers[1] == 0))
    k = 1 if (config.optimizer != "adamw" or config.weight_decay == 0 or symmetric) else 2
    derivs, rule = LossDerivatives.of(loss), hermite_rule(nodes, dtype, device)
    optimizer = RowOptimizer(config, lr_t, answers[:k])
    row_sign = torch.tensor([1.0, -1.0], dtype=dtype, device=device)[:k].view(1, k, 1)
    rows = torch.zeros(R, k, mix.dim, dtype=dtype, device=device)  # answer rows of W - W_ref

    def delta_of(state: torch.Tensor) -> torch.Tensor:
        return state[:, 0] * 2 if k == 1 else state[:, 0] - state[:, 1]

    deltas, moved, phases = [delta_of(rows)], [rows], []
    for phase, start, end in config.phase_bounds():
        phases.append({"name": phase.name, "labels": phase.labels, "start": start, "end": end})
        optimizer.reset()
        for _ in range(start, end):
            F = population_gradient(mix, delta_of(rows), derivs, beta_t, rule, flipped=phase.labels == "flipped")
            rows = optimizer.step(rows, row_sign * (-beta_t[:, None] * F).unsqueeze(1))
            deltas.append(delta_of(rows))
            moved.append(rows)
    delta = torch.stack(deltas)
    metrics = behavior_metrics(mix, delta, derivs, beta_t.expand(delta.shape[:2]), rule, reference=reference)
    if k == 1:
        opnorm = frobenius = delta.norm(dim=-1) / math.sqrt(2.0)
    else:
        norms = torch.stack([weight_norms(state) for state in moved])
        opnorm, frobenius = norms[..., 0], norms[..., 1]
    return Trajectory(
        list(range(delta.shape[0])), delta,
        accuracy=metrics["accuracy"], policy_accuracy=metrics["policy_accuracy"], loss=metrics["loss"],
        margin=metrics["margin"], margin_std=metrics["margin_std"],
        chosen_logp_change=metrics.get("chosen_logp_change"), rejected_logp_change=metrics.get("rejected_logp_change"),
        weight_change_opnorm=opnorm, weight_change_frobenius=frobenius, phases=phases,
    )


def fixed_point(mix: GaussianMixture, loss: str | Loss, *, beta: float, learning_rate: float,
                tol: float = 1e-12, max_steps: int = 100_000, nodes: int = DEFAULT_NODES) -> torch.Tensor:
    r"""A fixed point :math:`\Delta^\star` of population SGD, by iterating until
    :math:`\|\Delta_{t+1} - \Delta_t\| \le \text{tol}\,\|\Delta_t\|`; per-behaviour accuracies then
    come from :func:`behavior_metrics`."""
    derivs, rule = LossDerivatives.of(loss), hermite_rule(nodes, mix.means.dtype, mix.means.device)
    b = torch.tensor(beta, dtype=mix.means.dtype, device=mix.means.device)
    delta = torch.zeros(mix.dim, dtype=mix.means.dtype, device=mix.means.device)
    for _ in range(max_steps):
        step = 2 * learning_rate * beta * population_gradient(mix, delta, derivs, b, rule)
        delta = delta + step
        if step.norm() <= tol * delta.norm():
            return delta
    raise RuntimeError(f"population GD did not reach a fixed point in {max_steps} steps")


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
