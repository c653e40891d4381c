"""population-flow and priority: sign-aware claims, fixed-point and induction steps that are not
tautologies, and statements printed without the reviewers' artefacts."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import Instances
from prefdyn.theory.losses import loss_names
from prefdyn.theory.symbols import beta, eta, t
from prefdyn.theory.theorems import population_flow as flow
from prefdyn.theory.theorems import priority as prio

ORDERED = {"dpo", "rdpo"}  # phi' < 0 on R and L2 < oo; the others omit the ordering


@pytest.mark.parametrize("loss", loss_names())
def test_the_ordering_is_printed_only_where_its_hypotheses_hold(loss: str) -> None:
    theorem = get_theorem("priority", loss)
    labels = [c.label for c in theorem.claims]
    assert ("ordering" in labels) is (loss in ORDERED)
    if loss not in ORDERED:
        assert any("omitted" in note for note in theorem.notes)
    if loss == "discopop":  # phi'(0) = 17/4 - 5 log 2 > 0: the reason names it
        assert any(r"\phi'(0)" in note for note in theorem.notes)
    if loss == "hinge":
        assert any(r"\infty" in note for note in theorem.notes)


def test_the_ordering_hypotheses_are_assumptions() -> None:
    text = " ".join(a.latex for a in get_theorem("priority", "dpo").assumptions)
    for hypothesis in (
        r"\sigma_b = \sigma",
        r"p_i\|\delta_i\|^2 \ge p_j\|\delta_j\|^2",
        r"\phi' \le 0",
        r"\eta \le \eta_{\max}",
        r"\nu_b(t) \ge \nu_{b'}(t)",
    ):
        assert hypothesis in text


def test_the_ordering_step_is_not_a_tautology() -> None:
    """The induction step fails when a hypothesis fails (a step above eta_max makes the first factor
    negative while nu_i(t) > nu_j(t)), and a swapped weight in the printed recursion fails."""
    claim = get_theorem("priority", "dpo").claim("ordering")
    recursion, mean_value, last = claim.steps
    assert (
        not dataclasses.replace(recursion, rhs=recursion.rhs.xreplace({prio.p_[prio.i]: prio.p_[prio.j_]}))
        .check(claim.lhs)
        .verified
    )

    def violated() -> list[dict]:
        base = {
            prio.K: 2,
            prio.i: 1,
            prio.j_: 2,
            prio.r_t: 1,
            beta: 1,
            eta: 4,
            prio.B_bar: sp.Rational(1, 4),
            prio.nu_fn: lambda c, time: [1, 0][int(c) - 1],
            prio.p_: lambda c: sp.Rational(1, 2),
            prio.sig: lambda c: 1,
            prio.G: lambda c, e: 1 if c == e else 0,
            flow.A: lambda v, s: sp.Rational(1, 3),
            flow.B: lambda v, s: sp.Rational(1, 4),
        }
        return [{**base, prio.nu_i: 1, prio.nu_j: 0}]  # eta = 4 > eta_max = 1/(L2 (2 + 1/4)) ~ 1.8

    assert not dataclasses.replace(last, instances=Instances("eta > eta_max", violated)).check(mean_value.rhs).verified


def test_the_fixed_point_holds_only_at_fixed_points() -> None:
    claim = get_theorem("priority", "dpo").claim("fixed point")
    first, second = claim.steps
    assert all(r.verified for r in claim.check())

    def moved() -> list[dict]:  # the same bindings with a^* scaled: no longer a fixed point
        out = []
        for binding in first.instances.bindings:
            star = binding[prio.a_star]
            out.append({**binding, prio.a_star: lambda c, star=star: 2 * star(c)})
        return out

    assert not dataclasses.replace(first, instances=Instances("not a fixed point", moved)).check(claim.lhs).verified
    without_two = (
        prio.p_[prio.b]
        * prio.A_star[prio.b]
        / (beta * sp.Sum(prio.p_[prio.k] * prio.sig[prio.k] ** 2 * prio.B_star[prio.k], (prio.k, 1, prio.K)))
    )
    assert not dataclasses.replace(second, rhs=without_two).check(first.rhs).verified


def test_a_wrong_interference_law_fails() -> None:
    claim = get_theorem("priority", "dpo").claim("interference")
    root = sp.sqrt(sp.Sum(prio.a_[prio.k] ** 2 * prio.G[prio.k, prio.k], (prio.k, 1, prio.K)))
    assert claim.rhs == prio.Phi(prio.a_[prio.b] * prio.G[prio.b, prio.b] / (2 * prio.sig[prio.b] * root))
    wrong = prio.Phi(prio.a_[prio.b] * prio.G[prio.b, prio.b] / (prio.sig[prio.b] * root))  # sigma_b for 2 sigma_b
    assert not dataclasses.replace(claim.steps[0], rhs=wrong).check(claim.lhs).verified


def test_a_wrong_stein_display_fails() -> None:
    """Sigma Delta printed in the wrong order (Delta^T Sigma) cannot even be formed; a wrong sign of
    the Stein term (the old s-sum's s = -1 term) must fail."""
    claim = get_theorem("population-flow", "dpo").claim("stein")
    last = claim.steps[-1]
    flipped = last.rhs.xreplace({flow.q: -flow.q})
    assert not dataclasses.replace(last, rhs=flipped).check(claim.displays()[-2]).verified


@pytest.mark.parametrize("theorem_id", ["population-flow", "priority"])
def test_printed_without_artefacts(theorem_id: str) -> None:
    from prefdyn.theory.printing import statement_latex

    theorem = get_theorem(theorem_id, "dpo")
    text = " ".join(statement_latex(c) for c in theorem.claims) + " ".join(theorem.notation.values())
    assert "s=-1" not in text and "/10000" not in text and r"\frac{177}" not in text
    assert "m_{b}" not in text and "p_i -" not in text
    if theorem_id == "priority":
        assert r"\varpi_i - \varpi_j" in text and "{a^{*}}_{b} =" in text
    else:
        assert r"\Sigma_b^+ \Delta" in text and "0.0177" in text


def test_probit_claims_only_for_dpo() -> None:
    assert {"probit A", "probit B"} <= {c.label for c in get_theorem("population-flow", "dpo").claims}
    cdpo = get_theorem("population-flow", "cdpo")
    assert not {"probit A", "probit B"} & {c.label for c in cdpo.claims}
    assert any("omitted" in note for note in cdpo.notes)


def test_nu_prints_with_its_time() -> None:
    from prefdyn.theory.printing import tex

    assert tex(prio.nu_fn(prio.k, t + 1)) == r"\nu_{k}(t+1)"
    assert tex(prio.nu_i_next - prio.nu_j_next) == r"\nu_b(t+1) - \nu_{b'}(t+1)"
