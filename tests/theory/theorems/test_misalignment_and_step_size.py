"""``misalignment-rate`` and ``stable-step-size``: the printed displays are what is checked.

Each test edits one printed display the way a reviewer did (``kappa^2 -> kappa^3``,
``1/(beta^2 L_2 lambda) -> 2/(...)``, ``-2 Delta^align -> -3 Delta^align``) and checks that the step
printing it now fails; and that the hypotheses each claim needs are printed (``eta <= eta_max``,
``phi'(h) + phi'(-h) = 2 phi'(0)``), or the claim omitted with a note where the loss lacks them.
"""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import Claim
from prefdyn.theory.losses import get_loss
from prefdyn.theory.symbols import beta
from prefdyn.theory.theorems import misalignment_rate as M
from prefdyn.theory.theorems import stable_step_size as S


def _last_step_with(claim: Claim, display: sp.Basic) -> bool:
    """Whether the claim's last step verifies with ``display`` printed in place of its right side."""
    last = dataclasses.replace(claim.steps[-1], rhs=display)
    return last.check(claim.displays()[-2]).verified


def test_kappa_cubed_instead_of_squared_fails() -> None:
    claim = get_theorem("misalignment-rate", "dpo").claim("kappa law")
    assert _last_step_with(claim, claim.rhs)
    assert not _last_step_with(claim, claim.rhs.subs(M.kappa**2, M.kappa**3))


def test_factor_three_instead_of_two_fails() -> None:
    claim = get_theorem("misalignment-rate", "dpo").claim("ratio")
    assert claim.rhs == -2 * M.step_align[M.ell]
    assert not _last_step_with(claim, -3 * M.step_align[M.ell])


def test_the_factor_two_needs_the_symmetric_derivative() -> None:
    """For the hinge (omega = -1 where |h| > 1) a printed factor 2 without the correction is false
    on the stationary law with a margin -5/4, and the theorem does not print it."""
    theorem = get_theorem("misalignment-rate", "hinge")
    claim = theorem.claim("ratio")
    hinge_only = M._ratio_instances(get_loss("hinge"), generic=False)
    last = dataclasses.replace(claim.steps[-1], instances=hinge_only)
    assert last.check(claim.displays()[-2]).verified
    assert not dataclasses.replace(last, rhs=-2 * M.step_align[M.ell]).check(claim.displays()[-2]).verified
    assert any("not exactly $-2$" in note for note in theorem.notes)
    assert all("symmetric derivative" != a.name for a in theorem.assumptions)
    dpo = get_theorem("misalignment-rate", "dpo")
    assert any(a.name == "symmetric derivative" for a in dpo.assumptions)


def test_discopop_positive_slope_at_zero_is_noted() -> None:
    theorem = get_theorem("misalignment-rate", "discopop")
    assert any(r"\phi'(0) =" in note and "> 0" in note for note in theorem.notes)


def test_eta_max_with_a_two_fails() -> None:
    claim = get_theorem("stable-step-size", "dpo").claim("max step")
    assert claim.rhs == 4 / (beta**2 * S.lam)
    assert _last_step_with(claim, claim.rhs)
    assert not _last_step_with(claim, 2 * claim.rhs)


def test_descent_prints_its_step_size_hypothesis() -> None:
    theorem = get_theorem("stable-step-size", "dpo")
    assert any(a.name == "step size" and r"\eta \le \eta_{\max}" in a.latex for a in theorem.assumptions)
    assert theorem.claim("descent").lhs == S.loss_next - S.loss_now


@pytest.mark.parametrize("loss", ["dpo", "discopop"])
def test_descent_is_checked_on_the_loss_with_its_own_smoothness(loss: str) -> None:
    """A smoothness constant below the loss's sup|phi''| (DiscoPOP's is 13.2 at h = 0.054, not
    0.646) makes the descent lemma fail on the loss's own instances."""
    resolved = get_loss(loss)
    L2 = resolved.smoothness
    assert resolved.name in S._descent_instances(resolved, L2).label
    too_small = {"dpo": sp.Rational(1, 8), "discopop": sp.Float(0.646)}[loss]
    assert not S._descent(resolved, too_small).check()[0].verified


def test_no_descent_claim_for_the_hinge() -> None:
    theorem = get_theorem("stable-step-size", "hinge")
    assert [c.label for c in theorem.claims] == ["hessian"]
    assert any("omitted" in note for note in theorem.notes)
