r"""``priority`` vs simulated training and the scenario's own geometry.

Example: balanced (:math:`q_b = \tfrac12`), orthogonal, isotropic Gaussian behaviours (:math:`K \ge 2`,
no label noise, a test split; any loss, optimizer, batch size, offsets). Claims checked:

* ``interference``: for :math:`\Delta = \sum_b a_b\delta_b` (the projection of each run's trained
  direction onto :math:`\operatorname{span}\{\delta_b\}`, :math:`a_b = \Delta^\top\delta_b/\|\delta_b\|^2`),
  :math:`\operatorname{Acc}_b = \Phi(a_bG_{bb}/(2\sigma_b\sqrt{\sum_k a_k^2G_{kk}}))`, :math:`G_{bb} = \|\delta_b\|^2`,
  against the held-out accuracy of that :math:`\Delta` measured on the run's test samples
  (independent of :math:`\Delta`): Hoeffding over the pooled test samples, Bonferroni over :math:`K`;
* ``priority level``: :math:`\varpi_i - \varpi_j` computed from the authors' definition
  (:math:`\bar b = \tfrac12(\delta_i + \delta_j)`, :math:`\varpi_i = \langle\bar b, \delta_i\rangle/\|\bar b\|`,
  their :math:`p_i`) on the scenario's :math:`\delta` vectors for every pair, with *any* geometry
  (``cosines``), against :math:`(\|\delta_i\|^2 - \|\delta_j\|^2)/(2\|\bar b\|)`; floating point.

The population claims (``ordering``, ``fixed point``, ``joint vs alone``) are not checked here.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario
from prefdyn.numerics.evaluate import claim_function
from prefdyn.numerics.scenario import correlation_factor

from ..outcome import Comparison, Outcome
from ..strategies import MAX_BEHAVIORS, cosine_matrices, scenarios
from ..tolerance import float_radius, hoeffding_radius
from ._base import Property, loss_name, means, per_behavior, preference_direction, train

EXAMPLES = st.tuples(
    scenarios(
        behaviors=st.integers(2, MAX_BEHAVIORS),
        distribution="gaussian",
        label_noise=0.0,
        positive_fraction=0.5,
        noise_scales=None,
        cosines=None,
        distinguishability=st.floats(0.2, 5.0),
        test_fraction=st.floats(0.3, 0.6),
    ),
    cosine_matrices(MAX_BEHAVIORS),
)


def check(example: tuple[Scenario, list[list[float]] | None], device: str) -> Outcome:
    scenario, cosines = example
    K = len(scenario.behaviors)
    data, result = train(scenario, device)
    plus, minus = means(scenario)
    deltas = plus - minus  # [K, d], orthogonal
    norms = deltas.norm(dim=1)
    coef = preference_direction(result) @ deltas.T / norms**2  # [R, K]
    projected = coef @ deltas  # [R, d]
    kept = projected.norm(dim=1) > 1e-12
    g, s, test = data.g[kept], data.s[kept], ~data.train
    correct = ((s * (g @ projected[kept].unsqueeze(-1)).squeeze(-1)) > 0).double()[:, test]
    behavior = data.behavior[test]
    observed = torch.stack([correct[:, behavior == b].mean() for b in range(K)])
    sigma = per_behavior(scenario, "noise")
    gram = torch.diag(norms**2)  # orthogonal: G_bb' = <delta_b, delta_b'> is diagonal
    claimed = torch.stack(
        [
            claim_function("priority", "interference", loss=loss_name(scenario), K=K, b=b + 1)(
                {"a": coef[kept], "G": gram, r"\sigma": sigma}
            ).mean()
            for b in range(K)
        ]
    )
    counts = torch.tensor([int((behavior == b).sum()) * int(kept.sum()) for b in range(K)])
    comparisons = (
        [Comparison("held-out accuracy_b at the span projection", observed, claimed, "=", hoeffding_radius(counts, K))]
        if bool(kept.any())
        else []
    )
    return Outcome(comparisons + [_priority_level(scenario, cosines)])


def _priority_level(scenario: Scenario, cosines: list[list[float]] | None) -> Comparison:
    """``varpi_i - varpi_j`` from its definition vs the claim, for every pair, on ``cosines`` geometry."""
    K = len(scenario.behaviors)
    cos = np.eye(K) if cosines is None else np.array(cosines)[:K, :K]
    factor = torch.from_numpy(correlation_factor(cos, "cosines"))  # singular (collinear) allowed
    deltas = factor * per_behavior(scenario, "distinguishability")[:, None]
    observed, claimed = [], []
    for i, j in itertools.combinations(range(K), 2):
        bbar = (deltas[i] + deltas[j]) / 2
        if float(bbar.norm()) < 1e-9:
            continue
        observed.append((bbar @ deltas[i] - bbar @ deltas[j]) / bbar.norm())
        claimed.append(
            claim_function("priority", "priority level", loss=loss_name(scenario))(
                {r"\|\bar b\|": bbar.norm(), r"\|\delta_i\|": deltas[i].norm(), r"\|\delta_j\|": deltas[j].norm()}
            )
        )
    obs, cl = torch.stack(observed) if observed else torch.zeros(0), torch.stack(claimed) if claimed else torch.zeros(0)
    return Comparison("priority level varpi_i - varpi_j", obs, cl, "=", float_radius(obs, cl, 1.0))


PROPERTY = Property("priority", "identity", EXAMPLES, check)
