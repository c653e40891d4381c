"""``quadratic-trajectory``: which losses get the closed form, user quadratics, and the constant kappa."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from prefdyn.theory.losses import get_loss, loss_from_expression
from prefdyn.theory.symbols import beta, eta
from prefdyn.theory.theorems import quadratic_trajectory as qt

USER_QUADRATICS = [
    loss_from_expression("(h - 1)**2", name="shifted-square"),
    loss_from_expression("h**2/2 - h", name="half-square"),
]
CLOSED_FORM = [
    "quadratic",
    "jacobian",
    "affine step",
    "fixed point",
    "induction",
    "trajectory",
    "limit",
    "accuracy curve",
]


def test_quadratic_coefficients_come_from_phi() -> None:
    assert qt.quadratic_coefficients(get_loss("ipo")) == (1 / beta**2, -1 / beta**2, 1 / (4 * beta**2))
    assert qt.quadratic_coefficients(USER_QUADRATICS[0]) == (1, -2, 1)
    assert qt.quadratic_coefficients(USER_QUADRATICS[1]) == (sp.Rational(1, 2), -1, 0)


@pytest.mark.parametrize("text", ["h**3 + h**2", "-(h**2)", "1 - h", "Max(0, 1 - h)**2", "log(1 + exp(-h))"])
def test_not_quadratic(text: str) -> None:
    assert qt.quadratic_coefficients(loss_from_expression(text)) is None


@pytest.mark.parametrize("name", ["dpo", "cdpo", "rdpo", "hinge", "exo-pair", "discopop"])
def test_other_losses_get_the_jacobian_and_a_note(name: str) -> None:
    theorem = qt.build(get_loss(name))
    assert [c.label for c in theorem.claims] == ["jacobian"]
    assert any("omitted" in note for note in theorem.notes)
    assert theorem.check().passed


@pytest.mark.slow
@pytest.mark.parametrize("loss", USER_QUADRATICS, ids=lambda loss: loss.name)
def test_user_quadratic_verifies_and_perturbations_fail(loss) -> None:
    theorem = qt.build(loss)
    assert [c.label for c in theorem.claims] == CLOSED_FORM
    assert theorem.check().passed
    for claim in theorem.claims:
        last, previous = claim.steps[-1], claim.displays()[-2]
        for wrong in (sp.Rational(101, 100) * claim.rhs, -claim.rhs):
            assert not dataclasses.replace(last, rhs=wrong).check(previous).verified, claim.label


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2, 8])
def test_the_constant_kappa_is_checked(factor: int) -> None:
    """Printing kappa = factor eta beta^2 a_2 instead of 4 eta beta^2 a_2 fails the affine step."""
    claim = qt.build(get_loss("ipo")).claim("affine step")
    wrong_step = sp.MatAdd(qt.I, sp.MatMul(-factor * eta * beta**2 * qt.a_2, qt.M))
    wrong = sp.MatAdd(sp.MatMul(wrong_step, qt.Delta_t), qt.DRIFT)
    assert not dataclasses.replace(claim.steps[-1], rhs=wrong).check(claim.displays()[-2]).verified
