"""The theorem catalogue: the one table of theorem ids, each with its builder.

Theorem id ``x`` is built by ``build(loss)`` of the module :func:`module_name` of
:mod:`prefdyn.theory.theorems`; the property that checks it against simulation is the module of
the same name in :mod:`prefdyn.verification.properties`, so that registry is keyed by these ids.

>>> from prefdyn.theory.catalogue import get_theorem, theorem_ids
>>> "dpo-gradient" in theorem_ids()
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from prefdyn.errors import PrefdynError

from .framework import Theorem
from .losses import Loss, get_loss

#: theorem id -> its module under :mod:`prefdyn.theory.theorems` (catalogue order).
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
    "quadratic-trajectory": "quadratic_trajectory",
    "implicit-bias": "implicit_bias",
    "adam-first-step": "adam_first_step",
    "invariance": "invariance",
}


def theorem_ids() -> list[str]:
    """Ids of every built-in theorem, in catalogue order."""
    return list(_MODULES)


def module_name(theorem_id: str) -> str:
    """The name of the module that builds ``theorem_id`` (under :mod:`prefdyn.theory.theorems`)
    and of the one that holds its property (under :mod:`prefdyn.verification.properties`); an
    id the catalogue does not know is a :class:`~prefdyn.errors.PrefdynError`."""
    if theorem_id not in _MODULES:
        raise PrefdynError(f"theorem: unknown theorem id {theorem_id!r}; known ids: {', '.join(_MODULES)}")
    return _MODULES[theorem_id]


def builder(theorem_id: str) -> Callable[[Loss], Theorem]:
    """``build(loss)`` of the theorem ``theorem_id`` (its module is imported on first use)."""
    return importlib.import_module(f"{__package__}.theorems.{module_name(theorem_id)}").build


@cache
def _build(build: Callable[[Loss], Theorem], loss: Loss) -> Theorem:
    return build(loss)


def get_theorem(theorem_id: str, loss: Loss | str = "dpo") -> Theorem:
    """The theorem ``theorem_id`` instantiated for ``loss`` (a :class:`Loss` or a name), built once."""
    return _build(builder(theorem_id), get_loss(loss))


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
