"""``implicit-bias``: each loss is classified by the tail of its own phi', and only its case is printed."""

from __future__ import annotations

import pytest
import sympy as sp

from prefdyn.errors import PrefdynError
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.losses import get_loss, loss_from_expression
from prefdyn.theory.symbols import beta, eta, n
from prefdyn.theory.theorems.implicit_bias import (
    DATA_SETS,
    EXPONENTIAL,
    HINGE_RUNS,
    LINEAR,
    STATIONARY,
    R,
    _hinge_run,
    _svm,
    classify,
    gamma,
)

SHIFTED = loss_from_expression("log(1 + exp(-(h - gamma)))", {"gamma": 0.5}, name="shifted-logistic")

EXPECTED = {
    "dpo": (EXPONENTIAL, ["tail", "tail rate", "step size", "margin rate", "norm rate"]),
    "ipo": (STATIONARY, ["stationary margin"]),
    "cdpo": (STATIONARY, ["stationary margin"]),
    "rdpo": (LINEAR, ["linear growth"]),
    "hinge": (STATIONARY, ["finite stop"]),
    "exo-pair": (STATIONARY, ["stationary margin"]),
    "discopop": (STATIONARY, ["stationary margin"]),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_builtin_loss_is_classified_and_prints_only_its_case(name: str) -> None:
    kind, labels = EXPECTED[name]
    assert classify(get_loss(name)).kind == kind
    theorem = get_theorem("implicit-bias", name)
    assert [c.label for c in theorem.claims] == labels
    assert theorem.notes[0] == f"Tail class of {name}: {kind}."


def test_tail_constants() -> None:
    dpo = classify(get_loss("dpo"))
    assert (dpo.a, dpo.c, dpo.mu) == (1, 1, 1)
    shifted = classify(SHIFTED)
    assert shifted.kind == EXPONENTIAL and shifted.a == 1 and sp.simplify(shifted.c - sp.exp(sp.Rational(1, 2))) == 0
    assert classify(get_loss("rdpo")).ell == sp.Rational(1, 8)
    assert classify(get_loss("cdpo")).hstar == sp.log(9)


def test_the_false_exponential_tail_cases() -> None:
    """cDPO, rDPO and EXO do not have the exponential tail of the cited theorem; DiscoPOP has one but is
    not monotone (phi'(0) > 0, a negative stationary margin)."""
    for name in ("cdpo", "exo-pair", "discopop"):
        assert classify(get_loss(name)).kind == STATIONARY
    assert classify(get_loss("discopop")).hstar < 0
    assert classify(get_loss("rdpo")).kind == LINEAR


def test_a_polynomial_tail_gets_no_statement() -> None:
    loss = loss_from_expression("sqrt(1 + h**2) - h", name="polynomial-tail")
    with pytest.raises(PrefdynError, match="neither exponential"):
        classify(loss)


def test_the_data_sets_are_svm_solutions() -> None:
    for index in range(len(DATA_SETS)):
        z, w_hat, gamma = _svm(index)
        assert min(sum(a * b for a, b in zip(x, w_hat)) for x in z) == 1
        assert gamma > 0


def test_hinge_runs_stop_within_the_printed_bound() -> None:
    claim = get_theorem("implicit-bias", "hinge").claim("finite stop")
    for index, step, temperature in HINGE_RUNS:
        z, _, margin = _svm(index)
        moves, active = _hinge_run(index, step, temperature)
        radius = max(sp.sqrt(sum(v**2 for v in x)) for x in z)
        bound = claim.rhs.xreplace({n: len(z), eta: step, beta: temperature, gamma: margin, R: radius})
        assert 1 <= moves <= active <= bound


def test_provenance_separates_cited_and_checked() -> None:
    theorem = get_theorem("implicit-bias", "dpo")
    assert "Soudry" in theorem.provenance and "cited, not re-proved" in theorem.provenance
    assert any("Cited, not checked by prefdyn" in note for note in theorem.notes)
