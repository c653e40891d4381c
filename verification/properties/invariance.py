r"""``invariance`` vs three simulated SGD trainings of the same scenario.

Example: a scenario trained by SGD in one phase (any loss, batch size and batching, geometry,
label noise, reference head) and scale factors :math:`\lambda_\beta, \lambda_c \in [1/4, 4]`. Three
trainings on the same draws and the same batch schedule:

* the scenario itself, :math:`(\eta, \beta, c = 1)`;
* the rescaled system: embeddings :math:`\lambda_c g`, :math:`\beta' = \lambda_\beta\beta` (or
  :math:`\beta` when the claim does not scale it), and the :math:`\eta'` that keeps the theorem's
  own invariant, :math:`I(\eta', \beta', \lambda_c) = I(\eta, \beta, 1)` (the printed right side of
  claim ``invariant`` at scale factors 1, through
  :func:`~prefdyn.numerics.evaluate.claim_function`; :math:`I` is linear in :math:`\eta`), with the
  reference head's answer rows divided by :math:`\lambda_\beta\lambda_c` (claim ``policy gap``);
* an unrelated change: :math:`\eta'' = 2\eta` alone.

Claims checked:

* ``group``: every recorded step's mean margin and margin spread, reward accuracy and policy
  accuracy (train and test split, every behaviour and run) of the rescaled system equal the
  original's, and so does the loss when the loss value does not depend on :math:`\beta` besides
  the margin or :math:`\beta' = \beta` (deterministic: :func:`~prefdyn.verification.tolerance.float_radius`
  of the compared curves);
* ``first step``: the mean margins after the first step are linear in :math:`I`, so those of the
  unrelated run are :math:`I''/I` times the original's (:math:`I''/I` from the same printed
  invariant); and, the converse, they differ from the original's by more than :math:`10^3` float
  radii whenever the original's first step moved a mean margin at all (it does for every
  registered loss, :math:`\phi'(0) \ne 0`, unless every behaviour's mean
  :math:`\sum_j s_a s_j\hat G_{aj}` vanishes).

The learning rate is lowered where needed so that one step amplifies rounding errors by at most
5% (:func:`_tame_rate`; the radius carries that growth over the run): two runs equal in exact
arithmetic otherwise decorrelate in floating point where the margin map is strongly expanding.
Accuracies compare indicators of margins that agree to rounding; they could differ only for a
margin within rounding of 0 other than the exact ties at the reference (which both runs share),
an event of probability zero under the scenarios' continuous noise in one phase. (A flipped-label
phase can bring the hinge's :math:`\Delta` back to exactly 0, where the signs of the margins are
rounding: such examples are not drawn.)
"""

from __future__ import annotations

from dataclasses import replace

import torch
from hypothesis import strategies as st

from prefdyn.numerics import PreferenceData, Scenario, SimulationResult, sample_scenario, simulate
from prefdyn.numerics.config import TrainConfig
from prefdyn.numerics.data import ReferenceHead
from prefdyn.numerics.evaluate import claim_function
from prefdyn.theory.losses import get_loss
from prefdyn.theory.symbols import beta as beta_symbol

from ..outcome import Comparison, Outcome
from ..strategies import scenarios
from ..tolerance import float_radius
from ._base import Property, loss_name

#: The unrelated change of the learning rate (beta and the embeddings kept).
UNRELATED_RATE_FACTOR = 2.0
#: The largest per-step growth factor, minus 1, of rounding errors that the examples allow (:func:`_tame_rate`).
EXPANSION = 0.05
#: How many float radii the unrelated first step must differ by.
SEPARATION = 1e3
#: Curves of the rescaled system compared with the original's (the loss only where it is a
#: function of the margin alone).
CURVES = ("margin", "margin_std", "reward_accuracy", "policy_accuracy")

EXAMPLES = st.tuples(
    scenarios(
        optimizer="sgd",
        phases=None,
        runs=st.integers(1, 3),
        learning_rate=st.one_of(st.just(0.5), st.floats(0.01, 1.0)),
        samples=st.integers(16, 128),
    ),
    st.floats(0.25, 4.0),
    st.floats(0.25, 4.0),
)


def _run(data: PreferenceData, config: TrainConfig, scenario: Scenario, device: str) -> SimulationResult:
    """Every step recorded, on the scenario's batch schedule."""
    return simulate(data, config, seed=scenario.seed, record_every=1, device=device, dtype=torch.float64)


def _rescaled_data(data: PreferenceData, scale_beta: float, scale_c: float) -> PreferenceData:
    r"""Embeddings times :math:`\lambda_c`; the reference head's answer rows divided by
    :math:`\lambda_\beta\lambda_c` (the other logits' log-sum-exp, which no compared curve uses, kept)."""
    head = data.head
    if head is not None:
        head = ReferenceHead(head.rows / (scale_beta * scale_c), head.other_logsumexp)
    return replace(data, g=data.g * scale_c, head=head)


def _tame_rate(loss: str, config: TrainConfig, data: PreferenceData) -> tuple[float, float]:
    r"""The learning rate trained, and the factor by which rounding errors may grow over the run.

    Two runs equal in exact arithmetic differ by rounding, which one step of the margin map
    amplifies by at most :math:`1 + \varepsilon`, :math:`\varepsilon = 2\eta\beta^2 L_2\max_i\|g_i\|^2`
    (its Jacobian :math:`\delta_{aj} - \frac{2\eta\beta^2}{m}\phi''(h_j)s_a s_j\langle g_a, g_j\rangle` in the
    max-row-sum norm; :math:`L_2 = \sup|\phi''|`). Where :math:`\varepsilon` is large the float
    trajectories decorrelate (DiscoPOP, :math:`L_2 = 13.2`, is chaotic at :math:`\eta\beta^2 = 1/2`), so the
    drawn :math:`\eta` is lowered to make :math:`\varepsilon \le` :data:`EXPANSION`, and the float radius is
    multiplied by :math:`(1 + \varepsilon)^T`. A loss with :math:`\phi'' = 0` away from its kinks
    (the hinge) has a piecewise affine margin map with the identity as Jacobian, so :math:`\varepsilon = 0`:
    rounding changes its step only for a margin within rounding of a kink, an event of probability
    zero under continuous noise."""
    theory = get_loss(loss)
    if theory.bind(theory.d2phi) == 0:
        return config.learning_rate, 1.0
    curvature = float(theory.bind(theory.smoothness).subs(beta_symbol, config.beta))
    size = float((data.g**2).sum(-1).max())
    eta = min(config.learning_rate, EXPANSION / (2 * config.beta**2 * curvature * size))
    return eta, (1 + 2 * eta * config.beta**2 * curvature * size) ** config.steps


def check(example: tuple[Scenario, float, float], device: str) -> Outcome:
    scenario, scale_beta, scale_c = example
    loss = loss_name(scenario)
    config = scenario.training
    invariant = claim_function("invariance", "invariant", loss=loss)
    scales_beta = any(name == "lambda_beta" for name, _ in invariant.arguments)
    scale_beta = scale_beta if scales_beta else 1.0

    def value(rate: float, temperature: float, c: float) -> float:
        units = {"lambda_eta": 1.0, "lambda_beta": 1.0, "lambda_c": 1.0}
        return float(invariant({**units, "eta": rate, "beta": temperature, "c": c}))

    data = sample_scenario(scenario, scenario.runs, dtype=torch.float64)
    beta = config.beta
    eta, growth = _tame_rate(loss, config, data)
    config = replace(config, learning_rate=eta)
    new_beta = scale_beta * beta
    new_eta = eta * value(eta, beta, 1.0) / value(eta, new_beta, scale_c)
    original = _run(data, config, scenario, device)
    rescaled = _run(
        _rescaled_data(data, scale_beta, scale_c),
        replace(config, beta=new_beta, learning_rate=new_eta),
        scenario,
        device,
    )
    curves = list(CURVES)
    if scale_beta == 1.0 or beta_symbol not in get_loss(loss).phi.free_symbols:
        curves.append("loss")
    unrelated_eta = UNRELATED_RATE_FACTOR * eta
    unrelated = _run(data, replace(config, learning_rate=unrelated_eta), scenario, device)
    comparisons = []
    for metric in curves:
        for split in ("train", "test"):
            ours, theirs = original.curve(metric, split), rescaled.curve(metric, split)
            radius = growth * float_radius(ours, theirs)
            comparisons.append(Comparison(f"{metric} ({split}), rescaled", theirs, ours, "=", radius))
    ratio = value(unrelated_eta, beta, 1.0) / value(eta, beta, 1.0)
    first, moved = original.curve("margin")[:, 1], unrelated.curve("margin")[:, 1]
    radius = float_radius(first, moved)
    comparisons.append(Comparison("margin after step 1, eta alone", moved, ratio * first, "=", radius))
    if bool(first.abs().max() > 0):  # the converse: the unrelated first step differs beyond rounding
        separated = ((moved - first).abs().max() >= SEPARATION * radius).double()
        comparisons.append(Comparison("margins after step 1 differ beyond rounding, eta alone", separated, 1.0, "="))
    return Outcome(comparisons)


PROPERTY = Property("invariance", "identity", EXAMPLES, check)
