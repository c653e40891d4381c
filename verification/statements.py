r"""A side of a theorem's claim compiled once into a torch function of named values.

The theorems state their results with finite sums over ``IndexedBase`` objects (e.g.
:math:`\sum_{b'=1}^K p_{b'}\Gamma_{b'b}`). :func:`claim_function` substitutes the integers
(``K``, ``b``, ...), expands the sums, replaces every entry ``x[i, j]`` by a plain symbol and
lambdifies with :func:`prefdyn.numerics.evaluate.torch_lambdify`. The result is cached, so a
Hypothesis example pays one tensor call, not a SymPy substitution. An index named in ``vector``
stays free and becomes the trailing axis of the value (``mu[b, j]`` reads ``values["mu"][..., b-1, :]``).

The statement evaluated is the theorem's own (never re-typed), so a wrong statement fails its
property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import sympy as sp
import torch

from prefdyn.numerics.evaluate import torch_lambdify
from prefdyn.theory.catalogue import get_theorem

Entry = tuple[str, tuple[int | None, ...]]


def _torch_ready(expr: sp.Expr) -> sp.Expr:
    r"""Work around two gaps of the torch printer: fold constant sub-expressions such as ``sqrt(2)``
    inside ``erf`` to floats (``torch.sqrt`` rejects a Python number), and write
    :math:`\max(a, b) = (a + b + |a - b|)/2`, :math:`\min(a, b) = (a + b - |a - b|)/2`
    (``torch.max(0, x)`` is not a valid call)."""
    expr = expr.replace(sp.Max, lambda *a: _pairwise(a, +1)).replace(sp.Min, lambda *a: _pairwise(a, -1))
    return expr.replace(lambda e: isinstance(e, sp.Expr) and e.is_number and not e.is_Atom,
                        lambda e: sp.Float(e.evalf(20)))


def _pairwise(args: tuple[sp.Expr, ...], sign: int) -> sp.Expr:
    first, *rest = args
    for other in rest:
        first = (first + other + sign * sp.Abs(first - other)) / 2
    return first


@lru_cache(maxsize=256)
def _compiled(theorem_id: str, loss: str, claim: str, side: str, integers: tuple[tuple[str, int], ...],
              vector: tuple[str, ...]) -> tuple[Callable[..., torch.Tensor], tuple[sp.Symbol, ...], dict[str, Entry]]:
    chosen = get_theorem(theorem_id, loss).claim(claim)
    expr = chosen.rhs if side == "rhs" else chosen.lhs
    ints = dict(integers)
    atoms = expr.free_symbols | expr.atoms(sp.Idx)
    expr = expr.subs({s: ints[s.name] for s in atoms if getattr(s, "name", None) in ints}).doit()
    entries: dict[str, Entry] = {}
    replace = {}
    for atom in expr.atoms(sp.Indexed):
        index = tuple(int(i) - 1 if i.is_Integer else None for i in atom.indices)
        assert all(i is not None or str(j) in vector for i, j in zip(index, atom.indices)), atom
        symbol = sp.Symbol(f"_{atom.base.name}_{'_'.join(map(str, index))}")
        entries[symbol.name] = (atom.base.name, index)
        replace[atom] = symbol
    expr = _torch_ready(expr.xreplace(replace))
    symbols = tuple(sorted(expr.free_symbols - {sp.Symbol(v) for v in vector}, key=lambda s: s.name))
    return torch_lambdify(expr, symbols), symbols, entries


def claim_function(theorem_id: str, claim: str, *, loss: str = "dpo", side: str = "rhs",
                   vector: tuple[str, ...] = (), **integers: int) -> Callable[[Mapping[str, Any]], torch.Tensor]:
    """``f(values)``: the claim side at ``values`` (keys: symbol or ``IndexedBase`` names)."""
    fn, symbols, entries = _compiled(theorem_id, loss, claim, side, tuple(sorted(integers.items())), vector)

    def call(values: Mapping[str, Any]) -> torch.Tensor:
        args = []
        for s in symbols:
            if s.name in entries:
                base, index = entries[s.name]
                array = torch.as_tensor(values[base], dtype=torch.float64)
                args.append(array[(..., *(slice(None) if i is None else i for i in index))])
            else:
                args.append(torch.as_tensor(values[s.name], dtype=torch.float64))
        return fn(*args)

    return call
