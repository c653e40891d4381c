"""The theorem framework: derivations verify, wrong steps are caught, output renders."""

import dataclasses
import re

import pytest
import sympy as sp

from prefdyn.errors import PrefdynError
from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.framework import Claim, Step, Theorem, verify_relation
from prefdyn.theory.printing import statement_latex
from prefdyn.theory.symbols import beta, eta

FOUNDATION = ["dpo-gradient", "update-rate", "weight-growth"]


def test_catalogue_ids_include_foundation():
    assert set(FOUNDATION) <= set(theorem_ids())
    with pytest.raises(PrefdynError, match="unknown theorem id 'nope'"):
        get_theorem("nope")


def _with_step_replaced(theorem: Theorem, claim_label: str, index: int, **changes) -> Theorem:
    claims = []
    for claim in theorem.claims:
        if claim.label == claim_label:
            steps = list(claim.steps)
            steps[index] = dataclasses.replace(steps[index], **changes)
            claim = Claim(claim.label, tuple(steps), claim.prose)
        claims.append(claim)
    return Theorem(theorem.id, theorem.title, theorem.assumptions, claims, loss_name=theorem.loss_name)


def test_injected_wrong_coefficient_fails():
    theorem = get_theorem("update-rate", "dpo")
    last = theorem.claim("orthogonal balanced").steps[-1]
    wrong = _with_step_replaced(theorem, "orthogonal balanced", -1, rhs=2 * last.rhs)
    report = wrong.check()
    assert not report.passed
    bad = [r for c, _, r in report.steps() if not r.verified]
    assert len(bad) == 1 and "instantiated" in bad[0].method


def test_injected_wrong_display_step_fails():
    theorem = get_theorem("weight-growth", "dpo")
    claim = theorem.claim("linear growth")
    wrong = _with_step_replaced(theorem, "linear growth", len(claim.steps) - 1, rhs=claim.steps[-1].rhs / 2)
    assert not wrong.check().passed


def test_wrong_gradient_sign_fails():
    theorem = get_theorem("dpo-gradient", "dpo")
    step = theorem.claims[0].steps[-1]
    wrong = _with_step_replaced(theorem, theorem.claims[0].label, -1, rhs=-step.rhs)
    assert not wrong.check().passed


def test_verify_relation_methods():
    x = sp.Symbol("x", real=True)
    assert verify_relation(sp.sin(x) ** 2 + sp.cos(x) ** 2, "=", 1).method == "symbolic"
    assert verify_relation(x**2, ">=", 0).verified
    assert not verify_relation(x**2, ">=", 1).verified
    # undecidable symbolically: Gaussian tail vs Chernoff bound -> numeric fallback
    t = sp.Symbol("t", positive=True)
    result = verify_relation(sp.erfc(t / sp.sqrt(2)), "<=", 2 * sp.exp(-(t**2) / 2))
    assert result.verified
    assert verify_relation(sp.erfc(t / sp.sqrt(2)), "<=", sp.exp(-(t**2)) / 10).verified is False


def test_statement_is_the_composed_chain():
    theorem = get_theorem("weight-growth", "dpo")
    statement = theorem.statement
    assert isinstance(statement, sp.LessThan)
    assert statement.rhs == theorem.claims[0].steps[-1].rhs
    assert beta in statement.rhs.free_symbols and eta in statement.rhs.free_symbols


def test_chain_rejects_mixed_directions():
    x = sp.Symbol("x")
    claim = Claim("mixed", (Step("<=", x, "a", lhs=x), Step(">=", x, "b")))
    with pytest.raises(ValueError, match="cannot mix"):
        _ = claim.statement


@pytest.mark.parametrize("theorem_id", FOUNDATION)
def test_latex_is_balanced(theorem_id):
    tex = get_theorem(theorem_id, "dpo").latex()
    for env in ("theorem", "proof", "align", "equation", "enumerate"):
        assert tex.count(rf"\begin{{{env}}}") == tex.count(rf"\end{{{env}}}"), env
    assert tex.count("{") == tex.count("}")
    assert "NOT VERIFIED" not in tex
    assert re.search(r"\\label\{thm:" + re.escape(theorem_id) + ":dpo}", tex)


def test_lambdify_weight_growth_bound():
    theorem = get_theorem("weight-growth", "dpo")
    symbols, f = theorem.lambdify()
    values = {"beta": 0.5, "eta": 0.1, "t": 10, r"L_{\phi}": 1.0, r"\mathbb{E}\|g\|": 2.0}
    result = f(*[values[s.name] for s in symbols])
    assert result == pytest.approx(2**0.5 * 0.1 * 0.5 * 10 * 2.0)


def test_repr_latex():
    theorem = get_theorem("dpo-gradient")
    shown = theorem._repr_latex_()
    assert shown.count("$$") == 2 * len(theorem.claims)
    assert all(statement_latex(c) in shown for c in theorem.claims)


MATH_ONLY = ("^", "_", r"\frac", r"\sum", r"\sigma", r"\beta")


@pytest.mark.parametrize("theorem_id", theorem_ids())
def test_text_mode_has_no_math_outside_dollars(theorem_id):
    """Assumptions, summaries and step reasons are text with $...$ math: math-only tokens
    outside the dollars stop pdflatex ("Missing $ inserted")."""
    theorem = get_theorem(theorem_id, "dpo")
    texts = [a.latex for a in theorem.assumptions] + [theorem.summary]
    texts += [step.reason for claim in theorem.claims for step in claim.steps]
    for text in texts:
        assert text.count("$") % 2 == 0, text
        outside = "".join(re.split(r"\$[^$]*\$", text.replace(r"\$", "")))
        for token in MATH_ONLY:
            assert token not in outside, (theorem_id, token, text)
