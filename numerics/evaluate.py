r"""Theory on tensors: SymPy expressions lambdified to torch.

Any expression of :mod:`prefdyn.theory` (a loss :math:`\phi(h)`, its derivative, the side of a
theorem's statement) becomes a torch function that broadcasts over parameter grids on any device.
prefdyn's special functions print themselves as stable kernels (their ``_torchcode``):
:math:`\sigma \mapsto` ``torch.sigmoid``, :math:`\log\sigma \mapsto`
``torch.nn.functional.logsigmoid``, :math:`\Phi \mapsto` ``torch.special.ndtr``, so :math:`\phi_{\mathrm{DPO}}(h) = -\log\sigma(h)` stays finite
for :math:`|h| = 10^7` in float32 and bfloat16 (``-log(1 + exp(-h))`` would overflow).
``Piecewise`` (hinge) prints as ``torch.where``.

Example
-------
>>> import torch
>>> from prefdyn.numerics.evaluate import loss_kernels
>>> k = loss_kernels("dpo")
>>> k.dphi(torch.tensor([0.0, 1e4]), torch.tensor(1e3)).tolist()
[-0.5, -0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp
import torch

from prefdyn.errors import PrefdynError
from prefdyn.theory.losses import Loss, get_loss
from prefdyn.theory.symbols import beta as beta_symbol
from prefdyn.theory.symbols import h as h_symbol

TensorFunction = Callable[..., torch.Tensor]


def torch_lambdify(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> TensorFunction:
    """A torch function of ``symbols`` computing ``expr``.

    Arguments may be tensors or numbers; they are broadcast together, and the result is a tensor
    of the broadcast shape in the floating dtype and device of the first tensor argument (so a
    constant expression or an integer-valued ``torch.where`` still yields a float tensor).
    """
    # constant sub-expressions (e.g. log(999/1000), or a sqrt(2) that evalf leaves inside erf)
    # become floats: torch.log and torch.sqrt take no numbers
    # strict: numbers only, never a string (text is parsed by prefdyn.theory.expressions alone)
    numeric = expr.evalf(20) if isinstance(expr, sp.Basic) else sp.sympify(expr, strict=True)
    numeric = numeric.replace(lambda e: isinstance(e, sp.Expr) and e.is_number and not e.is_Number,
                              lambda e: sp.Float(e.evalf(20), 20))
    # torch has no Heaviside(x, 1/2) on numbers nor a two-argument max: write them as torch.where
    numeric = numeric.replace(lambda e: isinstance(e, sp.Heaviside | sp.Max | sp.Min),
                              lambda e: e.rewrite(sp.Piecewise))
    raw = sp.lambdify(list(symbols), numeric, modules="torch")

    def call(*args: Any) -> torch.Tensor:
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        like = tensors[0] if tensors else torch.tensor(0.0, dtype=torch.float64)
        dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        cast = [torch.as_tensor(a, dtype=dtype, device=like.device) for a in args]
        shape = torch.broadcast_shapes(*(c.shape for c in cast)) if cast else ()
        out = torch.as_tensor(raw(*cast), dtype=dtype, device=like.device)
        return torch.broadcast_to(out, shape)

    return call


def _concretise(expr: sp.Expr, by_name: Mapping[str, Any]) -> tuple[sp.Expr, dict[str, Any]]:
    """Substitute integer values (sizes such as ``K``, indices such as ``b``), expand the now
    finite sums, and replace each ``x[i, j]`` of an ``IndexedBase`` by the entry
    ``values["x"][..., i-1, j-1]`` (indices are 1-based, as in the theorems' sums)."""
    integers = {
        s: by_name[s.name]
        for s in expr.free_symbols | expr.atoms(sp.Idx)
        if getattr(s, "name", None) in by_name and isinstance(by_name[s.name], int)
    }
    expr = expr.subs(integers).doit() if integers else expr
    entries: dict[str, Any] = {}
    replace: dict[sp.Basic, sp.Symbol] = {}
    for atom in expr.atoms(sp.Indexed):
        name = atom.base.name
        if name not in by_name or not all(i.is_Integer for i in atom.indices):
            continue
        symbol = sp.Symbol(f"_{name}_{'_'.join(str(i) for i in atom.indices)}")
        array = torch.as_tensor(by_name[name])
        index: tuple[Any, ...] = (..., *(int(i) - 1 for i in atom.indices))
        entries[symbol.name] = array[index]
        replace[atom] = symbol
    return expr.xreplace(replace), entries


def evaluate(
    expr: sp.Expr,
    values: Mapping[str | sp.Symbol, Any],
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Evaluate ``expr`` with every free symbol given in ``values`` (by symbol or name).

    Values broadcast (use :func:`parameter_grid` for a Cartesian grid). Python ``int`` values
    fix sizes and indices (``K``, ``b``), so finite sums over an ``IndexedBase`` expand; an
    ``IndexedBase`` ``x`` takes a tensor whose last dimensions it indexes (1-based), the leading
    ones broadcast.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> evaluate(2 * x, {"x": torch.arange(3.0)}).tolist()
    [0.0, 2.0, 4.0]
    >>> b, K, p = sp.Idx("b"), sp.Symbol("K", integer=True), sp.IndexedBase("p")
    >>> evaluate(sp.Sum(p[b], (b, 1, K)), {"K": 3, "p": torch.tensor([1.0, 2.0, 4.0])}).item()
    7.0
    """
    by_name = {(k.name if isinstance(k, sp.Symbol) else k): v for k, v in values.items()}
    expr, entries = _concretise(sp.sympify(expr, strict=True), by_name)  # never parses a string
    by_name.update(entries)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    missing = [s.name for s in symbols if s.name not in by_name]
    if missing:
        raise PrefdynError(f"values: missing a value for symbol(s) {', '.join(missing)}")
    args = [torch.as_tensor(by_name[s.name], dtype=dtype, device=device) for s in symbols]
    if not args:
        return torch.as_tensor(float(expr), dtype=dtype, device=device)
    return torch_lambdify(expr, symbols)(*args)


def parameter_grid(
    *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu", **axes: Sequence[float]
) -> dict[str, torch.Tensor]:
    """Cartesian grid: ``parameter_grid(beta=[..], eta=[..])`` maps each name to a tensor of
    shape ``[len(beta), len(eta)]`` (``indexing="ij"``)."""
    tensors = [torch.as_tensor(list(v), dtype=dtype, device=device) for v in axes.values()]
    return dict(zip(axes, torch.meshgrid(*tensors, indexing="ij")))


def evaluate_theorem(
    theorem: Any,
    values: Mapping[str | sp.Symbol, Any],
    *,
    claim: str | None = None,
    side: str = "rhs",
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """One side of a theorem's claim (the statement by default) evaluated on tensors.

    ``theorem`` is a :class:`prefdyn.theory.framework.Theorem` (``get_theorem(id)``).
    """
    chosen = theorem.claims[0] if claim is None else theorem.claim(claim)
    require_side = {"rhs": chosen.rhs, "lhs": chosen.lhs}
    if side not in require_side:
        raise PrefdynError(f"side: must be 'lhs' or 'rhs', not {side!r}")
    return evaluate(require_side[side], values, dtype=dtype, device=device)


@dataclass(frozen=True)
class LossKernels:
    r"""A loss as torch functions of the margin and :math:`\beta` (parameters bound to defaults).

    ``phi(h, beta)`` is :math:`\phi(h)` and ``dphi(h, beta)`` is :math:`\phi'(h)`.
    """

    loss: Loss
    phi: TensorFunction
    dphi: TensorFunction


def loss_kernels(loss: str | Loss) -> LossKernels:
    """Lambdify :math:`\\phi` and :math:`\\phi'` of ``loss`` with its default parameters bound."""
    resolved = get_loss(loss)
    symbols = (h_symbol, beta_symbol)

    def compile_side(expr: sp.Expr) -> TensorFunction:
        bound = resolved.bind(expr)
        extra = bound.free_symbols - set(symbols)
        if extra:
            names = ", ".join(sorted(s.name for s in extra))
            raise PrefdynError(f"loss: parameter(s) {names} of {resolved.name!r} have no value")
        return torch_lambdify(bound, symbols)

    return LossKernels(resolved, compile_side(resolved.phi), compile_side(resolved.dphi))
