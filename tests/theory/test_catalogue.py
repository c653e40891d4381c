"""Every step of every theorem verifies, for every registered loss and a user loss with a parameter.

This is the catalogue's own statement of correctness: each printed claim is checked as printed
(:meth:`prefdyn.theory.framework.Theorem.check`), for each loss the theorem is built for. The
theorem objects are cached by :func:`prefdyn.theory.catalogue.get_theorem`, so the LaTeX, notation
and perturbation tests that follow in the same run reuse these checks instead of repeating them.
"""

from __future__ import annotations

import pytest

from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.losses import loss_from_expression, loss_names

#: The user loss of the theory tests (a shifted logistic; named parameter gamma).
USER_LOSS = loss_from_expression("log(1 + exp(-(h - gamma)))", {"gamma": 0.5}, name="shifted-logistic")
LOSSES = [*loss_names(), USER_LOSS]


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss if isinstance(loss, str) else loss.name)
@pytest.mark.parametrize("theorem_id", theorem_ids())
def test_every_step_of_every_theorem_verifies(theorem_id: str, loss) -> None:
    report = get_theorem(theorem_id, loss).check()
    failed = [
        f"{claim.label} step {k}: {result.method}: {result.detail}"
        for claim, results in report.results
        for k, result in enumerate(results, 1)
        if not result.verified
    ]
    assert not failed, f"{theorem_id} [{getattr(loss, 'name', loss)}]: {failed}"
    assert report.results and all(results for _, results in report.results)
