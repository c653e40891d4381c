"""The six trajectory theorems verify, render, and reject a wrong step."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.special import expit
from scipy.stats import norm

from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import Form, chain, verify_relation
from prefdyn.theory.functions import to_elementary
from prefdyn.theory.theorems import _traj

IDS = ["accuracy-gaussian", "accuracy-subexponential", "population-flow", "priority", "misalignment-rate", "stable-step-size"]


@pytest.mark.parametrize("theorem_id", IDS)
def test_every_step_verifies(theorem_id: str) -> None:
    report = get_theorem(theorem_id).check()
    failed = [(c.label, r.detail) for c, _, r in report.steps() if not r.verified]
    assert not failed
    latex = get_theorem(theorem_id).latex()
    assert latex.startswith(r"\begin{theorem}") and "NOT VERIFIED" not in latex


@pytest.mark.parametrize("loss", ["ipo", "cdpo", "hinge"])
def test_misalignment_and_step_size_for_other_losses(loss: str) -> None:
    for theorem_id in ("misalignment-rate", "stable-step-size"):
        assert get_theorem(theorem_id, loss).check().passed


@pytest.mark.parametrize(("loss", "ratio_two"), [("dpo", True), ("ipo", True), ("cdpo", True), ("hinge", False)])
def test_omega_vanishes_exactly_for_odd_symmetric_losses(loss: str, ratio_two: bool) -> None:
    """omega = 2 phi'(0) - phi'(h) - phi'(-h) is 0 (flipped step = -2 x alignment step) iff phi' - phi'(0) is odd."""
    claim = get_theorem("misalignment-rate", loss).claim(f"omega for {loss}")
    assert (sp.simplify(to_elementary(claim.rhs)) == 0) is ratio_two


def test_probit_constants_are_the_suprema_rounded_up() -> None:
    x = np.linspace(-40, 40, 1_600_001)
    lam = float(_traj.PROBIT_LAMBDA)
    err_a = np.abs(expit(x) - norm.cdf(lam * x)).max()
    err_b = np.abs(expit(x) * expit(-x) - lam * norm.pdf(lam * x)).max()
    assert 0.0176 < err_a < float(_traj.PROBIT_ERROR_A)  # 0.017671..., not 0.019
    assert 0.0115 < err_b < float(_traj.PROBIT_ERROR_B)


def test_a_wrong_step_fails() -> None:
    """Forgetting that both answer rows move (eta*beta instead of 2*eta*beta) must not verify,
    and neither must a probit error constant below the true supremum."""
    recursion = get_theorem("population-flow").claim("recursion").steps[0]
    for lhs, rhs in recursion.instances.build():  # type: ignore[union-attr]
        assert verify_relation(lhs, "=", rhs).verified
        assert not verify_relation(lhs, "=", rhs / 2).verified
    x = sp.Symbol("x", real=True)
    too_small = chain(
        "probit", Form(sp.Symbol("s"), lambda: [1 / (1 + sp.exp(-x))]),
        [(">=", Form(sp.Symbol("p"), lambda: [_traj.Phi(_traj.PROBIT_LAMBDA * x) - sp.Rational(1, 1000)]), "wrong constant")],
        instances="x", domain={x: (1.5, 4.0)},
    )
    assert not too_small.check()[0].verified


def test_lambdify_accuracy_statement() -> None:
    # Acc = q Phi(m+/s+) + (1-q) Phi(-m-/s-), evaluated independently with scipy's normal CDF.
    symbols, f = get_theorem("accuracy-gaussian").lambdify()
    assert len(symbols) == 5
    m_plus, m_minus, s_plus, s_minus, q = 0.7, -0.4, 1.3, 0.6, 0.25
    expected = q * norm.cdf(m_plus / s_plus) + (1 - q) * norm.cdf(-m_minus / s_minus)
    assert f(m_plus, m_minus, s_plus, s_minus, q) == pytest.approx(expected, rel=1e-12)
