r"""``misalignment-rate`` vs simulated full-batch GD with a flipped-label phase.

Example: a scenario trained by full-batch SGD for :math:`T` steps (any loss, noise family,
geometry). From the same sampled data the simulator produces :math:`\Delta_1` (first alignment
step), :math:`\Delta_T`, :math:`\Delta_{T+1}` after one more original-label step and
:math:`\Delta_T + \Delta^{\rm flip}` after one flipped-label step. Writing
:math:`\phi'(-h) = 2\phi'(0) - \phi'(h) - \omega(h)` (the definition of :math:`\omega`, the theorem's
claim ``omega for <loss>``; :math:`\omega \equiv 0` for DPO, IPO, cDPO, rDPO: claim ``symmetry``) in
:math:`\Delta^{\rm flip} = 2\eta\beta\,\hat{\mathbb E}[\phi'(-h)sg]` gives, at *any* :math:`\Delta_T`,

.. math:: \Delta^{\rm flip} + 2\Delta^{\rm align}_1 - (\Delta_{T+1} - \Delta_T)
          = -2\eta\beta\,\hat{\mathbb E}[\omega(h)\,s\,g],

whose stationary case (:math:`\Delta_{T+1} = \Delta_T`) is the theorem's claim ``ratio`` (ending at
:math:`-2\Delta^{\rm align}` when :math:`\omega \equiv 0`). The
right-hand side is :math:`\omega` on the empirical law; an exact identity, so the tolerance is floating point.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario
from prefdyn.numerics.config import Phase
from prefdyn.numerics.evaluate import loss_kernels

from ..outcome import Comparison, Outcome
from ..strategies import scenarios
from ..tolerance import float_radius
from ._base import Property, loss_name, preference_direction, train, with_steps

EXAMPLES = scenarios(optimizer="sgd", batch_size=0, phases=None, steps=st.integers(1, 8), runs=st.integers(1, 3))


def omega(loss: str, h: torch.Tensor, beta: float) -> torch.Tensor:
    r""":math:`\omega(h) = 2\phi'(0) - \phi'(h) - \phi'(-h)` (the theorem's definition, with
    the numerically stable torch kernel of :math:`\phi'`; its simplified right-hand side can
    overflow, e.g. DiscoPOP's :math:`e^h`)."""
    dphi = loss_kernels(loss).dphi
    b = torch.tensor(beta, dtype=h.dtype)
    return 2 * dphi(torch.zeros_like(h), b) - dphi(h, b) - dphi(-h, b)


def check(scenario: Scenario, device: str) -> Outcome:
    config = scenario.training
    T = config.steps
    data, aligned = train(scenario, device)
    _, first = train(scenario, device, config=with_steps(config, 1))
    _, further = train(scenario, device, config=with_steps(config, T + 1))
    _, flipped = train(
        scenario, device, config=replace(config, phases=(Phase("align", T), Phase("misalign", 1, "flipped")))
    )
    delta_T = preference_direction(aligned)
    lhs = (
        (preference_direction(flipped) - delta_T)
        + 2 * preference_direction(first)
        - (preference_direction(further) - delta_T)
    )
    g, s = data.g[:, data.train], data.s[:, data.train]
    h = config.beta * s * (g @ delta_T.unsqueeze(-1)).squeeze(-1)
    rhs = (
        -2
        * config.learning_rate
        * config.beta
        * (omega(loss_name(scenario), h, config.beta) * s).unsqueeze(-1).mul(g).mean(1)
    )
    return Outcome(
        [
            Comparison(
                "flip + 2 align - original step",
                lhs,
                rhs,
                "=",
                float_radius(lhs, rhs, preference_direction(first), delta_T),
            )
        ]
    )


PROPERTY = Property("misalignment-rate", "identity", EXAMPLES, check)
