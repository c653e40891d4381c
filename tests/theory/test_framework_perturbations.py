"""What is printed is what is checked: perturbing any claim's printed statement breaks its check.

For every theorem of the catalogue, every claim and every loss (each registered loss and one user
expression), the printed statement ``lhs R rhs`` is perturbed three ways (:func:`perturbations`):
one numeric coefficient scaled by 1.01, one sign flipped, one term dropped. The perturbed display
replaces the printed one and :meth:`Step.check` must then fail. The list is the catalogue's, so a
theorem added later is covered without editing this file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import sympy as sp

from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.framework import Atom, Claim, StepResult
from prefdyn.theory.losses import loss_from_expression, loss_names

USER_LOSS = loss_from_expression("log(1 + exp(-(h - gamma)))", {"gamma": 0.5}, name="shifted-logistic")
LOSSES = [*loss_names(), USER_LOSS]


def _structured(expr: sp.Basic) -> bool:
    return not (isinstance(expr, (sp.Number, Atom)) or (isinstance(expr, sp.Symbol) and "\\" in expr.name))


def _first_add(expr: sp.Basic) -> sp.Add | None:
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Add) and len(node.args) >= 2:
            return node
    return None


def _symbolic_term(add: sp.Add) -> sp.Expr:
    terms = [a for a in add.args if not a.is_number]
    return terms[0] if terms else add.args[0]


def perturbations(expr: sp.Expr) -> Iterator[tuple[str, sp.Expr]]:
    """``(name, perturbed)``: scale one coefficient by 1.01, flip one sign, drop one term."""
    add = _first_add(expr)
    if add is not None:
        term = _symbolic_term(add)
        yield "scale 1.01", expr.xreplace({add: add - term + sp.Rational(101, 100) * term})
        yield "flip sign", expr.xreplace({add: add - 2 * term})
        yield "drop term", expr.xreplace({add: add - term})
        return
    yield "scale 1.01", sp.Rational(101, 100) * expr
    yield "flip sign", -expr
    factors = [f for f in sp.Mul.make_args(expr) if not f.is_number]
    if len(factors) >= 2:
        yield "drop term", expr.xreplace({factors[0]: sp.Integer(1)})
    else:
        yield "drop term", sp.Integer(0)


def _perturbed_check(claim: Claim, display: sp.Expr) -> StepResult:
    """Check the one step whose displayed form ``display`` replaces the statement's side."""
    if _structured(claim.rhs):
        last = dataclasses.replace(claim.steps[-1], rhs=display)
        previous = claim.displays()[-2]
        return last.check(previous)
    first = dataclasses.replace(claim.steps[0], lhs=display)
    return first.check(display)


@pytest.mark.slow
@pytest.mark.parametrize("theorem_id", theorem_ids())
@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss if isinstance(loss, str) else loss.name)
def test_every_perturbation_of_a_printed_statement_fails(theorem_id, loss) -> None:
    theorem = get_theorem(theorem_id, loss)
    caught, missed = 0, []
    for claim in theorem.claims:
        side = claim.rhs if _structured(claim.rhs) else claim.lhs
        assert _structured(side), f"{theorem_id}/{claim.label}: nothing printed to perturb"
        for name, display in perturbations(side):
            assert display != side, f"{theorem_id}/{claim.label}: {name} left the display unchanged"
            if _perturbed_check(claim, display).verified:
                missed.append(f"{claim.label}: {name} -> {display}")
            else:
                caught += 1
    assert not missed, f"{theorem_id} [{getattr(loss, 'name', loss)}]: perturbations passed check(): {missed}"
    assert caught == 3 * len(theorem.claims)
