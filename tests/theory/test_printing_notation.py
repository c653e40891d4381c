"""Self-contained statements: every symbol a claim prints is defined, with one meaning per symbol."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

from prefdyn.theory.catalogue import get_theorem, theorem_ids
from prefdyn.theory.framework import Theorem
from prefdyn.theory.losses import loss_names
from prefdyn.theory.printing import tex


def _key(obj: Any) -> Any:
    if isinstance(obj, sp.Indexed):
        return obj.base
    if isinstance(obj, AppliedUndef):
        return obj.func
    return obj


def used_objects(theorem: Theorem) -> set[Any]:
    """Symbols, atoms, indexed families, undefined functions and matrix symbols printed in the
    statements (bound summation indices excluded)."""
    used: set[Any] = set()
    for claim in theorem.claims:
        for side in (claim.lhs, claim.rhs):
            if not isinstance(side, sp.Basic):
                continue
            used |= {s for s in side.free_symbols if isinstance(s, sp.Symbol)}
            used |= {_key(e) for e in side.atoms(sp.Indexed, AppliedUndef, sp.MatrixSymbol)}
            used -= {e.base.label for e in side.atoms(sp.Indexed)}
    return used


@pytest.mark.parametrize("theorem_id", theorem_ids())
@pytest.mark.parametrize("loss", loss_names())
def test_every_printed_symbol_is_defined(theorem_id: str, loss: str) -> None:
    theorem = get_theorem(theorem_id, loss)
    defined = {_key(k) for key in theorem.notation for k in (key if isinstance(key, tuple) else (key,))}
    undefined = sorted(
        tex(o) if not isinstance(o, sp.core.function.UndefinedFunction) else str(o)
        for o in used_objects(theorem) - defined
    )
    assert not undefined, f"{theorem_id} [{loss}] prints undefined symbols: {undefined}"


@pytest.mark.parametrize("loss", loss_names())
def test_one_meaning_per_symbol_across_the_catalogue(loss: str) -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    where: dict[str, set[str]] = defaultdict(set)
    for theorem_id in theorem_ids():
        for keys, meaning in get_theorem(theorem_id, loss).notation.items():
            for key in keys if isinstance(keys, tuple) else (keys,):
                meanings[tex(key)].add(meaning)
                where[tex(key)].add(theorem_id)
    clashes = {k: (sorted(v), sorted(where[k])) for k, v in meanings.items() if len(v) > 1}
    assert not clashes, f"symbols with several meanings: {clashes}"
