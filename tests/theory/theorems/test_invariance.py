"""``invariance``: the group derived per loss, what it omits, and that a wrong group fails its check."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.losses import get_loss, loss_from_expression
from prefdyn.theory.symbols import beta, eta
from prefdyn.theory.theorems import invariance as inv

#: (loss, beta exponent k of phi', invariant) for every registered loss.
BUILT_IN = [
    ("dpo", 0, eta * beta**2 * inv.c**2),
    ("ipo", -2, eta * inv.c**2),
    ("cdpo", 0, eta * beta**2 * inv.c**2),
    ("rdpo", 0, eta * beta**2 * inv.c**2),
    ("hinge", 0, eta * beta**2 * inv.c**2),
    ("exo-pair", 0, eta * beta**2 * inv.c**2),
    ("discopop", 0, eta * beta**2 * inv.c**2),
]


@pytest.mark.parametrize(("loss", "k", "invariant"), BUILT_IN)
def test_group_of_every_registered_loss(loss: str, k: int, invariant: sp.Expr) -> None:
    theory = get_loss(loss)
    assert inv.beta_exponent(theory) == k
    assert inv.invariant(theory) == invariant
    assert inv.solved_learning_rate_scale(theory) == inv.lam_beta ** (-2 - k) * inv.lam_c**-2
    theorem = get_theorem("invariance", loss)
    assert [c.label for c in theorem.claims] == [
        "recursion",
        "scaled step",
        "group",
        "invariant",
        "first step",
        "policy gap",
    ]
    assert theorem.check().passed


def test_ipo_margins_do_not_depend_on_beta() -> None:
    """IPO's phi' = 2(h - 1/2)/beta^2: the beta^2 of the step cancels, so the first step's margins
    are free of beta and the group scales beta freely."""
    theorem = get_theorem("invariance", "ipo")
    assert beta not in theorem.claim("first step").rhs.free_symbols
    assert inv.lam_beta not in inv.scale_factor(get_loss("ipo")).free_symbols


def test_a_power_law_user_loss_and_one_without() -> None:
    """phi = log(1 + e^{-h})/beta has k = -1 (invariant eta beta c^2); phi = log(1 + e^{-beta h}) has no
    power law in beta, which is then kept (lambda_beta = 1, invariant eta c^2 at fixed beta)."""
    power = loss_from_expression("log(1 + exp(-h))/beta", name="tempered")
    assert inv.beta_exponent(power) == -1
    assert inv.invariant(power) == eta * beta * inv.c**2
    other = loss_from_expression("log(1 + exp(-beta*h))", name="inner-beta")
    assert inv.beta_exponent(other) is None
    assert inv.invariant(other) == eta * inv.c**2
    theorem = inv.build(other)
    assert inv.lam_beta not in theorem.claim("scaled step").rhs.free_symbols
    assert "not enter" in theorem.notes[0]
    for loss in (power, other):
        assert inv.build(loss).check().passed


def test_stationary_reference_is_a_fixed_point() -> None:
    """phi'(0) = 0: the first step's margins are 0 under every (eta, beta, c), and the note says so."""
    theorem = inv.build(loss_from_expression("log(1 + exp(-h)) + h/2", name="flat-start"))
    assert theorem.claim("first step").rhs == 0
    assert theorem.check().passed
    assert any("fixed point" in note for note in theorem.notes)


def test_a_wrong_learning_rate_scale_fails_the_group() -> None:
    """The group's left side at lambda_eta = lambda_beta^-1 lambda_c^-2 (one power of lambda_beta
    short) is not the original step."""
    claim = get_theorem("invariance", "dpo").claim("group")
    step = claim.steps[0]
    scaled, _, _ = claim.lhs.args
    wrong = sp.Subs(scaled, inv.lam_eta, inv.lam_beta**-1 * inv.lam_c**-2)
    assert not dataclasses.replace(step, lhs=wrong).check(wrong).verified


def test_latex_names_the_group() -> None:
    latex = get_theorem("invariance", "ipo").latex()
    assert latex.startswith(r"\begin{theorem}") and "NOT VERIFIED" not in latex
    assert r"\lambda_{\beta}" in latex and r"\lambda_{c}" in latex
