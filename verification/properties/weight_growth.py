r"""``weight-growth`` vs simulated full-batch GD: a deterministic bound on every run and step.

Example: a scenario trained by full-batch SGD (any phases, reference head, geometry, noise
family) with a loss of bounded slope :math:`L_\phi = \sup|\phi'| < \infty`. Claims checked at
every recorded step :math:`t \ge 1` of every run:

* ``linear growth`` (bound): :math:`\|W_t - W_{\rm ref}\|_{op} \le \sqrt2\,\eta\beta t L_\phi\,\mathbb E\|g\|`,
  with :math:`\mathbb E\|g\|` the run's mean embedding norm over its training samples (the
  empirical law full-batch GD descends on);
* ``operator norm`` = ``Frobenius norm`` (identity, the head moves in rank one).

No randomness enters the comparison (the bound holds for every sample), so the only tolerance is
floating point. Tightness: bound / observed over all runs and steps.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario
from prefdyn.numerics.evaluate import claim_function
from prefdyn.theory.losses import get_loss, loss_names

from ..outcome import Comparison, Outcome
from ..strategies import scenarios
from ..tolerance import float_radius
from ._base import Property, loss_name, train

BOUNDED = tuple(name for name in loss_names() if get_loss(name).sup_abs_dphi.is_finite)

EXAMPLES = scenarios(optimizer="sgd", batch_size=0, loss=st.sampled_from(BOUNDED))


def check(scenario: Scenario, device: str) -> Outcome:
    loss = get_loss(loss_name(scenario))
    data, result = train(scenario, device, record_every=1)
    mean_norm = data.g[:, data.train].norm(dim=-1).mean(-1)  # [R]
    t = torch.tensor(result.steps[1:], dtype=torch.float64)  # [T]
    bound = claim_function("weight-growth", "linear growth", loss=loss.name)(
        {
            "eta": scenario.training.learning_rate,
            "beta": scenario.training.beta,
            "t": t[None, :],
            r"L_{\phi}": float(loss.sup_abs_dphi),
            r"\mathbb{E}\|g\|": mean_norm[:, None],
        }
    )
    op = result.curve("weight_change_opnorm")[:, 1:]
    frobenius = result.curve("weight_change_frobenius")[:, 1:]
    return Outcome(
        [
            Comparison("||W_t - W_ref||_op", op, bound, "<=", float_radius(bound)),
            Comparison("||.||_op vs ||.||_F", op, frobenius, "=", float_radius(frobenius, 1e-12)),
        ]
    )


PROPERTY = Property("weight-growth", "bound", EXAMPLES, check)
