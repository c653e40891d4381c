r"""``weight-growth``: the trained head moves at most linearly in the number of steps.

Every gradient is a multiple of :math:`(e_1 - e_2)g^\top` (``dpo-gradient``), so a head trained
from :math:`W_{\rm ref}` keeps the form :math:`W_t - W_{\rm ref} = \tfrac12 (e_1 - e_2)\Delta_t^\top`
with the preference direction :math:`\Delta_t = (e_1 - e_2)^\top (W_t - W_{\rm ref})`, hence exactly

.. math:: \|W_t - W_{\rm ref}\|_{\rm op} = \|W_t - W_{\rm ref}\|_F = \|\Delta_t\|/\sqrt2 .

One GD step changes :math:`\Delta` by :math:`-2\eta\beta\,\mathbb E[\phi'(h)\,s\,g]` (claim
``increment``, any loss), so for a loss of bounded slope :math:`L_\phi = \sup_h|\phi'(h)| < \infty`
(1 for DPO)

.. math:: \|W_t - W_{\rm ref}\|_{\rm op} \le \sqrt2\,\eta\beta\,t\,L_\phi\,\mathbb E\|g\| ,

linear in :math:`t`. For a loss with unbounded :math:`\phi'` (IPO) the linear bound is not
stated (a note says why); the increment identity still holds.

Every display is checked as printed, on concrete GD trajectories (SymPy gradients through a
3-way softmax head, the loss's own :math:`\phi'`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import sympy as sp

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..losses import Loss
from ..model import DIMENSION
from ..symbols import beta, eta, h, meanings, t
from ._head import answer_rows, e12, head, log_ratio_difference
from ._notation import (
    EUCLIDEAN_NORM_MEANING,
    MEANINGS,
    STEP_INDEX_MEANING,
    loss_derivative,
    loss_parameters,
    phi_prime,
)
from ._traj import norm
from .update_rate import Expect, Norm, display_function, s_

V_CONCRETE, D_CONCRETE = 3, 2
STEPS = (1, 2)

V = sp.Symbol("V", positive=True, integer=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
W_t = sp.MatrixSymbol("W_t", V, DIMENSION)
W_ref = sp.MatrixSymbol(r"W_{\mathrm{ref}}", V, DIMENSION)
OpNorm = display_function("OpNorm_", lambda a: rf"\|{a}\|_{{\mathrm{{op}}}}", lambda a: f"||{a}||_op", nonnegative=True)
FrobNorm = display_function("FrobNorm_", lambda a: rf"\|{a}\|_{{F}}", lambda a: f"||{a}||_F", nonnegative=True)
Delta = sp.IndexedBase(r"\Delta")
h_k = sp.IndexedBase("h")
g = Atom("g")
L_phi = Atom(r"L_{\phi}", positive=True)
E_norm_g = Atom(r"\mathbb{E}\|g\|", positive=True)


@dataclass(frozen=True)
class _Sample:
    probability: sp.Expr
    sign: int
    embedding: sp.Matrix


#: The data law of the trajectories: an empirical law of three labelled samples (rational data).
SAMPLES = (
    _Sample(sp.Rational(1, 2), 1, sp.Matrix([1, 2])),
    _Sample(sp.Rational(1, 3), -1, sp.Matrix([-1, sp.Rational(1, 2)])),
    _Sample(sp.Rational(1, 6), 1, sp.Matrix([2, -1])),
)
#: The reference head of the trajectories.
REFERENCE = sp.Matrix([[sp.Rational(1, 2), -1], [0, 1], [-1, sp.Rational(1, 3)]])
LABEL = (
    "full-batch GD from a rational 3x2 reference head on an empirical law of three labelled samples in R^2, "
    "SymPy gradients through the softmax with the loss's phi'"
)


def _margin(W: sp.Matrix, sample: _Sample) -> sp.Expr:
    r""":math:`h = \beta\rho` of ``sample`` under head ``W``."""
    return sp.expand(beta * log_ratio_difference(W, REFERENCE, sample.embedding, *answer_rows(sample.sign)))


@cache
def _gradient(loss: Loss) -> tuple[list[sp.Symbol], sp.Matrix]:
    r""":math:`\mathbb E[\nabla_W\phi(h)]` as a function of a symbolic head: SymPy differentiation
    of :math:`\rho` through the log-softmax and the loss's :math:`\phi'` (chain rule)."""
    dphi = loss.bind(loss.dphi)
    W = head("W", V_CONCRETE, D_CONCRETE)
    gradient = sp.zeros(V_CONCRETE, D_CONCRETE)
    for sample in SAMPLES:
        rho = log_ratio_difference(W, REFERENCE, sample.embedding, *answer_rows(sample.sign))
        slope = dphi.subs(h, beta * rho)
        gradient += sample.probability * slope * beta * sp.Matrix(V_CONCRETE, D_CONCRETE, [sp.diff(rho, w) for w in W])
    return list(W), gradient


@cache
def _trajectory(loss: Loss, steps: int) -> tuple[sp.Matrix, ...]:
    r""":math:`W_0 = W_{\rm ref}, W_1, \dots`: :math:`W_{k+1} = W_k - \eta\,\mathbb E[\nabla_W\phi(h)]`."""
    symbols, gradient = _gradient(loss)
    path = [sp.Matrix(REFERENCE)]
    for _ in range(steps):
        current = path[-1]
        path.append(current - eta * gradient.xreplace(dict(zip(symbols, current))))
    return tuple(path)


def _directions(path: Sequence[sp.Matrix]) -> list[sp.Matrix]:
    r""":math:`\Delta_k = (e_1 - e_2)^\top (W_k - W_{\rm ref})`."""
    return [(e12(V_CONCRETE).T * (W - REFERENCE)).T for W in path]


def _explicit(A: Any, values: dict) -> sp.Matrix:
    return sp.Matrix(A.xreplace(values).doit().as_explicit())


def _op_norm(A: sp.Matrix) -> sp.Expr:
    r""":math:`\|A\|_{\rm op}` of a matrix with two columns: the square root of the largest
    eigenvalue of :math:`M = A^\top A`,
    :math:`\tfrac12\operatorname{tr}M + \sqrt{\tfrac14(\operatorname{tr}M)^2 - \det M}`;
    when :math:`\det M` expands to exactly 0 (rank one), that is :math:`\sqrt{\operatorname{tr}M}`."""
    M = A.T * A
    trace, det = M[0, 0] + M[1, 1], M[0, 0] * M[1, 1] - M[0, 1] ** 2
    if sp.expand(det) == 0:
        return sp.sqrt(trace)
    return sp.sqrt(trace / 2 + sp.sqrt(trace**2 / 4 - det))


def _binding(loss: Loss, steps: int, fixed: Mapping[sp.Symbol, int] = MappingProxyType({})) -> dict:
    """Every display object on the trajectory of ``steps`` steps; ``fixed`` sets the displays'
    step symbols (:math:`t`: then :math:`W_t` is the :math:`t`-th iterate, else the last; :math:`k`)."""
    path = _trajectory(loss, steps)
    directions = _directions(path)
    matrices = {W_t: sp.ImmutableMatrix(path[fixed.get(t, steps)]), W_ref: sp.ImmutableMatrix(REFERENCE)}

    def norm_of(arg: Any) -> sp.Expr:
        if isinstance(arg, sp.MatrixBase):
            return norm(arg)
        if arg.has(g):
            return Norm(arg)  # a random vector: left to the expectation
        entries = [e for e in arg.atoms(sp.Indexed) if e.base == Delta]
        return norm([arg.xreplace({e: directions[int(e.indices[0])][c] for e in entries}) for c in range(D_CONCRETE)])

    def expect(f: sp.Expr) -> Any:
        total: Any = None
        for sample in SAMPLES:
            value = f.replace(lambda e: e == Norm(g), lambda e, sample=sample: norm(sample.embedding))
            value = value.xreplace({s_: sample.sign, **{h_k[j]: _margin(W, sample) for j, W in enumerate(path)}})
            if value.has(g):
                value = sp.ImmutableMatrix([value.xreplace({g: sample.embedding[c]}) for c in range(D_CONCRETE)])
            term = sample.probability * value
            total = term if total is None else total + term
        return total

    return {
        **fixed,
        OpNorm: lambda A: _op_norm(_explicit(A, matrices)),
        FrobNorm: lambda A: norm(_explicit(A, matrices)),
        Norm: norm_of,
        Expect: expect,
        phi_prime: loss_derivative(loss),
        L_phi: sp.sympify(loss.sup_abs_dphi),
        E_norm_g: sum(sample.probability * norm(sample.embedding) for sample in SAMPLES),
    }


def _on_trajectories(loss: Loss, step: sp.Symbol, values: Sequence[int], label: str) -> Instances:
    """The trajectory bindings with the step symbol ``step`` (:math:`t` or :math:`k`) at each of ``values``."""
    return Instances(f"{LABEL}; {label}", lambda: [_binding(loss, max(STEPS), {step: v}) for v in values])


def _exact_norm(loss: Loss) -> list[Claim]:
    instances = _on_trajectories(loss, t, STEPS, f"t in {STEPS}")
    operator = chain(
        "operator norm",
        OpNorm(W_t - W_ref),
        [
            (
                "=",
                Norm(Delta[t]) / sp.sqrt(2),
                (
                    r"every update lies along $e_1 - e_2$ (dpo-gradient), so $W_t - W_{\mathrm{ref}} = \frac12(e_1 - "
                    r"e_2)\Delta_t^\top$; "
                    r"$\|u v^\top\|_{\mathrm{op}} = \|u\|\,\|v\|$ and $\|e_1 - e_2\| = \sqrt2$"
                ),
            )
        ],
        instances=instances,
    )
    frobenius = chain(
        "Frobenius norm",
        FrobNorm(W_t - W_ref),
        [("=", Norm(Delta[t]) / sp.sqrt(2), r"rank one: $\|u v^\top\|_F = \|u\|\,\|v\|$")],
        instances=instances,
    )
    return [operator, frobenius]


def _increment(loss: Loss) -> Claim:
    return chain(
        "increment",
        Norm(Delta[k + 1] - Delta[k]),
        [
            (
                "=",
                2 * eta * beta * Norm(Expect(phi_prime(h_k[k]) * s_ * g)),
                (
                    r"$\Delta_{k+1} - \Delta_k = (e_1 - e_2)^\top(W_{k+1} - W_k) = -\eta(e_1 - "
                    r"e_2)^\top\mathbb{E}\nabla_W\phi(h_k)$ "
                    r"and $(e_1 - e_2)^\top(e_{y_w} - e_{y_l}) = 2s$ (dpo-gradient)"
                ),
            )
        ],
        instances=_on_trajectories(loss, k, (0, 1), "steps k in (0, 1)"),
        prose=r"for every step $k \ge 0$ and every loss.",
    )


def _growth(loss: Loss) -> Claim:
    term = sp.Sum(2 * eta * beta * L_phi * E_norm_g, (k, 0, t - 1)) / sp.sqrt(2)
    sup = loss.sup_abs_dphi
    return chain(
        "linear growth",
        OpNorm(W_t - W_ref),
        [
            ("=", Norm(Delta[t]) / sp.sqrt(2), "claim (operator norm)"),
            (
                "<=",
                sp.Sum(Norm(Delta[k + 1] - Delta[k]), (k, 0, t - 1)) / sp.sqrt(2),
                r"telescoping from $\Delta_0 = 0$ and the triangle inequality",
            ),
            (
                "=",
                sp.Sum(2 * eta * beta * Norm(Expect(phi_prime(h_k[k]) * s_ * g)), (k, 0, t - 1)) / sp.sqrt(2),
                "claim (increment)",
            ),
            (
                "<=",
                sp.Sum(2 * eta * beta * Expect(sp.Abs(phi_prime(h_k[k])) * Norm(g)), (k, 0, t - 1)) / sp.sqrt(2),
                r"$\|\mathbb{E}X\| \le \mathbb{E}\|X\|$ and $|s| = 1$",
            ),
            ("<=", term, rf"$|\phi'(h)| \le L_\phi = {sp.latex(sup)}$ (A3)"),
            (
                "=",
                sp.sqrt(2) * eta * beta * t * L_phi * E_norm_g,
                r"$t$ equal terms",
                Instances("any t (symbolic)", lambda: [{L_phi: sup, E_norm_g: _binding(loss, 1)[E_norm_g]}]),
            ),
        ],
        instances=_on_trajectories(loss, t, STEPS, f"t in {STEPS}"),
        prose=r"for every $t \ge 1$: linear in the number of steps.",
    )


def _bounded(value: sp.Expr) -> bool:
    """``True`` when ``value`` (the loss's :math:`\\sup|\\phi'|`) is a finite real number."""
    if value.is_finite is True and value.is_real is not False:
        return True
    if value.is_number:
        numeric = sp.N(value, 50)
        return bool(numeric.is_finite) and bool(numeric.is_real)
    return False


def build(loss: Loss) -> Theorem:
    sup = loss.sup_abs_dphi
    bounded = _bounded(sup)
    claims = ([_growth(loss)] if bounded else []) + [*_exact_norm(loss), _increment(loss)]
    notes = (
        []
        if bounded
        else [
            (
                rf"No linear bound is stated for this loss: $\sup_h |\phi'(h)| = {sp.latex(sup)}$, so the constant of "
                rf"the "
                r"linear bound would be infinite. The increment identity (claim increment) still bounds each step by "
                r"$2\eta\beta\,\mathbb{E}[|\phi'(h_k)|\,\|g\|]$, the slope met along the trajectory."
            )
        ]
    )
    assumptions = [
        Assumption(
            "start",
            r"$W_0 = W_{\mathrm{ref}}$ and full-batch GD with step $\eta$ on $\mathbb{E}\,\phi(h)$ over responses $1, "
            r"2$ of a $V$-way softmax head on a frozen embedding $g$ (the expectation over the training set's "
            r"empirical law).",
        ),
        Assumption("embeddings", r"$\mathbb{E}\|g\| < \infty$ under that law."),
    ]
    if bounded:
        assumptions.append(
            Assumption(
                "bounded slope",
                rf"$L_\phi = \sup_h |\phi'(h)| = {sp.latex(sup)} < \infty$ for loss {loss.name} (derived by SymPy).",
            )
        )
    notation = {
        **meanings(eta, beta, t),
        **loss_parameters(loss),
        W_t: r"is the head after $t$ GD steps",
        W_ref: r"is the reference head, the start $W_0$",
        OpNorm(W_t - W_ref): r"is the operator (spectral) norm of the head's displacement",
        FrobNorm(W_t - W_ref): r"is its Frobenius norm",
        Delta[
            t
        ]: r"is the preference direction $(e_1 - e_2)^\top(W_t - W_{\mathrm{ref}})$ after $t$ steps, $e_1, e_2$ the "
        r"first two standard basis vectors",
        Norm(Atom("v")): EUCLIDEAN_NORM_MEANING,
        k: STEP_INDEX_MEANING,
        h_k[k]: r"is the margin $h = \beta\rho$ of a sample under $W_k$",
        s_: r"is $+1$ if the preferred answer is response $1$ and $-1$ otherwise",
        g: r"is the embedding of a sample",
        phi_prime(h): MEANINGS[phi_prime(h)],
        Expect(Atom("X")): r"is the expectation over the data law (the training set's empirical law)",
    }
    if bounded:
        notation[L_phi] = rf"is the slope bound $\sup_h |\phi'(h)|$ of the loss (here ${sp.latex(sup)}$)"
        notation[E_norm_g] = r"is the mean embedding norm under the data law"
    return Theorem(
        id="weight-growth",
        title="Linear growth of the trained head",
        assumptions=assumptions,
        claims=claims,
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"The linear-in-$t$ growth of the head for DPO is in the spirit of Im \& Li (2024), who bound the "
            r"weight updates; the exact rank-one norm identities, the per-step increment identity, the general-$\phi$ "
            r"form with $L_\phi = \sup_h|\phi'(h)|$ and the checks on concrete trajectories are prefdyn's."
        ),
    )
