r"""``accuracy-gaussian`` vs held-out accuracy of simulated training.

Example: Gaussian classes (any covariance scales, positive fractions, offsets, geometry), no
label noise, a test split, any loss, optimizer, batch size and phases. After training, each run's
:math:`\Delta = (e_1 - e_2)^\top(W_T - W_{\rm ref})` depends only on its training samples, so its
held-out reward accuracy :math:`[h > 0]` on behaviour :math:`b` is a mean of :math:`m_b`
independent indicators with mean :math:`\operatorname{Acc}_b(\Delta)` (claim ``accuracy``:
:math:`q_b\Phi(\Delta^\top\mu_b^+/\sqrt{\Delta^\top\Sigma_b\Delta})
+ (1-q_b)\Phi(-\Delta^\top\mu_b^-/\sqrt{\Delta^\top\Sigma_b\Delta})`,
evaluated from the printed display itself, its matrix symbols realised as explicit coordinates
by :func:`~prefdyn.numerics.evaluate.claim_function`).
Pooling the runs gives :math:`N_b = R m_b` independent bounded terms: Hoeffding, two-sided,
Bonferroni over the :math:`K` behaviours (:func:`~prefdyn.verification.tolerance.hoeffding_radius`).
Runs with :math:`\Delta = 0` (the formula's assumption :math:`\Delta^\top\Sigma\Delta > 0` fails)
are left out.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario
from prefdyn.numerics.evaluate import claim_function

from ..outcome import Comparison, Outcome
from ..strategies import scenarios
from ..tolerance import hoeffding_radius
from ._base import (
    Property,
    covariances,
    loss_name,
    means,
    per_behavior,
    preference_direction,
    train,
)

EXAMPLES = scenarios(distribution="gaussian", label_noise=0.0, test_fraction=st.floats(0.3, 0.6))


def gaussian_values(scenario: Scenario, delta: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""Values of the accuracy claims' objects broadcasting to ``[R, K]``: :math:`\Delta` ``[R, 1, d]``,
    :math:`\mu_b^\pm` ``[1, K, d]``, :math:`\Sigma_b^\pm` ``[1, K, d, d]``, ``q_b`` ``[1, K]``."""
    plus, minus = means(scenario)
    cov = covariances(scenario)
    return {
        r"\Delta": delta[:, None, :],
        r"\mu_b^+": plus[None],
        r"\mu_b^-": minus[None],
        r"\Sigma_b^+": cov[None],
        r"\Sigma_b^-": cov[None],
        "q_b": per_behavior(scenario, "positive_fraction")[None],
    }


def held_out(scenario: Scenario, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(delta [R', d], observed [R', K], test counts [K], kept runs)`` after training."""
    _, result = train(scenario, device)
    delta = preference_direction(result)
    kept = delta.norm(dim=1) > 1e-12
    observed = result.curve("reward_accuracy", "test")[:, -1]
    return delta[kept], observed[kept], result.counts[:, 1], kept


def check(scenario: Scenario, device: str) -> Outcome:
    delta, observed, tests, kept = held_out(scenario, device)
    if not bool(kept.any()):
        return Outcome()
    claimed = claim_function("accuracy-gaussian", "accuracy", loss=loss_name(scenario), dim=delta.shape[1])(
        gaussian_values(scenario, delta)
    )
    if claimed.shape != observed.shape:  # both [R', K]: a broadcast here would compare the wrong things
        raise ValueError(f"accuracy-gaussian: claim shape {tuple(claimed.shape)} != observed {tuple(observed.shape)}")
    radius = hoeffding_radius(tests * kept.sum(), len(scenario.behaviors))  # runs pooled
    return Outcome([Comparison("held-out accuracy_b", observed.mean(0), claimed.mean(0), "=", radius)])


PROPERTY = Property("accuracy-gaussian", "identity", EXAMPLES, check)
