r"""Theory on tensors: SymPy expressions lambdified to torch.

Any expression of :mod:`prefdyn.theory` (a loss :math:`\phi(h)`, its derivative, the side of a
theorem's statement) becomes a torch function that broadcasts over parameter grids on any device.
:func:`compile_expression` is the one compiler of displays (sizes, indexed families and matrix
symbols made concrete); :func:`evaluate`, :func:`evaluate_theorem` and :func:`claim_function` call
it. prefdyn's special functions print themselves as stable kernels (their ``_torchcode``):
:math:`\sigma \mapsto` ``torch.sigmoid``, :math:`\log\sigma \mapsto`
``torch.nn.functional.logsigmoid``, :math:`\Phi \mapsto` ``torch.special.ndtr``, so
:math:`\phi_{\mathrm{DPO}}(h) = -\log\sigma(h)` stays finite
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

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import sympy as sp
import torch

from prefdyn.errors import PrefdynError
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import Side, Theorem, realise
from prefdyn.theory.functions import to_elementary
from prefdyn.theory.gaussian_moments import gaussian_moments
from prefdyn.theory.gaussian_moments import m as m_symbol
from prefdyn.theory.gaussian_moments import r as r_symbol
from prefdyn.theory.losses import Loss, get_loss
from prefdyn.theory.model import DIMENSION
from prefdyn.theory.symbols import beta as beta_symbol
from prefdyn.theory.symbols import h as h_symbol

from .quadrature import HermiteRule, normal_expectation, rule_for

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
    numeric = numeric.replace(
        lambda e: isinstance(e, sp.Expr) and e.is_number and not e.is_Number, lambda e: sp.Float(e.evalf(20), 20)
    )
    # torch has no Heaviside(x, 1/2) on numbers nor a two-argument max: write them as torch.where
    numeric = numeric.replace(
        lambda e: isinstance(e, sp.Heaviside | sp.Max | sp.Min), lambda e: e.rewrite(sp.Piecewise)
    )
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


@dataclass(frozen=True)
class CompiledExpression:
    r"""An expression compiled once to torch, called on named values: ``f(values)``.

    ``arguments`` says where each argument of ``function`` is read: ``(name, None)`` is
    ``values[name]``; ``(name, index)`` the entry ``values[name][(..., *index)]`` of a tensor whose
    trailing axes are an ``IndexedBase``'s indices or a matrix symbol's coordinates.
    """

    function: TensorFunction
    arguments: tuple[tuple[str, tuple[int | slice, ...] | None], ...]

    def __call__(
        self,
        values: Mapping[str | sp.Symbol, Any],
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ) -> torch.Tensor:
        """The expression at ``values`` (keyed by name or by the SymPy object), in ``dtype`` on
        ``device`` (``None``: where the given tensors are)."""
        by_name = {(k.name if isinstance(k, sp.Symbol) else k): v for k, v in values.items()}
        missing = sorted({name for name, _ in self.arguments if name not in by_name})
        if missing:
            raise PrefdynError(f"values: missing a value for symbol(s) {', '.join(missing)}")
        tensors = {name: torch.as_tensor(by_name[name], dtype=dtype, device=device) for name, _ in self.arguments}
        args = [tensors[name] if index is None else tensors[name][(..., *index)] for name, index in self.arguments]
        out = self.function(*args)
        return out if args else out.to(dtype=dtype, device=device)


def compile_expression(
    expr: sp.Basic, *, integers: Mapping[str, int] | None = None, vector: Sequence[str] = (), dim: int | None = None
) -> CompiledExpression:
    r"""The one compiler of theory expressions (a loss, a side of a theorem's claim) to torch.

    The display is evaluated as printed, made concrete in three ways:

    * ``integers`` (by name) fix sizes and indices such as :math:`K` and :math:`b`; the finite sums
      they bound expand;
    * every entry :math:`x_{ij}` of an ``IndexedBase`` :math:`x` becomes one argument, read from the
      trailing axes of ``values["x"]`` with 1-based indices, as printed (:math:`\mu^+_{bj}` is
      ``values["\mu^{+}"][..., b-1, j-1]``); an index named in ``vector`` stays a whole trailing axis;
    * every matrix symbol (:math:`\Delta`, :math:`\Sigma_b^+`) becomes an explicit matrix of
      coordinates, the symbolic dimension :math:`d` being ``dim`` (the substitution of the SymPy
      check, :func:`prefdyn.theory.framework.realise`); a column reads ``values[name][..., i]``,
      a matrix ``values[name][..., i, j]``.

    Compiled once per expression and concrete values (cached), so a caller pays a tensor call, not
    a SymPy substitution.

    >>> b, K, p = sp.Idx("b"), sp.Symbol("K", integer=True), sp.IndexedBase("p")
    >>> compile_expression(sp.Sum(p[b], (b, 1, K)), integers={"K": 3})({"p": torch.tensor([1.0, 2.0, 4.0])}).item()
    7.0
    """
    return _compiled(sp.sympify(expr, strict=True), tuple(sorted((integers or {}).items())), tuple(vector), dim)


@lru_cache(maxsize=512)
def _compiled(
    expr: sp.Basic, integers: tuple[tuple[str, int], ...], vector: tuple[str, ...], dim: int | None
) -> CompiledExpression:
    by_name = dict(integers)
    fixed = {s: by_name[s.name] for s in expr.free_symbols | expr.atoms(sp.Idx) if getattr(s, "name", None) in by_name}
    if fixed:
        expr = expr.subs(fixed).doit()
    located: dict[sp.Symbol, tuple[str, tuple[int | slice, ...]]] = {}

    def entry(name: str, index: tuple[int | slice, ...]) -> sp.Symbol:
        symbol = sp.Dummy(name, real=True)
        located[symbol] = (name, index)
        return symbol

    def position(index: sp.Expr, atom: sp.Indexed) -> int | slice:
        if index.is_Integer:
            return int(index) - 1
        if str(index) in vector:
            return slice(None)
        raise PrefdynError(f"values: {atom} needs an integer value for its index {index}")

    def size(matrix: sp.MatrixSymbol, n: sp.Expr) -> int:
        if n.is_Integer:
            return int(n)
        if n == DIMENSION and dim is not None:
            return dim
        raise PrefdynError(
            f"dim: the matrix symbol {matrix.name} has the symbolic size {n}"
            + (" (give the dimension dim)" if n == DIMENSION else "")
        )

    expr = expr.xreplace(
        {atom: entry(atom.base.name, tuple(position(i, atom) for i in atom.indices)) for atom in expr.atoms(sp.Indexed)}
    )
    matrices: dict[sp.MatrixSymbol, sp.Matrix] = {}
    for matrix in sorted(expr.atoms(sp.MatrixSymbol), key=lambda m: m.name):
        rows, cols = (size(matrix, n) for n in matrix.shape)
        # a column by its declared shape (d x 1), not its realised one: at d = 1 a d x d matrix is
        # 1 x 1 too, and its value still carries two trailing axes
        column = matrix.shape[1] == 1
        matrices[matrix] = sp.Matrix(
            rows, cols, lambda i, j, m=matrix.name, column=column: entry(m, (i,) if column else (i, j))
        )
    if matrices:
        expr = realise(expr, matrices)
    scalars = sorted(expr.free_symbols - set(located), key=lambda s: s.name)
    arguments = [*scalars, *located]
    return CompiledExpression(
        torch_lambdify(expr, arguments), tuple((s.name, None) if s in scalars else located[s] for s in arguments)
    )


def evaluate(
    expr: sp.Expr,
    values: Mapping[str | sp.Symbol, Any],
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Evaluate ``expr`` with every free symbol given in ``values`` (by symbol or name), through
    :func:`compile_expression`.

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
    integers = {name: v for name, v in by_name.items() if isinstance(v, int)}
    return compile_expression(expr, integers=integers)(by_name, dtype=dtype, device=device)


def parameter_grid(
    *, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu", **axes: Sequence[float]
) -> dict[str, torch.Tensor]:
    """Cartesian grid: ``parameter_grid(beta=[..], eta=[..])`` maps each name to a tensor of
    shape ``[len(beta), len(eta)]`` (``indexing="ij"``)."""
    tensors = [torch.as_tensor(list(v), dtype=dtype, device=device) for v in axes.values()]
    return dict(zip(axes, torch.meshgrid(*tensors, indexing="ij")))


def evaluate_theorem(
    theorem: Theorem,
    values: Mapping[str | sp.Symbol, Any],
    *,
    claim: str | None = None,
    side: Side = "rhs",
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """One side of a theorem's claim (the statement by default) evaluated on tensors (:func:`evaluate`).

    ``theorem`` is a :class:`prefdyn.theory.framework.Theorem` (``get_theorem(id)``).
    """
    chosen = theorem.claims[0] if claim is None else theorem.claim(claim)
    return evaluate(chosen.side(side), values, dtype=dtype, device=device)


def claim_function(
    theorem_id: str,
    claim: str,
    *,
    loss: str | Loss = "dpo",
    side: Side = "rhs",
    vector: Sequence[str] = (),
    dim: int | None = None,
    **integers: int,
) -> CompiledExpression:
    r"""One side of the catalogue theorem's claim, as the theorem prints it, compiled by
    :func:`compile_expression` (``integers``, ``vector`` and ``dim`` as there): ``f(values)``.

    The statement evaluated is the theorem's own (never re-typed), so a wrong statement fails the
    comparisons it enters.
    """
    return compile_expression(
        get_theorem(theorem_id, loss).claim(claim).side(side), integers=integers, vector=vector, dim=dim
    )


#: SymPy heads whose presence makes :math:`\phi` non-smooth (:math:`\phi''` then comes from Stein's identity)
_NONSMOOTH = (sp.Piecewise, sp.Max, sp.Min, sp.Abs, sp.Heaviside)


@dataclass(frozen=True)
class LossKernels:
    r"""A loss as torch functions of the margin and :math:`\beta` (parameters bound to defaults),
    and its Gaussian moments.

    ``phi(h, beta)`` is :math:`\phi(h)` and ``dphi(h, beta)`` is :math:`\phi'(h)`; the rest is
    derived on first use (SymPy work the simulator never needs):

    * ``d2phi``: :math:`\phi''(h)`, or ``None`` when :math:`\phi` is non-smooth (a ``Piecewise``,
      ``Max``, ``Min``, ``Abs`` or ``Heaviside`` in it);
    * ``exact_moments``: SymPy's closed forms of :math:`A(m, r, \beta)`, :math:`B(m, r, \beta)`
      (:func:`prefdyn.theory.gaussian_moments.gaussian_moments`) when :math:`\phi'` is piecewise
      polynomial (hinge, IPO), else ``None``;
    * ``kernel_scale``: the inverse width, in :math:`h`, of the kernel :math:`\phi'`: the
      largest :math:`|\partial a/\partial h|` (or :math:`\sqrt{|\partial^2 a/\partial h^2|}`) of an
      argument :math:`a` of its functions where constant, at least 1 (20 for DiscoPOP's
      :math:`\tau = 0.05` gate);

    and :meth:`moments` takes :math:`A = \mathbb E[-\phi'(\beta z)]`,
    :math:`B = \mathbb E[\phi''(\beta z)]` for :math:`z \sim N(m, r^2)`.

    Examples
    --------
    >>> import torch
    >>> from prefdyn.numerics.quadrature import hermite_rule
    >>> k = loss_kernels("dpo")
    >>> zero = torch.tensor(0.0, dtype=torch.float64)
    >>> [round(float(x), 6) for x in k.moments(zero, zero, torch.tensor(1.0, dtype=torch.float64), hermite_rule())]
    [0.5, 0.25]
    >>> loss_kernels("hinge").d2phi is None, loss_kernels("hinge").exact_moments is not None
    (True, True)
    """

    loss: Loss
    phi: TensorFunction
    dphi: TensorFunction

    @cached_property
    def d2phi(self) -> TensorFunction | None:
        r""":math:`\phi''(h, \beta)`, or ``None`` for a non-smooth :math:`\phi`."""
        if self.loss.phi.has(*_NONSMOOTH):
            return None
        return _compile(self.loss, self.loss.d2phi)

    @cached_property
    def exact_moments(self) -> tuple[TensorFunction, TensorFunction] | None:
        r"""``(A, B)`` as torch functions of ``(m, r, beta)`` in closed form, or ``None``."""
        closed = gaussian_moments(self.loss)
        if closed is None:
            return None
        symbols = (m_symbol, r_symbol, beta_symbol)
        return torch_lambdify(closed.A, symbols), torch_lambdify(closed.B, symbols)

    @cached_property
    def kernel_scale(self) -> float:
        r"""Inverse width of :math:`\phi'` in :math:`h` (class docstring)."""
        return _kernel_scale(self.loss.bind(self.loss.dphi))

    def moments(
        self, m: torch.Tensor, r: torch.Tensor, beta: torch.Tensor, rule: HermiteRule
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r""":math:`A = \mathbb E[-\phi'(\beta z)]` and :math:`B = \mathbb E[\phi''(\beta z)]`,
        :math:`z \sim N(m, r^2)`, broadcast over ``m, r, beta``.

        In closed form where :attr:`exact_moments` has one (exact at kinks too; :math:`r \to 0`
        is the point mass at :math:`m`, the closed forms' limit, reached at :math:`r` = machine
        epsilon). Otherwise by quadrature on the kernel's own scale
        (:func:`~prefdyn.numerics.quadrature.rule_for` at sharpness
        :math:`\beta r \cdot` :attr:`kernel_scale`); for a non-smooth :math:`\phi` without a
        closed form, :math:`B` by Stein's identity
        :math:`\mathbb E\phi''(\beta z) = \mathbb E[\phi'(\beta z)(z - m)]/(\beta r^2)`.

        Parameters
        ----------
        m, r, beta : torch.Tensor
            Mean and standard deviation of :math:`z`, and :math:`\beta` (broadcast).
        rule : HermiteRule
            The Gauss-Hermite rule used while the kernel is smooth on the scale of :math:`r`.

        Returns
        -------
        tuple of torch.Tensor
            ``(A, B)`` of the broadcast shape.
        """
        if self.exact_moments is not None:
            # standardised break points stay finite at r = eps, so u^k phi(u) is 0, not inf * 0
            r = r.clamp(min=torch.finfo(r.dtype).eps)
            return self.exact_moments[0](m, r, beta), self.exact_moments[1](m, r, beta)
        b = beta.unsqueeze(-1)
        rule = rule_for(self.kernel_scale * beta * r, rule)
        A = normal_expectation(lambda z: -self.dphi(b * z, b), m, r, rule)
        d2phi = self.d2phi
        if d2phi is not None:
            B = normal_expectation(lambda z: d2phi(b * z, b), m, r, rule)
        else:
            z = rule.z
            stein = (self.dphi(b * (m.unsqueeze(-1) + r.unsqueeze(-1) * z), b) * z * rule.w).sum(-1)
            B = stein / (beta * r).clamp(min=torch.finfo(m.dtype).tiny)
        return A, B


def _kernel_scale(dphi: sp.Expr) -> float:
    r"""The largest :math:`|\partial a/\partial h|` (or :math:`\sqrt{|\partial^2 a/\partial h^2|}`)
    over arguments :math:`a` of the functions in ``dphi`` (written with ``exp``/``log``: logistic
    gates, ``tanh``, Gaussian bumps, ...) where it is a constant; 1 when there is none. The kernel
    varies on the scale :math:`1/\text{scale}` in :math:`h`."""
    args = [
        arg
        for f in to_elementary(dphi).atoms(sp.Function)
        if not isinstance(f, sp.Piecewise)
        for arg in f.args
        if isinstance(arg, sp.Expr)
    ]
    slopes = [abs(float(s)) for a in args if (s := sp.diff(a, h_symbol)).is_number]
    # a quadratic argument (a Gaussian bump e^{-c h^2}) varies on the scale 1/sqrt(|a''|)
    slopes += [math.sqrt(abs(float(s))) for a in args if (s := sp.diff(a, h_symbol, 2)).is_number]
    return max([1.0, *slopes])


def _compile(loss: Loss, expr: sp.Expr) -> TensorFunction:
    """``expr`` (a side of ``loss``) with the loss's parameters bound, as a torch function of
    ``(h, beta)``; a parameter left without a value is an error."""
    symbols = (h_symbol, beta_symbol)
    bound = loss.bind(expr)
    extra = bound.free_symbols - set(symbols)
    if extra:
        names = ", ".join(sorted(s.name for s in extra))
        raise PrefdynError(f"loss: parameter(s) {names} of {loss.name!r} have no value")
    return torch_lambdify(bound, symbols)


def loss_kernels(loss: str | Loss) -> LossKernels:
    r"""Lambdify :math:`\phi` and :math:`\phi'` of ``loss`` with its default parameters bound
    (:class:`LossKernels`; :math:`\phi''` and the Gaussian moments follow on first use)."""
    resolved = get_loss(loss)
    return LossKernels(resolved, _compile(resolved, resolved.phi), _compile(resolved, resolved.dphi))
