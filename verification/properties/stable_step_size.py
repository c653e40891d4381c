r"""``stable-step-size`` vs simulated full-batch GD below the stable learning rate.

Example: a scenario trained by full-batch SGD (any noise family, geometry, phases of original
labels) with a loss of finite :math:`L_2 = \sup|\phi''|` and a learning rate
:math:`\eta = u\,\eta_{\max}`, :math:`u \in (0, 1]` drawn by Hypothesis, where :math:`\eta_{\max}` is the
claim ``max step`` (:math:`1/(\beta^2L_2\lambda_{\max})`, :math:`\lambda_{\max}` the top eigenvalue of
:math:`\mathbb E gg^\top`; DPO: :math:`4/(\beta^2\lambda_{\max})`)
evaluated with the *empirical* second moment of each run's training set (the law full-batch GD
descends on), minimised over runs. Claim ``descent`` (a bound): the training loss
:math:`\sum_b (n_b/n)\,\overline{\phi(h)}_b` never increases, at every step of every run; the
comparison is deterministic (floating-point tolerance only). No tightness is reported (the bound
is 0).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario, sample_scenario
from prefdyn.numerics.evaluate import claim_function
from prefdyn.theory.losses import get_loss, loss_names

from ..outcome import Comparison, Outcome
from ..strategies import scenarios
from ..tolerance import float_radius
from ._base import Property, loss_name, train, train_counts

#: Every registered loss whose certified :math:`L_2` (:attr:`~prefdyn.theory.losses.Loss.smoothness`,
#: cached per loss) is finite: all of them but ``hinge``, whose :math:`\phi'` jumps, so that the
#: theorem's hypothesis fails and it gives no step size. ``exo-pair`` and ``discopop`` are drawn
#: too: their certified :math:`L_2` (DiscoPOP: 13.2018, not the 0.646 critical-point solving gave)
#: is what makes the step size safe.
SMOOTH_LOSSES = st.sampled_from(loss_names()).filter(lambda name: bool(get_loss(name).smoothness.is_finite))
LAMBDA = r"\lambda_{\max}"

EXAMPLES = st.tuples(
    scenarios(optimizer="sgd", batch_size=0, phases=None, loss=SMOOTH_LOSSES),
    st.one_of(st.just(1.0), st.floats(0.05, 1.0)),
)


def stable_rate(scenario: Scenario) -> float:
    r"""The claim ``max step`` at the smallest empirical :math:`\lambda_{\max}` bound over runs."""
    data = sample_scenario(scenario, scenario.runs, dtype=torch.float64)
    g = data.g[:, data.train]
    second = g.mT @ g / g.shape[1]  # [R, d, d]
    top = torch.linalg.eigvalsh(second)[:, -1].max()
    rate = claim_function("stable-step-size", "max step", loss=loss_name(scenario))(
        {"beta": scenario.training.beta, LAMBDA: top}
    )
    return float(rate)


def check(example: tuple[Scenario, float], device: str) -> Outcome:
    scenario, fraction = example
    config = replace(scenario.training, learning_rate=fraction * stable_rate(scenario))
    _, result = train(scenario, device, config=config, record_every=1)
    weights = train_counts(scenario) / train_counts(scenario).sum()
    loss = (result.curve("loss") * weights).sum(-1)  # [R, T+1]
    increase = loss[:, 1:] - loss[:, :-1]
    return Outcome([Comparison("L(t+1) - L(t)", increase, torch.zeros(()), "<=", float_radius(loss))])


PROPERTY = Property("stable-step-size", "bound", EXAMPLES, check)
