"""One property per catalogue theorem, keyed by the catalogue's ids.

:mod:`prefdyn.theory.catalogue` is the one table of theorem ids: the property of id ``x`` is the
:class:`~prefdyn.verification.properties._base.Property` named ``PROPERTY``, with
``theorem_id == x``, of the module of this package named as the theorem's own module
(:func:`~prefdyn.theory.catalogue.module_name`). Adding a theorem to the catalogue means adding
that module; the test suite fails when a catalogue theorem lacks a property or a property names an
id the catalogue does not know.
"""

from __future__ import annotations

import importlib
from functools import cache

from prefdyn.theory.catalogue import module_name, theorem_ids

from ._base import Property


@cache
def _properties() -> dict[str, Property]:
    """Every property, all modules imported together: Hypothesis draws literal constants from the
    loaded modules, so loading them all keeps ``--seed S`` reproducible whichever ids run."""
    return {i: importlib.import_module(f"{__name__}.{module_name(i)}").PROPERTY for i in theorem_ids()}


def get_property(theorem_id: str) -> Property:
    """The property of ``theorem_id`` (a catalogue id; any other is a
    :class:`~prefdyn.errors.PrefdynError`)."""
    module_name(theorem_id)  # an id the catalogue does not know fails here, with the known ids
    return _properties()[theorem_id]


__all__ = ["Property", "get_property"]
