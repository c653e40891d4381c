"""The six trajectory theorems verify, render, and reject a wrong step."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.special import expit
from scipy.stats import norm

from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.functions import to_elementary
from prefdyn.theory.theorems import _traj

IDS = [
    "accuracy-gaussian",
    "accuracy-subexponential",
    "population-flow",
    "priority",
    "misalignment-rate",
    "stable-step-size",
]


@pytest.mark.parametrize("theorem_id", IDS)
def test_latex_block_carries_no_failed_step(theorem_id: str) -> None:
    """(Every step of every loss is checked in test_theory_catalogue.)"""
    latex = get_theorem(theorem_id).latex()
    assert latex.startswith(r"\begin{theorem}") and "NOT VERIFIED" not in latex


@pytest.mark.parametrize(
    ("loss", "ratio_two"),
    [
        ("dpo", True),
        ("ipo", True),
        ("cdpo", True),
        ("rdpo", True),
        ("hinge", False),
        ("exo-pair", False),
        ("discopop", False),
    ],
)
def test_factor_two_exactly_for_losses_with_symmetric_derivative(loss: str, ratio_two: bool) -> None:
    """phi'(h) + phi'(-h) = 2 phi'(0) (omega = 0) iff phi' - phi'(0) is odd: then the ratio claim ends
    at -2 x the alignment step and the symmetry and kappa claims are printed; otherwise the omega claim
    is printed, the ratio keeps its correction term and a note says why there is no factor 2."""
    from prefdyn.theory.losses import get_loss
    from prefdyn.theory.theorems import misalignment_rate as M

    theorem = get_theorem("misalignment-rate", loss)
    labels = [c.label for c in theorem.claims]
    ratio = theorem.claim("ratio")
    if ratio_two:
        assert labels == ["ratio", "symmetry", "kappa law"]
        assert ratio.rhs == -2 * M.step_align[M.ell]
        two_dphi0 = 2 * get_loss(loss).bind(get_loss(loss).dphi_at_zero)
        assert sp.simplify(to_elementary(theorem.claim("symmetry").rhs - two_dphi0)) == 0
    else:
        assert labels == ["ratio", f"omega for {loss}"] and theorem.notes
        assert ratio.rhs.has(M.E_omega[M.ell]) and ratio.rhs != -2 * M.step_align[M.ell]


def test_probit_constants_are_the_suprema_rounded_up() -> None:
    x = np.linspace(-40, 40, 1_600_001)
    lam = float(_traj.PROBIT_LAMBDA)
    err_a = np.abs(expit(x) - norm.cdf(lam * x)).max()
    err_b = np.abs(expit(x) * expit(-x) - lam * norm.pdf(lam * x)).max()
    assert 0.0176 < err_a < float(_traj.PROBIT_ERROR_A)  # 0.017671..., not 0.019
    assert 0.0115 < err_b < float(_traj.PROBIT_ERROR_B)


def test_a_wrong_step_fails() -> None:
    """Forgetting that both answer rows move (a printed eta*beta instead of 2*eta*beta) must not
    verify, and neither must a printed probit error constant below the true supremum."""
    import dataclasses

    from prefdyn.theory.symbols import beta, eta
    from prefdyn.theory.theorems import population_flow as flow

    recursion = get_theorem("population-flow").claim("recursion")
    step = recursion.steps[0]
    assert step.check(recursion.lhs).verified
    halved = sp.MatAdd(flow.Delta_t, sp.MatMul(eta, beta, flow.E_sg))
    assert not dataclasses.replace(step, rhs=halved).check(recursion.lhs).verified
    probit = get_theorem("population-flow").claim("probit A")
    last = probit.steps[-1]
    assert last.check(probit.displays()[-2]).verified
    assert not dataclasses.replace(last, rhs=sp.Rational(176, 10000)).check(probit.displays()[-2]).verified


def test_lambdify_accuracy_statement() -> None:
    # Acc = q Phi(D^T mu+/sqrt(D^T S+ D)) + (1-q) Phi(-D^T mu-/sqrt(D^T S- D)): the printed display,
    # realised at explicit matrices, against scipy's normal CDF.
    from prefdyn.theory.framework import realise
    from prefdyn.theory.theorems import accuracy_gaussian as ag

    claim = get_theorem("accuracy-gaussian").claim("accuracy")
    D, mu_p, mu_m = sp.Matrix([0.5, -1.2]), sp.Matrix([0.7, 0.1]), sp.Matrix([-0.4, 0.3])
    S_p, S_m = sp.Matrix([[1.3, 0.2], [0.2, 0.5]]), sp.Matrix([[0.6, 0.0], [0.0, 2.0]])
    value = float(realise(claim.rhs, {ag.Delta: D, ag.mu_p: mu_p, ag.mu_m: mu_m, ag.S_p: S_p, ag.S_m: S_m, ag.q: 0.25}))
    m_plus, m_minus = float((D.T * mu_p)[0]), float((D.T * mu_m)[0])
    s_plus, s_minus = float((D.T * S_p * D)[0]) ** 0.5, float((D.T * S_m * D)[0]) ** 0.5
    q = 0.25
    expected = q * norm.cdf(m_plus / s_plus) + (1 - q) * norm.cdf(-m_minus / s_minus)
    assert value == pytest.approx(expected, rel=1e-12)
