"""One property per built-in theorem: id -> module whose ``PROPERTY`` checks it.

Adding a theorem to the catalogue means adding one module here with a
:class:`~prefdyn.verification.properties._base.Property` named ``PROPERTY`` and one line in
:data:`MODULES` (the registry; :func:`missing` lists catalogue ids without a property).
"""

from __future__ import annotations

import importlib
from functools import cache

from prefdyn.errors import PrefdynError
from prefdyn.theory.catalogue import theorem_ids

from ._base import Property

#: theorem id -> module of this package.
MODULES: dict[str, str] = {
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


@cache
def _properties() -> dict[str, Property]:
    """Every property, all modules imported together: Hypothesis draws literal constants from the
    loaded modules, so loading them all keeps ``--seed S`` reproducible whichever ids run."""
    return {i: importlib.import_module(f"{__name__}.{m}").PROPERTY for i, m in MODULES.items()}


def get_property(theorem_id: str) -> Property:
    """The property of ``theorem_id`` (a catalogue id)."""
    if theorem_id not in MODULES:
        known = ", ".join(MODULES)
        raise PrefdynError(f"theorem: no property for {theorem_id!r}; properties exist for: {known}")
    return _properties()[theorem_id]


def missing() -> list[str]:
    """Catalogue ids that have no property yet (should be empty)."""
    return [i for i in theorem_ids() if i not in MODULES]


__all__ = ["MODULES", "Property", "get_property", "missing"]
