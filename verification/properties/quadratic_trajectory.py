r"""``quadratic-trajectory`` vs simulated full-batch GD with a quadratic loss.

Example: a scenario trained by full-batch SGD (any noise family, geometry, reference head) with
IPO or the user quadratic :math:`\phi(h) = h^2/2 - h`, at the learning rate
:math:`\eta = u\,\eta_2`, :math:`\eta_2 = 2/(4\beta^2a_2\lambda_{\max})` the stability threshold
(:math:`\kappa\lambda_{\max} = 2u`), :math:`u` drawn by Hypothesis with :math:`u = 0.99` (close to,
but below, the threshold) as a drawn case of its own; scenarios with fewer training samples than
dimensions (singular :math:`M`) are drawn too. The training set's empirical law is the
"population": :math:`M = \frac1n\sum_i g_ig_i^\top` and :math:`\mathbb E[sg] = \frac1n\sum_i s_ig_i`
per run, and full-batch GD on it follows the theorem exactly. Compared, to floating-point
precision (:func:`~prefdyn.verification.tolerance.float_radius`), with the closed form evaluated by
:func:`prefdyn.numerics.quadratic.quadratic_trajectory` (eigendecomposition of :math:`M`, every
step at once):

* the final :math:`\Delta_T` of every run;
* at every recorded step :math:`t`, the simulated per-behaviour mean margins
  :math:`\beta\,\overline{s g}_b^\top\Delta_t` of both splits and the weight change
  :math:`\|W_t - W_{\rm ref}\|_F = \|\Delta_t\|/\sqrt2` (the two answer rows move by
  :math:`\pm\Delta_t/2`);
* the theorem's printed expressions through
  :func:`~prefdyn.numerics.evaluate.claim_function`: claim ``affine step`` maps the closed form's
  :math:`\Delta_t` to its :math:`\Delta_{t+1}` at every step; claim ``fixed point``'s right side
  (one step from :math:`\Delta^\star`) at :func:`~prefdyn.numerics.quadratic.quadratic_fixed_point`
  is :math:`\Delta^\star`; claim
  ``trajectory``'s right side at :math:`t = 1` is the closed form's :math:`\Delta_1`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sympy as sp
import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario, sample_scenario
from prefdyn.numerics.evaluate import CompiledExpression, compile_expression
from prefdyn.numerics.quadratic import coefficients, quadratic_fixed_point, quadratic_trajectory
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import Side
from prefdyn.theory.losses import Loss, loss_from_expression
from prefdyn.theory.model import DIMENSION
from prefdyn.theory.theorems._traj import MatrixScalar

from ..outcome import Comparison, Outcome
from ..strategies import MAX_DIM, scenarios
from ..tolerance import float_radius
from ._base import Property, preference_direction, train

THEOREM = "quadratic-trajectory"
#: A user loss quadratic in the margin, beside IPO.
HALF_SQUARE = loss_from_expression("h**2/2 - h", name="half-square")
LOSSES = st.sampled_from(["ipo", HALF_SQUARE])
#: :math:`u = \eta/\eta_2`: the threshold's neighbourhood as a case of its own, else anywhere below.
FRACTIONS = st.one_of(st.just(0.99), st.floats(0.05, 0.99))

EXAMPLES = st.tuples(
    st.one_of(
        scenarios(optimizer="sgd", batch_size=0, phases=None, loss=LOSSES),
        scenarios(  # fewer training samples than dimensions: M singular
            optimizer="sgd",
            batch_size=0,
            phases=None,
            loss=LOSSES,
            behaviors=1,
            dim=st.integers(4, MAX_DIM),
            samples=st.integers(2, 3),
            test_fraction=0.0,
        ),
    ),
    FRACTIONS,
)

#: The probe :math:`u` that reads one coordinate of a printed vector display.
PROBE = sp.MatrixSymbol("u", DIMENSION, 1)
#: The step counts at which claim ``trajectory``'s printed right side is evaluated.
TRAJECTORY_STEPS = (1,)


def _loss(scenario: Scenario) -> str | Loss:
    return scenario.training.loss


def check(example: tuple[Scenario, float], device: str) -> Outcome:
    scenario, fraction = example
    loss, beta = _loss(scenario), scenario.training.beta
    data = sample_scenario(scenario, scenario.runs, dtype=torch.float64)
    g, s = data.g[:, data.train], data.s[:, data.train]  # [R, n, d], [R, n]
    second = g.mT @ g / g.shape[1]  # M of each run's training set, [R, d, d]
    signed = (s.unsqueeze(-1) * g).mean(1)  # E[s g], [R, d]
    a2, a1 = coefficients(loss, beta)
    top = torch.linalg.eigvalsh(second)[:, -1].max()
    rate = fraction * 2 / (4 * beta**2 * a2 * float(top))
    _, result = train(scenario, device, config=replace(scenario.training, learning_rate=rate), record_every=1)
    steps = torch.tensor(result.steps)
    path = quadratic_trajectory(second, signed, steps, loss=loss, beta=beta, learning_rate=rate)  # [R, T, d]

    comparisons = [
        Comparison("Delta_T", preference_direction(result), path[:, -1], "=", float_radius(path)),
        Comparison(
            "||W_t - W_ref||_F",
            result.curve("weight_change_frobenius"),
            path.norm(dim=-1) / 2**0.5,
            "=",
            float_radius(path),
        ),
    ]
    for split, mask in (("train", data.train), ("test", ~data.train)):
        if not bool(mask.any()):
            continue
        margins = beta * torch.einsum("rtd,rnd->rtn", path, data.s[:, mask].unsqueeze(-1) * data.g[:, mask])
        member = torch.nn.functional.one_hot(data.behavior[mask], len(data.behavior_names)).to(margins.dtype)
        claimed = margins @ member / member.sum(0).clamp(min=1)  # [R, T, K]
        present = member.sum(0) > 0
        comparisons.append(
            Comparison(
                f"mean margin ({split})",
                result.curve("margin", split)[..., present],
                claimed[..., present],
                "=",
                float_radius(claimed),
            )
        )
    scalars = {"a_2": a2, "a_1": a1, "eta": rate, "beta": beta}
    comparisons += _printed(loss, scalars, second, signed, path, result.steps)
    return Outcome(comparisons)


def _printed_function(loss: str | Loss, claim: str, side: Side, dim: int, **integers: int) -> CompiledExpression:
    r"""Coordinate :math:`u^\top X` of the theorem's printed vector display :math:`X` (one side of
    ``claim``), compiled by :func:`~prefdyn.numerics.evaluate.compile_expression`; ``values["u"]``
    is the probe :math:`u` (a one-hot vector per coordinate)."""
    display = get_theorem(THEOREM, loss).claim(claim).side(side)
    return compile_expression(MatrixScalar(sp.MatMul(sp.Transpose(PROBE), display)), dim=dim, integers=integers)


def _coordinates(function: CompiledExpression, values: dict[str, Any], dim: int, batch: int) -> torch.Tensor:
    r"""Every coordinate of a compiled display at once: the probe :math:`e_j` on a leading axis, moved
    last (``batch`` axes of the values between)."""
    probes = torch.eye(dim, dtype=torch.float64).reshape(dim, *([1] * batch), dim)
    return torch.movedim(function({**values, PROBE.name: probes}), 0, -1)


def _printed(
    loss: str | Loss,
    scalars: dict[str, float],
    second: torch.Tensor,
    signed: torch.Tensor,
    path: torch.Tensor,
    steps: list[int],
) -> list[Comparison]:
    r"""The theorem's printed claims ``affine step``, ``fixed point`` and ``trajectory`` (at
    :math:`t = 1`) on the closed form's values."""
    dim = second.shape[-1]
    matrices = {"M": second, r"\mathbb{E}[s\,g]": signed, "I": torch.eye(dim, dtype=second.dtype).expand_as(second)}
    per_step = {name: value.unsqueeze(1) for name, value in matrices.items()}  # a step axis after the runs
    after = _coordinates(
        _printed_function(loss, "affine step", "rhs", dim), {**per_step, **scalars, r"\Delta_t": path[:, :-1]}, dim, 2
    )
    star = quadratic_fixed_point(second, signed, loss=loss, beta=scalars["beta"])
    fixed = _coordinates(
        _printed_function(loss, "fixed point", "rhs", dim), {**matrices, **scalars, r"\Delta^{\star}": star}, dim, 1
    )
    out = [
        Comparison("affine step: Delta_{t+1}", after, path[:, 1:], "=", float_radius(path)),
        Comparison("fixed point", fixed, star, "=", float_radius(star)),
    ]
    start = torch.zeros_like(signed)
    for k in TRAJECTORY_STEPS:
        if k in steps:
            closed = _coordinates(
                _printed_function(loss, "trajectory", "rhs", dim, t=k),
                {**matrices, **scalars, r"\Delta^{\star}": star, r"\Delta_0": start},
                dim,
                1,
            )
            out.append(Comparison(f"trajectory at t = {k}", closed, path[:, steps.index(k)], "=", float_radius(path)))
    return out


PROPERTY = Property(THEOREM, "identity", EXAMPLES, check)
