r"""``accuracy-gaussian`` vs held-out accuracy of simulated training.

Example: Gaussian classes (any covariance scales, positive fractions, offsets, geometry), no
label noise, a test split, any loss, optimizer, batch size and phases. After training, each run's
:math:`\Delta = (e_1 - e_2)^\top(W_T - W_{\rm ref})` depends only on its training samples, so its
held-out reward accuracy :math:`[h > 0]` on behaviour :math:`b` is a mean of :math:`m_b`
independent indicators with mean :math:`\operatorname{Acc}_b(\Delta)` (claim ``accuracy``:
:math:`q_b\Phi(\Delta^\top\mu_b^+/\sqrt{\Delta^\top\Sigma_b\Delta}) + (1-q_b)\Phi(-\Delta^\top\mu_b^-/\sqrt{\Delta^\top\Sigma_b\Delta})`,
evaluated from the printed display itself: its matrix symbols realised as explicit coordinates,
:func:`realised_claim`).
Pooling the runs gives :math:`N_b = R m_b` independent bounded terms: Hoeffding, two-sided,
Bonferroni over the :math:`K` behaviours (:func:`~prefdyn.verification.tolerance.hoeffding_radius`).
Runs with :math:`\Delta = 0` (the formula's assumption :math:`\Delta^\top\Sigma\Delta > 0` fails)
are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import sympy as sp
import torch
from hypothesis import strategies as st

from prefdyn.numerics import Scenario
from prefdyn.numerics.evaluate import torch_lambdify
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import realise
from prefdyn.theory.model import DIMENSION

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


@lru_cache(maxsize=128)
def _realised(theorem_id: str, claim: str, loss: str, dim: int) -> tuple[Callable[..., torch.Tensor], tuple[tuple[str, tuple[int, ...]], ...]]:
    """The claim's printed right side with every matrix symbol replaced by an explicit ``dim``-sized
    matrix of coordinate symbols (:func:`~prefdyn.theory.framework.realise`, the same substitution
    the SymPy check uses), lambdified to torch; plus where each argument is read from."""
    expr = get_theorem(theorem_id, loss).claim(claim).rhs
    binding: dict[Any, sp.Matrix] = {}
    layout: dict[sp.Symbol, tuple[str, tuple[int, ...]]] = {}
    for m in sorted(expr.atoms(sp.MatrixSymbol), key=lambda x: x.name):
        rows, cols = (dim if n == DIMENSION else int(n) for n in m.shape)

        def entry(i: int, c: int, m: sp.MatrixSymbol = m, cols: int = cols) -> sp.Symbol:
            symbol = sp.Symbol(f"_m{len(layout)}", real=True)
            layout[symbol] = (m.name, (i,) if cols == 1 else (i, c))
            return symbol

        binding[m] = sp.Matrix(rows, cols, entry)
    realised = realise(expr, binding)
    scalars = sorted(realised.free_symbols - set(layout), key=lambda x: x.name)
    args = [*scalars, *layout]
    where = tuple((s.name, ()) for s in scalars) + tuple(layout.values())
    return torch_lambdify(realised, args), where


def realised_claim(theorem_id: str, claim: str, loss: str, dim: int) -> Callable[[Mapping[str, Any]], torch.Tensor]:
    r"""``f(values)``: a claim's printed right side at ``values``, keyed by symbol name; a matrix
    symbol's value is a tensor whose trailing axis (axes) are its coordinates, ``[..., d]`` for a
    column such as :math:`\Delta`, ``[..., d, d]`` for :math:`\Sigma_b^\pm`."""
    fn, where = _realised(theorem_id, claim, loss, dim)

    def call(values: Mapping[str, Any]) -> torch.Tensor:
        args = []
        for name, index in where:
            value = torch.as_tensor(values[name], dtype=torch.float64)
            args.append(value[(..., *index)] if index else value)
        return fn(*args)

    return call


def gaussian_values(scenario: Scenario, delta: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""Values of the accuracy claims' objects broadcasting to ``[R, K]``: :math:`\Delta` ``[R, 1, d]``,
    :math:`\mu_b^\pm` ``[1, K, d]``, :math:`\Sigma_b^\pm` ``[1, K, d, d]``, ``q_b`` ``[1, K]``."""
    plus, minus = means(scenario)
    cov = covariances(scenario)
    return {r"\Delta": delta[:, None, :], r"\mu_b^+": plus[None], r"\mu_b^-": minus[None],
            r"\Sigma_b^+": cov[None], r"\Sigma_b^-": cov[None], "q_b": per_behavior(scenario, "positive_fraction")[None]}


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
    claimed = realised_claim("accuracy-gaussian", "accuracy", loss_name(scenario), delta.shape[1])(
        gaussian_values(scenario, delta))
    radius = hoeffding_radius(tests * kept.sum(), len(scenario.behaviors))  # runs pooled
    return Outcome([Comparison("held-out accuracy_b", observed.mean(0), claimed.mean(0), "=", radius)])


PROPERTY = Property("accuracy-gaussian", "identity", EXAMPLES, check)
