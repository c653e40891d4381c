r"""``accuracy-subexponential`` vs held-out accuracy of simulated training (a lower bound).

Example: as for ``accuracy-gaussian`` (Gaussian classes, no label noise, a test split), plus a
tail exponent :math:`\alpha \in [0.5, 2]`. A Gaussian class is :math:`\alpha`-subexponential for
every :math:`\alpha \le 2`: :math:`u^\top(g - \mu) \sim N(0, u^\top\Sigma_b u)`, so
:math:`\|u^\top(g-\mu)\|_{\psi_\alpha} = c_\alpha\sqrt{u^\top\Sigma_b u} \le K_b\|u\|` with
:math:`K_b = c_\alpha\sqrt{\lambda_{\max}(\Sigma_b)}` and :math:`c_\alpha` the root of
:math:`\mathbb E\,e^{(|Z|/c)^\alpha} = 2` (:func:`psi_alpha_constant`, quadrature; :math:`c_2 = \sqrt{8/3}`).

Claim ``bound`` at each run's trained :math:`\Delta`: held-out accuracy (pooled over runs)
:math:`\ge` the mean over runs of the bound, minus a one-sided Hoeffding radius with Bonferroni
over the :math:`K` behaviours (the bound holds for each run's conditional accuracy, hence for
their mean). Tightness: bound / observed.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from hypothesis import strategies as st
from scipy import integrate, optimize

from prefdyn.numerics import Scenario
from prefdyn.numerics.evaluate import claim_function

from ..outcome import Comparison, Outcome
from ..tolerance import hoeffding_radius
from ._base import Property, covariances, loss_name
from .accuracy_gaussian import EXAMPLES as SCENARIOS
from .accuracy_gaussian import gaussian_values, held_out

EXAMPLES = st.tuples(SCENARIOS, st.one_of(st.just(2.0), st.floats(0.5, 2.0)))


@lru_cache(maxsize=1024)
def psi_alpha_constant(alpha: float) -> float:
    r""":math:`\|Z\|_{\psi_\alpha}` of a standard normal: the :math:`c` with
    :math:`\mathbb E e^{(|Z|/c)^\alpha} = 2`."""

    def excess(c: float) -> float:
        if alpha == 2.0 and c * c <= 2.0:
            return math.inf  # the integral diverges
        density = lambda z: math.exp(min((z / c) ** alpha - z * z / 2, 700.0)) * math.sqrt(2 / math.pi)
        return integrate.quad(density, 0, math.inf)[0] - 2

    return float(optimize.brentq(excess, 0.5, 100.0, xtol=1e-12))


def check(example: tuple[Scenario, float], device: str) -> Outcome:
    scenario, alpha = example
    delta, observed, tests, kept = held_out(scenario, device)
    if not bool(kept.any()):
        return Outcome()
    values: dict[str, torch.Tensor | float] = dict(gaussian_values(scenario, delta))
    top = torch.linalg.eigvalsh(covariances(scenario))[:, -1]
    values.update({"K_b": (psi_alpha_constant(alpha) * top.sqrt())[None], r"\alpha": alpha})
    bound = claim_function("accuracy-subexponential", "bound", loss=loss_name(scenario), dim=delta.shape[1])(values)
    radius = hoeffding_radius(tests * kept.sum(), len(scenario.behaviors), one_sided=True)
    return Outcome([Comparison("held-out accuracy_b", observed.mean(0), bound.mean(0), ">=", radius)])


PROPERTY = Property("accuracy-subexponential", "bound", EXAMPLES, check)
