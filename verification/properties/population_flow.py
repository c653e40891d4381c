r"""``population-flow`` vs Monte Carlo on sampled scenario data.

Example: a Gaussian scenario (any weights, positive fractions, label noise, offsets, geometry,
covariance scales, loss) and a direction :math:`\Delta` (Hypothesis-drawn coefficients on the
coordinate axes). Claims checked:

* ``stein`` (averaged over behaviours):
  :math:`\mathbb E[-\phi'(h)\,s\,g] = \sum_b p_b\big(q_b(A_b^+\mu_b^+ - \beta B_b^+\Sigma_b^+\Delta)
  - (1-q_b)(A_b^-\mu_b^- + \beta B_b^-\Sigma_b^-\Delta)\big)`, :math:`A_b^\pm = A(\nu_b^\pm, r_b^\pm)`
  (:func:`prefdyn.numerics.population.population_gradient`; :math:`A, B` in closed form or by
  quadrature on the loss's kernel scale, every registered loss) against
  the run-mean of each run's sample average of :math:`-\phi'(\beta s\Delta^\top g)\,s\,g` over its
  training samples; Student t across :data:`RUNS` runs, Bonferroni over the :math:`d` coordinates
  (when :math:`\phi'` vanished on every sample, e.g. no margin in the hinge's active region, the
  distribution-free :func:`~prefdyn.verification.tolerance.unseen_event_radius` instead).
  The run average weighs behaviours by :math:`n_b/n`, so the mixture weights are :math:`n_b/n`.
* ``probit A`` (a statement about DPO's :math:`A`, checked at every example's components whatever
  loss trains): the claim's printed left side
  :math:`|A(\nu, r) - \Phi(-\lambda\beta\nu/\sqrt{1+\lambda^2\beta^2r^2})|` evaluated by
  :func:`~prefdyn.numerics.evaluate.claim_function` against its printed bound 0.0177
  (deterministic; tightness = bound / observed error).
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario, sample_scenario
from prefdyn.numerics.evaluate import claim_function, loss_kernels
from prefdyn.numerics.population import GaussianMixture, population_gradient
from prefdyn.numerics.quadrature import hermite_rule
from prefdyn.theory.symbols import beta as beta_symbol

from ..outcome import Comparison, Outcome
from ..strategies import MAX_DIM, scenarios
from ..tolerance import float_radius, student_radius, unseen_event_radius
from ._base import Property, covariances, means, per_behavior, train_counts

RUNS = 32

EXAMPLES = st.tuples(
    scenarios(distribution="gaussian", runs=RUNS, test_fraction=0.0, samples=st.integers(32, 128)),
    st.lists(st.floats(-2.0, 2.0), min_size=MAX_DIM, max_size=MAX_DIM),
)


def mixture(scenario: Scenario, weights: torch.Tensor) -> GaussianMixture:
    """The scenario's Gaussian classes (both classes share :math:`\\Sigma_b`) with ``weights``."""
    plus, minus = means(scenario)
    cov = covariances(scenario)
    return GaussianMixture(
        weights,
        per_behavior(scenario, "positive_fraction"),
        torch.stack([plus, minus], 1),
        torch.stack([cov, cov], 1),
        per_behavior(scenario, "label_noise"),
    )


def check(example: tuple[Scenario, list[float]], device: str) -> Outcome:
    scenario, coefficients = example
    loss, beta = scenario.training.loss, torch.tensor(scenario.training.beta, dtype=torch.float64)
    delta = torch.tensor(coefficients[: scenario.dim], dtype=torch.float64)
    data = sample_scenario(scenario, RUNS, dtype=torch.float64)
    g, s = data.g[:, data.train], data.s[:, data.train]
    h = beta * s * (g @ delta)
    weight = -loss_kernels(loss).dphi(h, beta)
    per_run = (weight * s).unsqueeze(-1).mul(g).mean(1)  # [R, d]
    counts = train_counts(scenario)
    mix = mixture(scenario, counts / counts.sum())
    derivs = loss_kernels(loss)
    claimed = population_gradient(mix, delta, derivs, beta, hermite_rule())
    radius = student_radius(per_run, scenario.dim)
    if not bool((weight != 0).any()):  # phi' vanished on every sample: no CLT, a rare-event bound
        radius = unseen_event_radius(
            weight.numel(),
            scenario.dim,
            float(derivs.loss.bind(derivs.loss.sup_abs_dphi).subs(beta_symbol, beta)),
            torch.diagonal(mix.second_moment()),
        )
    return Outcome(
        [
            Comparison("E[-phi'(h) s g]", per_run.mean(0), claimed, "=", radius + float_radius(claimed)),
            _probit(mix, delta, beta),
        ]
    )


def _probit(mix: GaussianMixture, delta: torch.Tensor, beta: torch.Tensor) -> Comparison:
    """The printed left side of claim ``probit A`` (DPO), :math:`|A(\\nu, r) - \\Phi(\\dots)|`,
    evaluated per component with DPO's quadrature :math:`A`, against the printed bound."""
    m = torch.einsum("kcd,d->kc", mix.means, delta) * torch.tensor([1.0, -1.0], dtype=torch.float64)
    r = torch.einsum("kcd,kcd->kc", mix.covariance_times(delta), delta.expand_as(mix.means)).clamp(min=0).sqrt()
    A, _ = loss_kernels("dpo").moments(m, r, beta, hermite_rule())
    gap = claim_function("population-flow", "probit A", loss="dpo", side="lhs")(
        {r"A(\nu, r)": A, r"\nu": m, "r": r, "beta": beta, r"\lambda": math.sqrt(math.pi / 8)}
    )
    bound = claim_function("population-flow", "probit A", loss="dpo")({})
    return Comparison("|A(nu, r) - Phi(-lambda beta nu / s_r)|", gap, bound, "<=", float_radius(1.0))


PROPERTY = Property("population-flow", "identity", EXAMPLES, check)
