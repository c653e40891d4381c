"""The theorem catalogue: id -> module whose ``build(loss)`` returns the :class:`Theorem`.

>>> from prefdyn.theory.catalogue import get_theorem, theorem_ids
>>> "dpo-gradient" in theorem_ids()
True
"""

from __future__ import annotations

import importlib
from functools import cache

from prefdyn.errors import PrefdynError

from .framework import Theorem
from .losses import Loss, get_loss

#: theorem id -> module under :mod:`prefdyn.theory.theorems` (catalogue order).
_MODULES: dict[str, str] = {
    "dpo-gradient": "dpo_gradient",
    "update-rate": "update_rate",
    "weight-growth": "weight_growth",
    "accuracy-gaussian": "accuracy_gaussian",
    "accuracy-subexponential": "accuracy_subexponential",
    "population-flow": "population_flow",
    "priority": "priority",
    "misalignment-rate": "misalignment_rate",
    "stable-step-size": "stable_step_size",
    "cross-example-influence": "cross_example_influence",
}


def theorem_ids() -> list[str]:
    """Ids of every built-in theorem, in catalogue order."""
    return list(_MODULES)


@cache
def _build(theorem_id: str, loss: Loss) -> Theorem:
    module = importlib.import_module(f"{__package__}.theorems.{_MODULES[theorem_id]}")
    return module.build(loss)


def get_theorem(theorem_id: str, loss: Loss | str = "dpo") -> Theorem:
    """The theorem ``theorem_id`` instantiated for ``loss`` (a :class:`Loss` or a name)."""
    if theorem_id not in _MODULES:
        raise PrefdynError(
            f"theorem: unknown theorem id {theorem_id!r}; known ids: {', '.join(_MODULES)}"
        )
    return _build(theorem_id, get_loss(loss))


def checked_theorem(theorem_id: str, loss: Loss | str = "dpo", use_cache: bool = True) -> Theorem:
    """:func:`get_theorem`, checked: through the persistent cache of
    :mod:`prefdyn.theory.check_cache` when ``use_cache`` (the commands' default), else re-verified."""
    theorem = get_theorem(theorem_id, loss)
    if use_cache:
        from .check_cache import cached_check

        cached_check(theorem, get_loss(loss))
    else:
        theorem.check()
    return theorem
