r"""Statistical tolerances with a false-alarm probability of at most :data:`FALSE_ALARM` per example.

Every property compares :math:`m` observed quantities with their claimed values in one
Hypothesis example and fails the example if any comparison is off by more than its radius. By
Bonferroni (the union bound) the example's false-alarm probability is at most
:math:`\sum_i \alpha_i`, so each comparison gets :math:`\alpha/m` with
:math:`\alpha = 10^{-6}`:

* **Hoeffding** (bounded terms: accuracies are means of indicators in :math:`[0, 1]`). For
  :math:`N` independent terms with known means,
  :math:`\Pr(|\bar X - \mathbb E\bar X| \ge r) \le 2e^{-2Nr^2}`, so
  :math:`r = \sqrt{\log(2m/\alpha)/(2N)}` (one-sided: :math:`\log(m/\alpha)`). Exact, no CLT.
* **Student t across independent runs** (unbounded per-run statistics such as a mean margin or a
  coordinate of :math:`\Delta_1`). Each run's statistic :math:`Y_r` is an average over that run's
  samples, hence close to normal (CLT); for :math:`R` i.i.d. normal :math:`Y_r`,
  :math:`(\bar Y - \mu)/(S/\sqrt R) \sim t_{R-1}`, so
  :math:`r = t_{R-1}^{-1}(1 - \alpha/(2m))\,S/\sqrt R`. The heavy-tailed ``student-t`` noise
  family is excluded where a statistic is quadratic in :math:`g` (its fourth moment may not exist).
* **Floating point**: identities that hold exactly in exact arithmetic get :func:`float_radius`.
"""

from __future__ import annotations

import math

import torch
from scipy import stats

from prefdyn.errors import require

#: False-alarm probability allowed per Hypothesis example (all comparisons together).
FALSE_ALARM = 1e-6
#: Relative floating-point tolerance of float64 identities (many roundings of ~1e-16 each).
FLOAT_RTOL = 1e-9


def hoeffding_radius(count: int | torch.Tensor, comparisons: int, one_sided: bool = False) -> torch.Tensor:
    """Radius :math:`\\sqrt{\\log(k m/\\alpha)/(2N)}` (:math:`k = 2` two-sided, 1 one-sided)."""
    sides = 1 if one_sided else 2
    n = torch.as_tensor(count, dtype=torch.float64)
    return torch.sqrt(math.log(sides * comparisons / FALSE_ALARM) / (2 * n))


def student_radius(values: torch.Tensor, comparisons: int) -> torch.Tensor:
    """Radius of the mean over the leading (run) axis of ``values`` ``[R, ...]``."""
    runs = values.shape[0]
    quantile = float(stats.t.isf(FALSE_ALARM / (2 * comparisons), runs - 1))
    return quantile * values.std(0, correction=1) / math.sqrt(runs)


def mean_radius(values: torch.Tensor, comparisons: int, value_range: tuple[float, float] | None = None) -> torch.Tensor:
    r"""Confidence radius of the mean over the leading (run) axis of ``values`` ``[R, ...]``,
    one of ``comparisons`` sharing :data:`FALSE_ALARM` (Bonferroni).

    Unbounded per-run statistics: :func:`student_radius` (CLT across runs). A statistic known
    to lie in ``value_range`` :math:`[a, b]` (an accuracy, in :math:`[0, 1]`) also has
    Hoeffding's distribution-free radius :math:`(b - a)\sqrt{\log(2k/\alpha)/(2R)}`; the
    smaller of the two is returned, each computed at half the level (:math:`k = 2\,`
    ``comparisons``), so the union bound keeps the total at :math:`\alpha`. Needs :math:`R \ge 2`.
    """
    runs = values.shape[0]
    require(runs >= 2, "runs", "a statistical tolerance needs at least two independent runs")
    if value_range is None:
        return student_radius(values, comparisons)
    low, high = value_range
    student = student_radius(values, 2 * comparisons)
    hoeffding = (high - low) * hoeffding_radius(runs, 2 * comparisons)
    return torch.minimum(student, hoeffding.expand_as(student))


def float_radius(*scales: torch.Tensor | float) -> torch.Tensor:
    """:data:`FLOAT_RTOL` times the largest magnitude involved (at least 1e-300)."""
    top = torch.stack([torch.as_tensor(s, dtype=torch.float64).abs().max() for s in scales]).max()
    return FLOAT_RTOL * top.clamp(min=1e-30)


def unseen_event_radius(samples: int, comparisons: int, lipschitz: float, second_moment: torch.Tensor) -> torch.Tensor:
    r"""Radius of :math:`\mathbb E[X]`, :math:`|X| \le L|g_j|`, when :math:`X` vanished on all ``samples``
    draws (a hinge whose active region was never hit): the Student-t interval is then degenerate.
    If :math:`P(X \ne 0) > p^* = \ln(\text{comparisons}/\text{FALSE\_ALARM})/N`, all :math:`N` draws
    miss it with probability at most :math:`e^{-Np^*}`; otherwise, by Cauchy--Schwarz,
    :math:`|\mathbb E X| \le L\sqrt{p^*\,\mathbb E g_j^2}`."""
    rate = math.log(comparisons / FALSE_ALARM) / samples
    return lipschitz * torch.sqrt(rate * second_moment)
