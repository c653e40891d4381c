"""Verification does not depend on the clock: the same theorem built twice gives the same report,
step by step (method and detail), because the decision uses fixed rewrites, an operation-count
budget and seeded points only."""

from __future__ import annotations

import importlib

import pytest

from prefdyn.theory.framework import forget_decisions
from prefdyn.theory.losses import get_loss


def _fresh_report(module: str, loss: str) -> list[tuple[bool, str, str]]:
    forget_decisions()
    theorem = importlib.import_module(f"prefdyn.theory.theorems.{module}").build(get_loss(loss))
    return [(r.verified, r.method, r.detail) for _, _, r in theorem.check().steps()]


@pytest.mark.parametrize(("module", "loss"), [("dpo_gradient", "cdpo"), ("cross_example_influence", "dpo")])
def test_two_fresh_checks_give_identical_reports(module: str, loss: str) -> None:
    first = _fresh_report(module, loss)
    assert first == _fresh_report(module, loss)
    assert all(verified for verified, _, _ in first)
