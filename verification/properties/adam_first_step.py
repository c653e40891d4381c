r"""``adam-first-step`` vs one simulated Adam or AdamW step from :math:`W_{\rm ref}`.

Example: a scenario (any registered loss or one of :data:`USER_LOSSES`, geometry, label noise,
reference head, full batch or minibatch, :math:`\epsilon_A` from :math:`10^{-8}` to 1, decay rates,
AdamW weight decay) trained for one step with ``adam`` or ``adamw``. From the run's own data, the step's batch mean :math:`\hat m = \hat{\mathbb
E}_B[s g]` (the simulator's batch schedule) and behaviour :math:`b`'s signed mean :math:`m_b` over its
training samples; :math:`w^{\rm ref}` are the reference head's answer rows. Claims checked, each
through :func:`~prefdyn.numerics.evaluate.claim_function` on the same :math:`\hat m, m_b`:

* ``preference direction``: :math:`\Delta^{(1)}_j` against the simulated
  :math:`(e_1 - e_2)^\top(W_1 - W_{\rm ref})`, every run and coordinate;
* ``margin``: :math:`\bar h_b(1)` against the simulated mean training margin of behaviour :math:`b`;
* ``sign form`` (when :math:`\phi'(0) \ne 0`): the printed left side, evaluated at the simulated
  :math:`\bar h_b(1)`, against the printed :math:`O(\epsilon_A)` bound;
* ``aligned l1`` (when :math:`\phi'(0) \ne 0`), for the runs and behaviours with
  :math:`\hat m_j m_{b,j} \ge 0` for every :math:`j` (every behaviour of a one-behaviour full-batch
  run): the printed left side at the simulated :math:`\bar h_b(1)` against the printed right side.

All are exact identities or a bound given :math:`\hat m` and :math:`m_b`: tolerance
:func:`~prefdyn.verification.tolerance.float_radius` of the magnitudes that enter (for a margin,
its largest term :math:`\beta\|\Delta^{(1)}\|_1\max|g|`), no statistics.
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario
from prefdyn.numerics.evaluate import claim_function
from prefdyn.numerics.schedule import BatchSchedule
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.losses import Loss, loss_from_expression, loss_names

from ..outcome import Comparison, Outcome
from ..strategies import scenarios
from ..tolerance import float_radius
from ._base import Property, preference_direction, train

THEOREM = "adam-first-step"
#: User losses: a shifted logistic, and one with phi'(0) = 0 (the step is the decay term alone).
USER_LOSSES = (
    loss_from_expression("log(1 + exp(-(h - gamma)))", {"gamma": 0.5}, name="shifted-logistic"),
    loss_from_expression("h**2", name="flat-at-zero"),
)

EXAMPLES = scenarios(
    loss=st.one_of(st.sampled_from(loss_names()), st.sampled_from(USER_LOSSES)),
    steps=1,
    phases=None,
    optimizer=st.sampled_from(["adam", "adamw"]),
    runs=st.integers(1, 4),
    adam_eps=st.sampled_from([1e-8, 1e-4, 1e-2, 0.1, 1.0]),
    adam_betas=st.sampled_from([[0.9, 0.999], [0.0, 0.99], [0.5, 0.9]]),
)


def signed_means(
    scenario: Scenario, g: torch.Tensor, s: torch.Tensor, behavior: torch.Tensor, train: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(hat_m, m)``: the first step's batch mean :math:`\hat m = \hat{\mathbb E}_B[s g]` per run
    (``[R, d]``, the simulator's batch schedule) and the signed means :math:`m_b` of the behaviours'
    training samples (``[R, K, d]``), from the run's data ``g`` ``[R, n, d]``, ``s`` ``[R, n]``."""
    sg = s.unsqueeze(-1) * g
    runs = g.shape[0]
    train_idx = torch.nonzero(train).squeeze(1)
    batch = BatchSchedule.from_config(train_idx, scenario.training, scenario.seed, range(runs)).indices(0)
    hat_m = torch.stack([sg[r, batch[r]].mean(0) for r in range(runs)])
    means = [sg[:, train & (behavior == b)].mean(1) for b in range(len(scenario.behaviors))]
    return hat_m, torch.stack(means, 1)


def check(scenario: Scenario, device: str) -> Outcome:
    config, loss = scenario.training, scenario.training.loss
    data, result = train(scenario, device)
    hat_m, m = signed_means(scenario, data.g, data.s, data.behavior, data.train)
    rows = data.head.rows if data.head is not None else torch.zeros(2, scenario.dim, dtype=torch.float64)
    values = {
        "eta": config.learning_rate,
        "beta": config.beta,
        "epsilon_A": config.adam_eps,
        "lambda_wd": config.weight_decay,
        r"\hat m": hat_m,
        "m": m,
        r"w^{\mathrm{ref}}": rows,
    }
    K, d = len(scenario.behaviors), scenario.dim
    observed_direction = preference_direction(result)  # [R, d]
    direction = claim_function(THEOREM, "preference direction", loss=loss, vector=("j",))(values)
    margin = result.curve("margin")[:, -1]  # [R, K]
    claimed = torch.stack([claim_function(THEOREM, "margin", loss=loss, b=b + 1, d=d)(values) for b in range(K)], 1)
    # the largest term of a margin: beta |Delta^(1)|_1 max |g|
    scale = config.beta * observed_direction.abs().sum(-1).max() * data.g.abs().max()
    comparisons = [
        Comparison("Delta^(1)_j", observed_direction, direction, "=", float_radius(observed_direction, direction)),
        Comparison("mean margin_b(1)", margin, claimed, "=", float_radius(margin, claimed, scale)),
    ]
    labels = {claim.label for claim in get_theorem(THEOREM, loss).claims}
    if "sign form" in labels:
        comparisons += _sign_claims(loss, values, margin, scale, hat_m, m, K, d)
    return Outcome(comparisons)


def _sign_claims(
    loss: str | Loss,
    values: dict[str, Any],
    margin: torch.Tensor,
    scale: torch.Tensor,
    hat_m: torch.Tensor,
    m: torch.Tensor,
    K: int,
    d: int,
) -> list[Comparison]:
    r"""Claims ``sign form`` (every run and behaviour) and ``aligned l1`` (the runs and behaviours
    with :math:`\hat m_j m_{b,j} \ge 0`), their printed left sides at the simulated margins."""
    sides = {}
    for label in ("sign form", "aligned l1"):
        lhs, rhs = [], []
        for b in range(K):
            at = {**values, r"\bar h_b(1)": margin[:, b]}
            lhs.append(claim_function(THEOREM, label, loss=loss, side="lhs", b=b + 1, d=d)(at))
            rhs.append(claim_function(THEOREM, label, loss=loss, b=b + 1, d=d)(at))
        sides[label] = (torch.stack(lhs, 1), torch.stack(rhs, 1))
    deviation, bound = sides["sign form"]
    out = [Comparison("|sign-form deviation_b|", deviation, bound, "<=", float_radius(deviation, bound, scale))]
    aligned = (hat_m.unsqueeze(1) * m >= 0).all(-1)  # [R, K]
    if bool(aligned.any()):
        left, right = (side[aligned] for side in sides["aligned l1"])
        out.append(Comparison("aligned margin_b(1) + decay", left, right, "=", float_radius(left, right, scale)))
    return out


PROPERTY = Property(THEOREM, "identity", EXAMPLES, check)
