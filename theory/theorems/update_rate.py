r"""``update-rate``: the first gradient step from the reference, for any margin loss.

For a :math:`K`-behaviour mixture (weights :math:`p_b`, positive fractions :math:`q_b`, label-flip
rates :math:`\epsilon_b`, class means :math:`\mu_b^\pm`) and one GD step of size :math:`\eta` on
:math:`\mathbb E\,\phi(h)` from :math:`W = W_{\rm ref}` (where :math:`h = 0`),

.. math::
   \mathbb E[\Delta W_1] = -\eta\beta\phi'(0)\,(e_1 - e_2)\sum_b p_b\,m_b^\top,\qquad
   m_b = \mathbb E[s g\mid b] = (1-2\epsilon_b)\,(q_b\mu_b^+ - (1-q_b)\mu_b^-).

The mean margin of behaviour :math:`b` then moves by
:math:`-2\eta\beta^2\phi'(0)\sum_{b'} p_{b'}\Omega_{b'b}`, :math:`\Omega_{b'b} = \langle m_{b'}, m_b\rangle`
(plus the self-term :math:`(S_b - \Omega_{bb})/n`, :math:`S_b = \mathbb E[\|g\|^2\mid b]`, on a
stratified training set of size :math:`n`); for balanced, noise-free, orthogonal behaviours this
is :math:`-\tfrac12\eta\beta^2\phi'(0)\,p_b\|\delta_b\|^2` (DPO: :math:`\tfrac14\eta\beta^2 p_b\|\delta_b\|^2`,
Im & Li 2024, Thm. 4.1). Finite-sample deviations of the margin after a step on :math:`n`
i.i.d. samples close the theorem: a Chernoff derivation for sub-Gaussian features and a
Chebyshev + :math:`\psi_\alpha`-moment derivation for :math:`\alpha`-subexponential ones, each
with its confidence radius.

Every display is checked as printed: abstract objects (expectations, probabilities, the updated
head's margins) are bound to first-principles computations on concrete instances (SymPy
gradients through a softmax head, exact expectations over finite or Gaussian laws), see
:mod:`prefdyn.theory.framework`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from functools import cache, lru_cache
from typing import Any

import sympy as sp
from sympy.core.function import UndefinedFunction
from sympy.printing.pretty.stringpict import prettyForm

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..functions import Phi, indicator
from ..losses import Loss
from ..model import FiniteLaw, vector
from ..symbols import beta, eta, h, meanings, n
from ._head import answer_rows, e12, head, log_ratio_difference
from ._notation import (
    EUCLIDEAN_NORM_MEANING,
    MEANINGS,
    POSITIVE_FRACTION_MEANING,
    TAIL_EXPONENT_MEANING,
    K,
    Omega,
    loss_derivative,
    loss_parameters,
    p,
    phi_prime,
)
from ._notation import b as b_
from ._notation import b_prime as bp
from ._traj import dot

V_CONCRETE, D_CONCRETE = 3, 2
KS = (1, 2)

# --------------------------------------------------------------------------- display objects


def display_function(
    name: str, template: Callable[..., str], text: Callable[..., str] | None = None, **assumptions: bool
) -> UndefinedFunction:
    """An undefined function (an abstract display object, bound by instances) that LaTeX-prints
    its arguments through ``template`` (and plain-prints through ``text``)."""
    text = text or template

    def _latex(self: Any, printer: Any) -> str:
        return template(*(printer._print(a) for a in self.args))

    def _sympystr(self: Any, printer: Any) -> str:
        return text(*(printer._print(a) for a in self.args))

    def _pretty(self: Any, printer: Any) -> prettyForm:
        return prettyForm(text(*(sp.sstr(a) for a in self.args)))

    return sp.Function(name, __dict__={"_latex": _latex, "_sympystr": _sympystr, "_pretty": _pretty}, **assumptions)


#: Expectation over the data law, probability over the draw of the training set, inner product,
#: Euclidean norm, squared norm (printed as such; bound to exact computations by instances).
Expect = display_function("Expect_", lambda a: rf"\mathbb{{E}}[{a}]", lambda a: f"E[{a}]")
Prob = display_function("Prob_", lambda a: rf"\mathbb{{P}}({a})", lambda a: f"P({a})")
Inner = display_function("Inner_", lambda a, b: rf"\langle {a}, {b}\rangle", lambda a, b: f"<{a}, {b}>", real=True)
Norm = display_function("Norm_", lambda a: rf"\|{a}\|", lambda a: f"||{a}||", nonnegative=True)
SqNorm = display_function("SqNorm_", lambda a: rf"\|{a}\|^{{2}}", lambda a: f"||{a}||^2", nonnegative=True)

i_, j_ = sp.symbols("i j", integer=True, positive=True)
q, eps = sp.IndexedBase("q"), sp.IndexedBase(r"\epsilon")
mu_p, mu_m = sp.IndexedBase(r"\mu^{+}"), sp.IndexedBase(r"\mu^{-}")
S, G = sp.IndexedBase("S"), sp.IndexedBase("G")
delta = sp.IndexedBase(r"\delta")

# random objects of the displays (consumed by the Expect / Prob bindings)
s_ = Atom("s")
y_w, y_l = Atom("y_w", integer=True), Atom("y_l", integer=True)
g = sp.IndexedBase("g")

EW1 = Atom(r"\mathbb{E}[\Delta W_1]_{ij}")
EH = Atom(r"\mathbb{E}[h_1 \mid b]")
EH_hat = Atom(r"\hat{\mathbb{E}}[h_1 \mid b]")
EH_bar = Atom(r"\mathbb{E}[\bar h_b(1)]")
Delta1 = Atom(r"\Delta_1")
m_b = Atom("m_b")
Ybar = Atom(r"\bar Y")
Y = sp.IndexedBase("Y")
lam = Atom(r"\lambda_*", positive=True)

x = sp.Symbol("x", positive=True)
u = sp.Symbol("u", positive=True)
zeta = sp.Symbol("zeta", positive=True)
sigma_psi = sp.Symbol("sigma_psi", positive=True)
K_psi = sp.Symbol("K_psi", positive=True)
alpha = sp.Symbol("alpha", positive=True)

NO_OBJECTS = Instances("no abstract object (symbolic in every parameter)", lambda: [{}])


def _dot(a: sp.MatrixBase, b: sp.MatrixBase) -> sp.Expr:
    r""":math:`a^\top b`, expanded."""
    return sp.expand(dot(a, b))


def _vector_of(value: Any) -> sp.Matrix:
    if isinstance(value, sp.MatrixBase):
        return sp.Matrix(value)
    raise TypeError(f"expected a concrete vector, got {value!r}")


def _norm(value: Any) -> sp.Expr:
    v = _vector_of(value)
    return sp.sqrt(_dot(v, v))


# --------------------------------------------------------------------------- finite laws


@dataclass(frozen=True)
class _Point:
    """One outcome of a finite data law: probability, behaviour (0-based), sign, embedding."""

    probability: sp.Expr
    behavior: int
    sign: int
    embedding: sp.Matrix


def _points(law: FiniteLaw, subs: Mapping[sp.Basic, Any] | None = None) -> list[_Point]:
    subs = dict(subs or {})
    return [
        _Point(sp.sympify(a.probability).xreplace(subs), a.behavior, a.sign, a.embedding.xreplace(subs))
        for a in law.atoms()
    ]


def _weight(points: Sequence[_Point], b: int) -> sp.Expr:
    return sp.factor(sum(pt.probability for pt in points if pt.behavior == b))


def _conditional(points: Sequence[_Point], b: int, f: Callable[[_Point], Any]) -> Any:
    """:math:`\\mathbb E[f \\mid b]` as an exact finite sum."""
    terms = [pt.probability * f(pt) for pt in points if pt.behavior == b]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return (
        (total / _weight(points, b)).applyfunc(sp.cancel)
        if isinstance(total, sp.MatrixBase)
        else sp.cancel(total / _weight(points, b))
    )


def _signed_mean(points: Sequence[_Point], b: int) -> sp.Matrix:
    r""":math:`m_b = \mathbb E[s g \mid b]`, computed from the law."""
    return _conditional(points, b, lambda pt: pt.sign * pt.embedding)


@cache
def _gradient(loss: Loss, V: int, d: int) -> tuple[sp.Matrix, sp.Matrix, dict[int, sp.Matrix]]:
    r"""Per-sample :math:`\nabla_W \phi(\beta\rho)` at :math:`W = W_{\rm ref}` on a concrete
    :math:`V\times d` head, by SymPy differentiation through the log-softmax, for ``s = +1``
    (``y_w, y_l = 1, 2``) and ``s = -1``; a matrix in the embedding symbols."""
    W, R, gv = head("W", V, d), head("R", V, d), vector("g", d)
    phi = loss.bind(loss.phi)
    at_ref = {W[a, c]: R[a, c] for a, c in itertools.product(range(V), range(d))}
    grads = {}
    for sign in (1, -1):
        rho = log_ratio_difference(W, R, gv, *answer_rows(sign))
        grads[sign] = sp.Matrix(V, d, lambda a, c, rho=rho: sp.diff(phi.subs(h, beta * rho), W[a, c]).subs(at_ref))
    return R, gv, grads


def _sample_gradient(loss: Loss, V: int, d: int, embedding: sp.Matrix, sign: int) -> sp.Matrix:
    _, gv, grads = _gradient(loss, V, d)
    return grads[sign].xreplace(dict(zip(gv, embedding)))


def _reference(V: int, d: int) -> sp.Matrix:
    return head("R", V, d)


def _expected_update(loss: Loss, points: Sequence[_Point], V: int, d: int) -> sp.Matrix:
    r""":math:`\mathbb E[\Delta W_1] = -\eta\,\mathbb E[\nabla_W\phi]` at :math:`W_{\rm ref}`: the
    exact expectation of the SymPy per-sample gradient over a finite law."""
    total = sp.zeros(V, d)
    for pt in points:
        total += pt.probability * _sample_gradient(loss, V, d, pt.embedding, pt.sign)
    return (-eta * total).applyfunc(sp.expand)


def _margin(W: sp.Matrix, embedding: sp.Matrix, sign: int) -> sp.Expr:
    r""":math:`h = \beta\rho` of one sample under head ``W`` (reference ``R``)."""
    V, d = W.shape
    return sp.expand(beta * log_ratio_difference(W, _reference(V, d), embedding, *answer_rows(sign)))


def _finite_expectation(points: Sequence[_Point], margin: Callable[[_Point], sp.Expr]) -> Callable[[sp.Expr], sp.Expr]:
    r"""The binding of :math:`\mathbb E[\cdot]` over a finite law: the sign :math:`s`, the two
    responses :math:`y_w, y_l`, the embedding coordinates :math:`g_j` and the margin :math:`h` are
    replaced by their values at each outcome."""

    def expect(f: sp.Expr) -> sp.Expr:
        total = sp.Integer(0)
        for pt in points:
            w, l = answer_rows(pt.sign)
            value = f.xreplace({s_: pt.sign, y_w: w + 1, y_l: l + 1, h: margin(pt)})
            value = value.replace(
                lambda e: isinstance(e, sp.Indexed) and e.base == g,
                lambda e, pt=pt: pt.embedding[int(e.indices[0]) - 1],
            )
            total += pt.probability * value
        return sp.expand(total)

    return expect


def _law_families(law: FiniteLaw) -> dict[Any, Any]:
    return {
        K: law.K,
        p: lambda b: law.weights[int(b) - 1],
        q: lambda b: law.positive_fractions[int(b) - 1],
        eps: lambda b: law.flip_rates[int(b) - 1],
        mu_p: lambda b, c: law.mean(int(b) - 1, 1)[int(c) - 1],
        mu_m: lambda b, c: law.mean(int(b) - 1, -1)[int(c) - 1],
    }


def _sign_of(value: sp.Expr) -> int | None:
    """The sign of a constant: exactly when SymPy can tell, else at 50 digits (``None`` if zero
    to 50 digits)."""
    value = sp.sympify(value)
    if value.is_zero:
        return 0
    if value.is_positive:
        return 1
    if value.is_negative:
        return -1
    numeric = sp.N(value, 50)
    if abs(numeric) < sp.Float(10) ** -45:
        return None
    return 1 if numeric > 0 else -1


# --------------------------------------------------------------------------- claim 1


def _first_step(loss: Loss) -> Claim:
    dphi0 = loss.bind(loss.dphi_at_zero)
    one = indicator
    m_bj = (1 - 2 * eps[b_]) * (q[b_] * mu_p[b_, j_] - (1 - q[b_]) * mu_m[b_, j_])

    def build() -> list[dict]:
        out = []
        R = _reference(V_CONCRETE, D_CONCRETE)
        for k in KS:
            law = FiniteLaw(k, D_CONCRETE)
            points = _points(law)
            step = _expected_update(loss, points, V_CONCRETE, D_CONCRETE)
            expect = _finite_expectation(points, lambda pt: _margin(R, pt.embedding, pt.sign))
            for a, c in itertools.product(range(V_CONCRETE), range(D_CONCRETE)):
                out.append(
                    {
                        EW1: step[a, c],
                        i_: a + 1,
                        j_: c + 1,
                        **_law_families(law),
                        Expect: expect,
                        phi_prime: loss_derivative(loss),
                    }
                )
        return out

    instances = Instances(
        f"V = {V_CONCRETE}, d = {D_CONCRETE}, K in {KS}, finite law with label flips and "
        "two-point noise, exact expectation of the SymPy gradient, every entry (i, j)",
        build,
    )
    return chain(
        "first step",
        EW1,
        [
            (
                "=",
                -eta * beta * Expect(phi_prime(h) * (one(i_, y_w) - one(i_, y_l)) * g[j_]),
                r"$W_1 = W_{\mathrm{ref}} - \eta\nabla_W\mathbb{E}\phi(h)$ and dpo-gradient",
            ),
            (
                "=",
                -eta * beta * dphi0 * (one(i_, 1) - one(i_, 2)) * Expect(s_ * g[j_]),
                (
                    rf"$h = 0$ at $W_{{\mathrm{{ref}}}}$, $\phi'(0) = {sp.latex(dphi0)}$; responses $1, 2$ with $s = +1$ "
                    rf"iff $y_w = 1$"
                ),
            ),
            (
                "=",
                -eta * beta * dphi0 * (one(i_, 1) - one(i_, 2)) * sp.Sum(p[b_] * m_bj, (b_, 1, K)),
                r"tower rule over behaviour, true label and label flip",
            ),
        ],
        instances=instances,
        prose=r"Only rows $1$ and $2$ move; the step is rank one along $\sum_b p_b m_b$.",
    )


# --------------------------------------------------------------------------- claims 2 and 4


@dataclass(frozen=True)
class _Population:
    """One population GD step on a finite law: per behaviour the fresh-sample mean margin, the
    preference direction, the signed means, the weights."""

    margins: list[sp.Expr]
    direction: sp.Matrix
    signed_means: list[sp.Matrix]
    weights: list[sp.Expr]


def _population(loss: Loss, points: Sequence[_Point], K_law: int, d: int, V: int = V_CONCRETE) -> _Population:
    step = _expected_update(loss, points, V, d)
    W1 = _reference(V, d) + step
    direction = (e12(V).T * step).T  # Delta_1 := (e_1 - e_2)^T (W_1 - W_ref)
    margins = [sp.expand(_conditional(points, b, lambda pt: _margin(W1, pt.embedding, pt.sign))) for b in range(K_law)]
    means = [_signed_mean(points, b) for b in range(K_law)]
    weights = [_weight(points, b) for b in range(K_law)]
    return _Population(margins, direction.applyfunc(sp.expand), means, weights)


def _growth_binding(pop: _Population, b: int) -> dict:
    m = pop.signed_means
    return {
        EH: pop.margins[b],
        Delta1: sp.ImmutableMatrix(pop.direction),
        m_b: sp.ImmutableMatrix(m[b]),
        Inner: lambda a, c: _dot(_vector_of(a), _vector_of(c)),
        b_: b + 1,
        K: len(m),
        p: lambda c: pop.weights[int(c) - 1],
        Omega: lambda c, e: _dot(m[int(c) - 1], m[int(e) - 1]),
    }


def _margin_growth(loss: Loss) -> Claim:
    dphi0 = loss.bind(loss.dphi_at_zero)

    def build() -> list[dict]:
        out = []
        for k in KS:
            law = FiniteLaw(k, D_CONCRETE)
            pop = _population(loss, _points(law), k, D_CONCRETE)
            out += [_growth_binding(pop, b) for b in range(k)]
        return out

    return chain(
        "margin growth",
        EH,
        [
            (
                "=",
                beta * Inner(Delta1, m_b),
                (
                    r"$h = \beta s\langle\Delta_1, g\rangle$ after the step (only rows $1, 2$ moved) and $m_b = "
                    r"\mathbb{E}[s g \mid b]$"
                ),
            ),
            (
                "=",
                -2 * eta * beta**2 * dphi0 * sp.Sum(p[bp] * Omega[bp, b_], (bp, 1, K)),
                (
                    r"$\Delta_1 = (e_1 - e_2)^\top\mathbb{E}[\Delta W_1] = -2\eta\beta\phi'(0)\sum_{b'} p_{b'} m_{b'}$ "
                    r"(claim 1)"
                ),
            ),
        ],
        instances=Instances(
            f"V = {V_CONCRETE}, d = {D_CONCRETE}, K in {KS}, finite law with label flips; "
            "margins of the SymPy-updated head",
            build,
        ),
    )


def _orthogonal(loss: Loss) -> Claim:
    dphi0 = loss.bind(loss.dphi_at_zero)

    def balanced(k: int, d: int, orthogonal: bool) -> tuple[_Population, list[sp.Matrix]]:
        r"""A law with :math:`q_b = 1/2`, no label flips, :math:`\mu_b^\pm = c_b \pm \delta_b/2` with
        arbitrary offsets :math:`c_b`; :math:`\delta_b = a_b e_b` (orthogonal) or generic."""
        law = FiniteLaw(k, d, label_noise=False)
        subs: dict[sp.Basic, Any] = {qq: sp.Rational(1, 2) for qq in law.positive_fractions}
        deltas = []
        for b in range(k):
            if orthogonal:
                dv = sp.zeros(d, 1)
                dv[b] = sp.Symbol(f"a_{b + 1}", positive=True)
            else:
                dv = sp.Matrix([sp.Symbol(f"delta_{b + 1}{c + 1}", real=True) for c in range(d)])
            offset = sp.Matrix([sp.Symbol(f"c_{b + 1}{c + 1}", real=True) for c in range(d)])
            deltas.append(dv)
            for sign in (1, -1):
                subs.update(dict(zip(law.mean(b, sign), offset + sp.Rational(sign, 2) * dv)))
        return _population(loss, _points(law, subs), k, d), deltas

    def binding(pop: _Population, deltas: list[sp.Matrix], b: int) -> dict:
        return {
            **_growth_binding(pop, b),
            G: lambda c, e: _dot(deltas[int(c) - 1], deltas[int(e) - 1]),
            SqNorm: lambda v: _dot(deltas[int(v.indices[0]) - 1], deltas[int(v.indices[0]) - 1]),
        }

    def build(shapes: Iterable[tuple[int, int, bool]]) -> Callable[[], list[dict]]:
        def inner() -> list[dict]:
            out = []
            for k, d, orthogonal in shapes:
                pop, deltas = balanced(k, d, orthogonal)
                out += [binding(pop, deltas, b) for b in range(k)]
            return out

        return inner

    orthogonal = Instances(
        "balanced noise-free laws, orthogonal delta_b = a_b e_b, arbitrary offsets, (K, d) in ((2, 2), (3, 3))",
        build(((2, 2, True), (3, 3, True))),
    )
    general = Instances(
        "balanced noise-free laws, generic (non-orthogonal) delta_b and offsets, K = d = 2", build(((2, 2, False),))
    )
    return chain(
        "orthogonal balanced",
        EH,
        [
            ("=", -2 * eta * beta**2 * dphi0 * sp.Sum(p[bp] * Omega[bp, b_], (bp, 1, K)), "claim 2"),
            (
                "=",
                -eta * beta**2 * dphi0 / 2 * sp.Sum(p[bp] * G[bp, b_], (bp, 1, K)),
                (
                    r"$q_b = \frac12$, $\epsilon_b = 0$: $m_b = \frac12(\mu_b^+ - \mu_b^-) = \frac12\delta_b$, so "
                    r"$\Omega_{b'b} = \frac14 G_{b'b}$"
                ),
                Instances(
                    general.label + "; and " + orthogonal.label, lambda: [*general.bindings, *orthogonal.bindings]
                ),
            ),
            (
                "=",
                -eta * beta**2 * dphi0 / 2 * p[b_] * SqNorm(delta[b_]),
                r"orthogonal behaviours: $G_{b'b} = \langle\delta_{b'}, \delta_b\rangle = 0$ for $b' \neq b$",
            ),
        ],
        instances=orthogonal,
        prose=_orthogonal_prose(dphi0),
    )


def _orthogonal_prose(dphi0: sp.Expr) -> str:
    sign = _sign_of(dphi0)
    if sign == -1:
        return (
            r"Since $\phi'(0) < 0$, the first step raises the mean margin of every behaviour with "
            r"$\delta_b \neq 0$, the more the larger $p_b\|\delta_b\|^2$."
        )
    if sign == 1:
        return (
            r"Since $\phi'(0) > 0$ for this loss, the first step lowers the mean margin of every behaviour "
            r"with $\delta_b \neq 0$, the more the larger $p_b\|\delta_b\|^2$."
        )
    return r"Since $\phi'(0) = 0$ for this loss, the first step leaves every mean margin unchanged."


# --------------------------------------------------------------------------- claim 3


def _finite_n(loss: Loss) -> Claim:
    """Full-batch GD on a stratified training set: counts (2, 1), n = 3, d = 1, exact joint law of
    the three samples, the step computed from the SymPy per-sample gradients."""
    dphi0 = loss.bind(loss.dphi_at_zero)
    counts, d, V = (2, 1), 1, V_CONCRETE
    law = FiniteLaw(len(counts), d, label_noise=False)
    size = sum(counts)
    members = [b for b, c in enumerate(counts) for _ in range(c)]

    def build() -> list[dict]:
        points = _points(law)
        per_sample = [[pt for pt in points if pt.behavior == b] for b in members]
        weights = [_weight(points, b) for b in range(len(counts))]
        R = _reference(V, d)
        totals = [sp.Integer(0)] * len(counts)
        for combo in itertools.product(*per_sample):
            prob = sp.Mul(*(pt.probability / weights[pt.behavior] for pt in combo))
            mean_gradient = (
                sum((_sample_gradient(loss, V, d, pt.embedding, pt.sign) for pt in combo), sp.zeros(V, d)) / size
            )
            W1 = R - eta * mean_gradient
            for b in range(len(counts)):
                mine = [pt for pt in combo if pt.behavior == b]
                totals[b] += prob * sum(_margin(W1, pt.embedding, pt.sign) for pt in mine) / len(mine)
        m = [_signed_mean(points, b) for b in range(len(counts))]
        second = [_conditional(points, b, lambda pt: _dot(pt.embedding, pt.embedding)) for b in range(len(counts))]
        return [
            {
                EH_bar: sp.expand(totals[b]),
                b_: b + 1,
                K: len(counts),
                n: size,
                p: lambda c: sp.Rational(counts[int(c) - 1], size),
                Omega: lambda c, e: _dot(m[int(c) - 1], m[int(e) - 1]),
                S: lambda c: second[int(c) - 1],
            }
            for b in range(len(counts))
        ]

    return chain(
        "finite-n self-term",
        EH_bar,
        [
            (
                "=",
                -2 * eta * beta**2 * dphi0 * (sp.Sum(p[bp] * Omega[bp, b_], (bp, 1, K)) + (S[b_] - Omega[b_, b_]) / n),
                (
                    r"$\bar h_b(1) = \frac{1}{n_b}\sum_{i \in b}\beta s_i\langle\Delta_1, g_i\rangle$ with $\Delta_1 "
                    r"= -\frac{2\eta\beta\phi'(0)}{n}\sum_{j} s_j g_j$; "
                    r"the terms $j \neq i$ give $\Omega$, the terms $j = i$ give $S_b$"
                ),
            ),
        ],
        instances=Instances(
            "stratified counts (2, 1), n = 3, d = 1, V = 3, exact joint law of the three samples, "
            "step from the SymPy per-sample gradients",
            build,
        ),
        prose=r"Here $p_b = n_b/n$ are the stratified weights.",
    )


# --------------------------------------------------------------------------- concentration laws


XI_PREFIX = "xi_"


def _xi(*index: int) -> sp.Symbol:
    """An independent standard normal variable of an instance."""
    return sp.Symbol(XI_PREFIX + "_".join(map(str, index)), real=True)


ELL = sp.Symbol("ell_laplace", real=True)  # a Laplace(b_L) variable
B_LAPLACE = sp.Symbol("b_L", positive=True)
_Z = sp.Symbol("z_std", real=True)  # a standard normal variable (real: |Z| stays |Z| in events)
_Z_POS = sp.Symbol("z_pos", positive=True)


def _normals(expr: sp.Basic) -> list[sp.Symbol]:
    return sorted((v for v in expr.free_symbols if v.name.startswith(XI_PREFIX)), key=lambda v: v.name)


def _random_objects(expr: sp.Basic) -> set[Any]:
    found: set[Any] = set()
    for node in sp.preorder_traversal(expr):
        if node in (Ybar, EH_hat) or (isinstance(node, sp.Indexed) and node.base == Y):
            found.add(node)
    return found


@lru_cache(maxsize=4096)
def _gauss_integral(f: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E f(Z)`, :math:`Z \sim N(0, 1)`, as :math:`\int_0^\infty (f(z) + f(-z))\varphi(z)\,dz`."""
    density = sp.exp(-(_Z_POS**2) / 2) / sp.sqrt(2 * sp.pi)
    value = sp.integrate(
        (f.xreplace({_Z: _Z_POS}) + f.xreplace({_Z: -_Z_POS})) * density, (_Z_POS, 0, sp.oo), conds="none"
    )
    return sp.expand(value)


@lru_cache(maxsize=4096)
def _laplace_integral(f: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E f(L)`, :math:`L \sim \mathrm{Laplace}(b_L)` (density :math:`e^{-|y|/b_L}/2b_L`)."""
    y = sp.Symbol("y_laplace", positive=True)
    density = sp.exp(-y / B_LAPLACE) / (2 * B_LAPLACE)
    return sp.simplify(
        sp.integrate((f.xreplace({ELL: y}) + f.xreplace({ELL: -y})) * density, (y, 0, sp.oo), conds="none")
    )


class _Variable(Enum):
    """The law of the one random object of an expectation or an event in a component of a
    :class:`_Law`, after :meth:`_Law._representative`."""

    CONSTANT = auto()  #: no random object, or a constant value
    NORMAL = auto()  #: :math:`M + SZ`, :math:`Z \sim N(0, 1)` (written in ``_Z``)
    LAPLACE = auto()  #: the Laplace variable ``ELL``

    def mean(self, f: sp.Expr) -> sp.Expr:
        r""":math:`\mathbb E f` over this variable (``f`` written in it)."""
        if self is _Variable.NORMAL:
            return _gauss_integral(f)
        if self is _Variable.LAPLACE:
            return _laplace_integral(f)
        return f


@dataclass(frozen=True)
class _Law:
    r"""A law of the random display objects (:math:`\hat{\mathbb E}[h_1\mid b]`, :math:`\bar Y`,
    :math:`Y_i`): a finite mixture of components, each mapping the objects to expressions in
    independent standard normals :math:`\xi`, one Laplace variable, or constants."""

    label: str
    components: tuple[tuple[sp.Expr, Mapping[Any, sp.Expr]], ...]

    def _representative(self, expr: sp.Basic, component: Mapping[Any, sp.Expr]) -> tuple[Any, sp.Expr, _Variable]:
        """The one random object of ``expr``, a 1-D representative of its law in ``component``
        (``M + S Z``: the exact law of an affine form of independent normals; the Laplace
        variable; a constant) and the kind of that variable."""
        objects = _random_objects(expr)
        if not objects:
            return None, sp.Integer(0), _Variable.CONSTANT
        if len(objects) > 1:
            raise NotImplementedError(f"one random object per expectation/event, got {objects}")
        (obj,) = objects
        rep = sp.expand(component[obj])
        normals = _normals(rep)
        if normals:
            if any(sp.diff(rep, v, 2) != 0 for v in normals):
                raise ValueError(f"{obj} is not an affine form of normals: {rep}")
            mean = rep.xreplace({v: 0 for v in normals})
            scale = sp.sqrt(sum(sp.diff(rep, v) ** 2 for v in normals))
            return obj, mean + scale * _Z, _Variable.NORMAL
        return obj, rep, _Variable.LAPLACE if rep.has(ELL) else _Variable.CONSTANT

    def expect(self, f: sp.Expr) -> sp.Expr:
        total = sp.Integer(0)
        for weight, component in self.components:
            obj, value, kind = self._representative(f, component)
            total += weight * kind.mean(f if obj is None else f.xreplace({obj: value}))
        return sp.expand(total)

    def prob(self, event: sp.Basic) -> sp.Expr:
        total = sp.Integer(0)
        for weight, component in self.components:
            obj, value, kind = self._representative(event, component)
            if kind is _Variable.NORMAL:
                total += weight * _normal_event(event, obj, value)
            else:
                total += weight * self._indicator_mean(event if obj is None else event.xreplace({obj: value}), kind)
        return total

    @staticmethod
    def _indicator_mean(event: sp.Basic, kind: _Variable) -> sp.Expr:
        if event in (sp.true, sp.false):
            return sp.Integer(1 if event == sp.true else 0)
        return kind.mean(sp.Piecewise((1, event), (0, True)))

    def binding(self) -> dict:
        return {Prob: self.prob, Expect: self.expect}


def _normal_event(event: sp.Basic, obj: Any, value: sp.Expr) -> sp.Expr:
    r""":math:`P(\text{event})` for an event about one random object ``obj`` distributed as ``value``
    (:math:`M + S Z`, :math:`Z \sim N(0,1)`), of the forms :math:`A \ge r`, :math:`A > r` (or
    reversed) or :math:`|A| \ge r` with :math:`A` affine in ``obj`` and :math:`r > 0`: exact,
    through :math:`\Phi`."""
    if event in (sp.true, sp.false):
        return sp.Integer(1 if event == sp.true else 0)
    if isinstance(event, (sp.LessThan, sp.StrictLessThan)):
        event = sp.Ge(event.rhs, event.lhs, evaluate=False)
    if not isinstance(event, (sp.GreaterThan, sp.StrictGreaterThan)):
        raise NotImplementedError(f"event {event}")
    lhs, rhs = event.lhs, event.rhs
    if rhs.has(obj):
        raise NotImplementedError(f"event {event}")
    sides = [lhs.args[0] - rhs, -lhs.args[0] - rhs] if isinstance(lhs, sp.Abs) else [lhs - rhs]
    return sp.Add(*(_half_line(side.xreplace({obj: value})) for side in sides))


def _half_line(affine: sp.Expr) -> sp.Expr:
    r""":math:`P(a Z + c \ge 0) = \Phi(c/|a|)` (Z symmetric)."""
    affine = sp.expand(affine)
    a = sp.diff(affine, _Z)
    if a.has(_Z):
        raise ValueError(f"not affine in Z: {affine}")
    c = affine.xreplace({_Z: 0})
    if a == 0:
        return sp.Piecewise((1, c >= 0), (0, True))
    return Phi(c / sp.Abs(a))


def _iid(label: str, size: int, samples: Callable[[int], Iterable[tuple[sp.Expr, sp.Expr]]]) -> _Law:
    r"""``size`` i.i.d. samples :math:`Y_1..Y_n` (each a list of (probability, value) components)
    and :math:`\bar Y = \frac1n\sum_i Y_i`."""
    components = []
    for combo in itertools.product(*(list(samples(k)) for k in range(1, size + 1))):
        weight = sp.Mul(*(w for w, _ in combo))
        values = {Y[k]: v for k, (_, v) in enumerate(combo, 1)}
        values[Ybar] = sp.Add(*(v for _, v in combo)) / size
        components.append((weight, values))
    return _Law(label, tuple(components))


def gaussian_sample(size: int, scale: sp.Expr) -> _Law:
    return _iid(f"Y_i normal N(0, s^2), n = {size}", size, lambda k: [(sp.Integer(1), scale * _xi(k))])


def rademacher_sample(size: int, scale: sp.Expr) -> _Law:
    return _iid(
        f"Y_i = c r_i, r_i = +-1, n = {size}", size, lambda k: [(sp.Rational(1, 2), scale), (sp.Rational(1, 2), -scale)]
    )


def laplace_sample() -> _Law:
    return _iid("Y_1 Laplace(b), n = 1", 1, lambda k: [(sp.Integer(1), ELL)])


def _psi_norm(law: _Law, order: sp.Expr) -> sp.Expr:
    r""":math:`\|Y_1\|_{\psi_\alpha}`: the :math:`K` solving :math:`\mathbb E e^{(|Y_1|/K)^\alpha} = 2`
    (the infimum in the definition; the expectation decreases in :math:`K`)."""
    k = sp.Symbol("K_solve", positive=True)
    moment = law.expect(sp.exp((sp.Abs(Y[1]) / k) ** order))
    roots = [r for r in sp.solve(sp.Eq(moment, 2), k) if r.is_positive is not False]
    if len(roots) != 1:
        raise ValueError(f"psi_alpha norm: roots {roots}")
    return roots[0]


# --------------------------------------------------------------------------- concentration instances


@dataclass(frozen=True)
class _Mixture:
    """A concrete mixture in R^2 for the concentration instances: weights, positive fractions and
    class means (symbolic or rational)."""

    label: str
    weights: tuple[sp.Expr, ...]
    fractions: tuple[sp.Expr, ...]
    means: Mapping[tuple[int, int], tuple[sp.Expr, ...]]

    @staticmethod
    def symbolic(label: str = "K = 1, q = 1, symbolic class mean") -> _Mixture:
        return _Mixture(
            label,
            (sp.Integer(1),),
            (sp.Integer(1),),
            {(0, 1): tuple(sp.Symbol(f"mup1_{k}", real=True) for k in (1, 2))},
        )


#: Laws of the event identity (claims "... tail", first link): one label with a symbolic mean, and
#: rational mixtures with both labels and two behaviours (rational data keeps the exact check small).
MIXTURES = (
    _Mixture.symbolic(),
    _Mixture(
        "K = 1, q = 1/3, rational class means",
        (sp.Integer(1),),
        (sp.Rational(1, 3),),
        {(0, 1): (1, 2), (0, -1): (-1, sp.Rational(1, 2))},
    ),
    _Mixture(
        "K = 2, p = (1/3, 2/3), q = (1/4, 1), rational class means",
        (sp.Rational(1, 3), sp.Rational(2, 3)),
        (sp.Rational(1, 4), sp.Integer(1)),
        {(0, 1): (1, 0), (0, -1): (0, 1), (1, 1): (sp.Rational(1, 2), 2)},
    ),
)


def _step_sample_law(
    loss: Loss, mixture: _Mixture, size: int, noise: sp.Expr, b: int
) -> tuple[_Law, sp.Expr, sp.Matrix]:
    r"""``size`` i.i.d. samples of ``mixture`` with Gaussian class noise
    :math:`N(\mu_b^\pm, \text{noise}^2 I)`. Returns the law of :math:`\hat{\mathbb E}[h_1\mid b]`
    (mean margin of a fresh behaviour-``b`` sample after one full-batch step on the samples, SymPy
    gradients) and of :math:`\bar Y`, the population :math:`\mathbb E[h_1\mid b]` and :math:`m_b`."""
    d, V = 2, V_CONCRETE
    weights, fractions = mixture.weights, mixture.fractions
    means = {key: sp.Matrix(value) for key, value in mixture.means.items()}
    labels = [
        (c, t, weights[c] * (fractions[c] if t > 0 else 1 - fractions[c])) for c in range(len(weights)) for t in (1, -1)
    ]
    labels = [lab for lab in labels if lab[2] != 0]
    R = _reference(V, d)
    m = [
        sum((pr * t * means[(c2, t)] for c2, t, pr in labels if c2 == c), sp.zeros(d, 1)) / weights[c]
        for c in range(len(weights))
    ]
    m_bar = sum((weights[c] * m[c] for c in range(len(weights))), sp.zeros(d, 1))
    unit = m[b] / _norm(m[b])

    def fresh_margin(W: sp.Matrix) -> sp.Expr:
        # E over a fresh behaviour-b sample: the margin is affine in its noise, which has mean 0
        own = [(t, pr) for c, t, pr in labels if c == b]
        return sp.expand(sum(pr * _margin(W, means[(b, t)], t) for t, pr in own) / weights[b])

    population = R - eta * sum(
        (pr * _sample_gradient(loss, V, d, means[(c, t)], t) for c, t, pr in labels), sp.zeros(V, d)
    )
    components = []
    for combo in itertools.product(labels, repeat=size):
        prob = sp.Mul(*(pr for _, _, pr in combo))
        embeddings = [
            means[(c, t)] + noise * sp.Matrix([_xi(k, c2) for c2 in range(d)]) for k, (c, t, _) in enumerate(combo, 1)
        ]
        signs = [t for _, t, _ in combo]
        W1 = (
            R
            - eta * sum((_sample_gradient(loss, V, d, e, t) for e, t in zip(embeddings, signs)), sp.zeros(V, d)) / size
        )
        g_hat = sum((t * e for e, t in zip(embeddings, signs)), sp.zeros(d, 1)) / size
        components.append((prob, {EH_hat: fresh_margin(W1), Ybar: _dot(g_hat - m_bar, unit)}))
    return _Law(f"{mixture.label}, n = {size}", tuple(components)), fresh_margin(population), m[b]


def _event_instances(
    loss: Loss, cases: Sequence[tuple[_Mixture, int]], noise: sp.Expr, extra: Callable[[int], dict] = lambda size: {}
) -> Instances:
    def build() -> list[dict]:
        out = []
        for mixture, size in cases:
            for b in range(len(mixture.weights)):
                law, population, mean = _step_sample_law(loss, mixture, size, noise, b)
                out.append(
                    {
                        **law.binding(),
                        EH: population,
                        m_b: sp.ImmutableMatrix(mean),
                        Norm: _norm,
                        n: size,
                        **extra(size),
                    }
                )
        return out

    label = (
        "n i.i.d. samples in R^2 with Gaussian class noise, one full-batch step on a V = 3 head "
        f"(SymPy gradients): {'; '.join(f'{m.label}, n = {k}' for m, k in cases)}"
    )
    return Instances(label, build)


def _tail_instances(label: str, laws: Callable[[], Iterable[tuple[_Law, dict]]]) -> Instances:
    return Instances(label, lambda: [{**law.binding(), **extra} for law, extra in laws()])


def _concentration(loss: Loss) -> list[Claim]:
    dphi0 = loss.bind(loss.dphi_at_zero)
    scale = 2 * eta * beta**2 * sp.Abs(dphi0) * Norm(m_b)
    deviation = sp.Abs(EH_hat - EH)
    sigma = sp.Symbol("sigma", positive=True)
    symbolic, one_behavior, two_behaviors = MIXTURES
    events = _event_instances(
        loss,
        [
            (symbolic, 1),
            (symbolic, 2),
            (symbolic, 3),
            (one_behavior, 1),
            (one_behavior, 2),
            (two_behaviors, 1),
            (two_behaviors, 2),
        ],
        sigma,
    )
    domain = {x: (0.05, 3.0), zeta: (1e-6, 0.2), alpha: (0.3, 3.0), n: (1, 40)}

    # sub-Gaussian: Chernoff
    chernoff = 2 * sp.exp(-lam * x + lam**2 * sigma_psi**2 / (2 * n))

    def minimiser(size: Any) -> sp.Expr:
        exponent = sp.expand_log(sp.log(chernoff.xreplace({n: size}) / 2), force=True)
        (root,) = sp.solve(sp.diff(exponent, lam), lam)
        return root

    sub_gaussian_laws = _tail_instances(
        "Y_i normal N(0, sigma_psi^2) (the sub-Gaussian bound is attained) and Y_i = sigma_psi r_i "
        "(Rademacher, Hoeffding), n in (1, 2, 3); lambda_* = the stationary point of the exponent",
        lambda: [
            (law, {n: k, lam: minimiser(k)})
            for k in (1, 2, 3)
            for law in (gaussian_sample(k, sigma_psi), rademacher_sample(k, sigma_psi))
        ],
    )
    sub_gaussian = chain(
        "sub-Gaussian tail",
        Prob(deviation >= scale * x),
        [
            (
                "=",
                Prob(sp.Abs(Ybar) >= x),
                (
                    r"$\hat{\mathbb{E}}[h_1 \mid b] - \mathbb{E}[h_1 \mid b] = -2\eta\beta^2\phi'(0)\langle\hat g - \bar "
                    r"m, m_b\rangle = -2\eta\beta^2\phi'(0)\|m_b\|\bar Y$"
                ),
                events,
            ),
            ("=", Prob(Ybar >= x) + Prob(-Ybar >= x), r"disjoint events ($x > 0$)", sub_gaussian_laws),
            (
                "<=",
                sp.exp(-lam * x) * Expect(sp.exp(lam * Ybar)) + sp.exp(-lam * x) * Expect(sp.exp(-lam * Ybar)),
                r"Markov's inequality for $e^{\pm\lambda_*\bar Y}$, $\lambda_* > 0$",
                sub_gaussian_laws,
            ),
            (
                "=",
                sp.exp(-lam * x) * sp.Product(Expect(sp.exp(lam * Y[i_] / n)), (i_, 1, n))
                + sp.exp(-lam * x) * sp.Product(Expect(sp.exp(-lam * Y[i_] / n)), (i_, 1, n)),
                r"$\bar Y = \frac1n\sum_i Y_i$ with independent $Y_i$",
                sub_gaussian_laws,
            ),
            (
                "<=",
                chernoff,
                r"sub-Gaussian $Y_i$: $\mathbb{E}e^{\pm\lambda Y_i/n} \le e^{\lambda^2\sigma_\psi^2/(2n^2)}$ (A6)",
                sub_gaussian_laws,
            ),
            (
                "=",
                2 * sp.exp(-n * x**2 / (2 * sigma_psi**2)),
                r"at the minimiser $\lambda_* = n x/\sigma_\psi^2$ of the exponent",
                Instances("lambda_* = the stationary point of the exponent, n symbolic", lambda: [{lam: minimiser(n)}]),
            ),
        ],
        domain=domain,
        prose=r"for every $x > 0$.",
    )
    radius_sg = sigma_psi * sp.sqrt(2 * sp.log(2 / zeta) / n)
    bound_sg = sp.Mul(
        2,
        sp.exp(
            sp.Mul(-1, n, sp.Pow(radius_sg, 2, evaluate=False), sp.Pow(2 * sigma_psi**2, -1), evaluate=False),
            evaluate=False,
        ),
        evaluate=False,
    )
    exact = [(_Mixture.symbolic(), k) for k in (1, 2, 3)]
    exact_gaussian = _event_instances(loss, exact, sigma_psi)
    sub_gaussian_radius = _radius_claim(
        "sub-Gaussian",
        deviation >= scale * radius_sg,
        bound_sg,
        r"\sigma_\psi\sqrt{2\log(2/\zeta)/n}",
        Instances(
            "exact Gaussian class noise, s g normal N(m_b, sigma_psi^2 I), K = 1, n in (1, 2, 3)",
            lambda: exact_gaussian.bindings,
        ),
        r"$\log$ and $\exp$ cancel",
        domain,
    )

    # alpha-subexponential: Chebyshev and the psi_alpha moment
    rho_ = sp.Symbol("c_R", positive=True)
    moments = _tail_instances(
        "Y_i normal N(0, sigma^2) and Y_i = c r_i (Rademacher), n in (1, 2); Y_1 Laplace(b)",
        lambda: (
            [(law, {n: k}) for k in (1, 2) for law in (gaussian_sample(k, sigma), rademacher_sample(k, rho_))]
            + [(laplace_sample(), {n: 1})]
        ),
    )

    def psi_laws() -> list[tuple[_Law, dict]]:
        out = []
        for law, order in (
            (gaussian_sample(1, sigma), sp.Integer(2)),
            (rademacher_sample(1, rho_), alpha),
            (laplace_sample(), sp.Integer(1)),
        ):
            out.append((law, {alpha: order, K_psi: _psi_norm(law, order)}))
        return out

    psi = _tail_instances(
        "K_psi = psi_alpha norm of Y_1 exactly (E exp((|Y|/K)^alpha) = 2): N(0, sigma^2) with alpha = 2, "
        "Rademacher c r with any alpha, Laplace(b) with alpha = 1",
        psi_laws,
    )
    tail = Prob(sp.Abs(Y[1]) > u)
    sub_exponential = chain(
        "alpha-subexponential tail",
        Prob(deviation >= scale * x),
        [
            ("=", Prob(sp.Abs(Ybar) >= x), "the same events as in claim (sub-Gaussian tail)", events),
            ("<=", Expect(Ybar**2) / x**2, r"Chebyshev's inequality ($\mathbb{E}\bar Y = 0$)", moments),
            ("=", Expect(Y[1] ** 2) / (n * x**2), r"independent, mean-zero, identically distributed $Y_i$", moments),
            (
                "=",
                sp.Integral(2 * u * tail, (u, 0, sp.oo)) / (n * x**2),
                r"$\mathbb{E}Y^2 = \int_0^\infty 2u\,\mathbb{P}(|Y| > u)\,du$",
                moments,
            ),
            (
                "<=",
                sp.Integral(
                    2 * u * sp.exp(-((u / K_psi) ** alpha)) * Expect(sp.exp((sp.Abs(Y[1]) / K_psi) ** alpha)),
                    (u, 0, sp.oo),
                )
                / (n * x**2),
                r"Markov's inequality for $e^{(|Y_1|/K_\psi)^\alpha}$",
                psi,
            ),
            (
                "<=",
                sp.Integral(4 * u * sp.exp(-((u / K_psi) ** alpha)), (u, 0, sp.oo)) / (n * x**2),
                r"$\|Y_1\|_{\psi_\alpha} \le K_\psi$: $\mathbb{E}e^{(|Y_1|/K_\psi)^\alpha} \le 2$ (A6)",
                psi,
            ),
            (
                "=",
                2 * sp.gamma(1 + 2 / alpha) * K_psi**2 / (n * x**2),
                r"the integral, $\frac{2}{\alpha}\Gamma(\frac{2}{\alpha}) = \Gamma(1 + \frac{2}{\alpha})$",
                NO_OBJECTS,
            ),
        ],
        domain=domain,
        prose=r"for every $x > 0$.",
    )
    radius_se = K_psi * sp.sqrt(2 * sp.gamma(1 + 2 / alpha) / (n * zeta))
    bound_se = sp.Mul(
        2,
        sp.gamma(1 + 2 / alpha),
        K_psi**2,
        sp.Pow(sp.Mul(n, sp.Pow(radius_se, 2, evaluate=False), evaluate=False), -1, evaluate=False),
        evaluate=False,
    )

    def gaussian_psi2(size: int) -> dict:
        return {alpha: sp.Integer(2), K_psi: _psi_norm(gaussian_sample(1, sigma_psi), sp.Integer(2))}

    exact_gaussian_psi = _event_instances(loss, exact, sigma_psi, gaussian_psi2)
    sub_exponential_radius = _radius_claim(
        "alpha-subexponential",
        deviation >= scale * radius_se,
        bound_se,
        r"K_\psi\sqrt{2\Gamma(1 + 2/\alpha)/(n\zeta)}",
        Instances(
            "exact Gaussian class noise, K = 1, n in (1, 2, 3), alpha = 2, K_psi = psi_2 norm of N(0, sigma_psi^2)",
            lambda: exact_gaussian_psi.bindings,
        ),
        "algebra",
        domain,
    )
    return [sub_gaussian, sub_gaussian_radius, sub_exponential, sub_exponential_radius]


def _radius_claim(
    tail: str,
    event: sp.Basic,
    bound: sp.Expr,
    radius: str,
    instances: Instances,
    algebra: str,
    domain: Mapping[sp.Symbol, tuple[float, float]],
) -> Claim:
    r"""Claim ``<tail> radius``: the probability of ``event`` (the deviation beyond the confidence
    radius) is at most ``bound``, claim ``<tail> tail`` at :math:`x` = ``radius`` (LaTeX) on
    ``instances``, and ``bound`` is :math:`\zeta` by ``algebra``."""
    return chain(
        f"{tail} radius",
        Prob(event),
        [
            ("<=", bound, rf"claim ({tail} tail) at $x = {radius}$", instances),
            ("=", zeta, algebra, NO_OBJECTS),
        ],
        domain=domain,
        prose=r"With probability at least $1 - \zeta$ over the training set, the step's mean margin is within this "
        r"radius of its population value.",
    )


# --------------------------------------------------------------------------- theorem


def build(loss: Loss) -> Theorem:
    dphi0 = loss.bind(loss.dphi_at_zero)
    claims = [_first_step(loss), _margin_growth(loss), _finite_n(loss), _orthogonal(loss)]
    notes = []
    if _sign_of(dphi0) in (1, -1):
        claims += _concentration(loss)
    else:
        notes.append(
            r"The concentration claims are omitted: $\phi'(0) = 0$ for this loss, so the first step is "
            r"zero and the deviation is identically zero."
        )
    notation = {
        **meanings(eta, beta, n),
        **loss_parameters(loss),
        EW1: r"is entry $(i, j)$ of the expected first update $W_1 - W_{\mathrm{ref}}$ of the head, the expectation "
        r"taken over the data law",
        (i_, j_): r"index the rows (answers) and columns of $W$",
        K: MEANINGS[K],
        p[b_]: MEANINGS[p[b_]],
        q[b_]: POSITIVE_FRACTION_MEANING,
        eps[b_]: r"is the label-flip rate of behaviour $b$",
        (
            mu_p[b_, j_],
            mu_m[b_, j_],
        ): r"are coordinate $j$ of the class means $\mu_b^\pm = \mathbb{E}[g \mid b, \text{true label} \pm]$",
        b_: MEANINGS[b_],
        EH: r"is the mean margin of a fresh sample of behaviour $b$ after one population GD step from "
        r"$W_{\mathrm{ref}}$",
        Omega[bp, b_]: MEANINGS[Omega[bp, b_]],
        EH_bar: r"is the expected mean margin over behaviour $b$'s $n_b = p_b n$ training samples after one "
        r"full-batch GD step from $W_{\mathrm{ref}}$",
        S[b_]: r"is the second moment $\mathbb{E}[\|g\|^2 \mid b]$ of behaviour $b$'s embeddings",
        delta[b_]: r"is the distinguishability vector $\mu_b^+ - \mu_b^-$ of behaviour $b$",
        SqNorm(delta[b_]): r"is its squared Euclidean norm",
    }
    if len(claims) > 4:
        notation.update(
            {
                Prob(Atom("A")): r"is the probability of the event $A$ over the draw of the training set",
                EH_hat: r"is the mean margin of a fresh sample of behaviour $b$ after one full-batch GD step from "
                r"$W_{\mathrm{ref}}$ on the $n$ training samples",
                m_b: r"is the signed class mean $\mathbb{E}[s g \mid b]$",
                Norm(Atom("v")): EUCLIDEAN_NORM_MEANING,
                x: r"is a deviation level",
                sigma_psi: r"is the sub-Gaussian parameter of the projected features $Y_i$ (A6)",
                zeta: r"is the failure probability, $0 < \zeta < 1$",
                K_psi: r"bounds the $\psi_\alpha$ norm of the projected features $Y_i$ (A6)",
                alpha: TAIL_EXPONENT_MEANING,
            }
        )
    return Theorem(
        id="update-rate",
        title="Update rate of the first step from the reference",
        assumptions=[
            Assumption(
                "mixture",
                r"$(b, s, g)$: behaviour $b$ w.p. $p_b$; the preferred answer is response $1$ w.p. $q_b$, then the "
                r"label is flipped w.p. $\epsilon_b$, and $s = +1$ iff the (observed) preferred answer is response "
                r"$1$; $\mathbb{E}[g \mid b, \text{true label} \pm] = \mu_b^\pm$, $\delta_b = \mu_b^+ - \mu_b^-$.",
            ),
            Assumption(
                "start",
                r"$W_0 = W_{\mathrm{ref}}$ and one GD step of size $\eta$, on $\mathbb{E}\,\phi(h)$ (population) or "
                r"on the mean loss of a training set (full batch).",
            ),
            Assumption(
                "two responses",
                r"the responses are tokens $1$ and $2$ of a $V$-way softmax head $\pi_W(y \mid x) = "
                r"\operatorname{softmax}(W g)_y$ on a frozen embedding $g$.",
            ),
            Assumption(
                "stratified set",
                r"(claim finite-n self-term) the training set has $n_b = p_b n$ independent samples of behaviour $b$.",
            ),
            Assumption(
                "i.i.d. set",
                r"(concentration claims) the $n$ training samples are i.i.d. from the mixture, $\hat g = "
                r"\frac1n\sum_i s_i g_i$, $\bar m = \sum_b p_b m_b$, $Y_i = \langle s_i g_i - \bar m, "
                r"m_b/\|m_b\|\rangle$ with $m_b \neq 0$, $\bar Y = \frac1n\sum_i Y_i$; and $\phi'(0) \neq 0$.",
            ),
            Assumption(
                "tails",
                r"(sub-Gaussian claims) $\mathbb{E}e^{\lambda Y_i} \le e^{\lambda^2\sigma_\psi^2/2}$ for all real "
                r"$\lambda$; (alpha-subexponential claims) $\|Y_i\|_{\psi_\alpha} \le K_\psi$, i.e. "
                r"$\mathbb{E}e^{(|Y_i|/K_\psi)^\alpha} \le 2$.",
            ),
            Assumption(
                "balanced orthogonal",
                r"(claim orthogonal balanced) $q_b = \frac12$, $\epsilon_b = 0$ for every $b$ and $\langle\delta_b, "
                r"\delta_{b'}\rangle = 0$ for $b \neq b'$.",
            ),
        ],
        claims=claims,
        summary=rf"Let $\phi'(0) = {sp.latex(dphi0)}$ (loss {loss.name}).",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"Im \& Li (2024), Theorem 4.1: the first-step update for DPO in the balanced orthogonal case, "
            r"$\frac14\eta\beta^2 p_b\|\delta_b\|^2$ (claim orthogonal balanced with $\phi'(0) = -\frac12$). "
            r"The general-$\phi$ first step, label flips, the general Gram form $\Omega$, the finite-$n$ self-term "
            r"and the checks on concrete heads are prefdyn's. The concentration claims are in the spirit of Im \& Li "
            r"(2024), "
            r"whose guarantees assume sub-Gaussian or $\alpha$-subexponential features; their Chernoff and Chebyshev "
            r"derivations and constants are prefdyn's."
        ),
    )
