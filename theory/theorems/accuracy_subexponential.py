r"""``accuracy-subexponential``: a lower bound on the reward accuracy for :math:`\alpha`-subexponential classes.

Let the class deviations be :math:`\alpha`-subexponential along every direction:
:math:`\|u^\top(g - \mu_b^\pm)\|_{\psi_\alpha} \le K_b\|u\|` for all :math:`u`, where
:math:`\|X\|_{\psi_\alpha} = \inf\{k > 0 : \mathbb E\,e^{(|X|/k)^\alpha} \le 2\}`, so that
:math:`\Pr(|X| \ge x) \le 2e^{-(x/\|X\|_{\psi_\alpha})^\alpha}` (Markov). With
:math:`h = \beta s\Delta^\top g`,

.. math::
   \operatorname{Acc}_b(\Delta) \ge 1
   - 2q_b\exp\!\Big[-\Big(\frac{(\Delta^\top\mu_b^+)_+}{K_b\|\Delta\|}\Big)^{\alpha}\Big]
   - 2(1-q_b)\exp\!\Big[-\Big(\frac{(-\Delta^\top\mu_b^-)_+}{K_b\|\Delta\|}\Big)^{\alpha}\Big].

**One step** (balanced, offsets orthogonal to every :math:`\delta`; population GD from
:math:`W_{\rm ref}`, :math:`\Delta_1 = \eta\beta(-\phi'(0))\sum_j p_j\delta_j` with the loss's own
:math:`\phi'(0)`): for :math:`\phi'(0) < 0`,
:math:`\operatorname{Acc}_b(\Delta_1) \ge 1 - 2\exp[-((\sum_j p_jG_{bj})_+ / (2K_b\sqrt{p^\top Gp}))^\alpha]`;
for :math:`\phi'(0) > 0` (DiscoPOP) the first step points along :math:`-\sum_j p_j\delta_j` and the
bound has :math:`(-\sum_j p_jG_{bj})_+` instead (vacuous, :math:`-1`, for every behaviour aligned
with the mixture); for :math:`\phi'(0) = 0` the claim is omitted.

**t steps.** Let :math:`v = \Delta_1 = 2\eta\beta(-\phi'(0))\,\mathbb E[sg]` (the first step, with the
loss's value), :math:`L_2 = \sup_h|\phi''(h)|`, :math:`\varepsilon = 2\eta\beta^2L_2\lambda_{\max}(\mathbb E[gg^\top])`
and :math:`R_t = ((1+\varepsilon)^t - 1 - t\varepsilon)/(t\varepsilon)`. Because
:math:`|\phi'(h) - \phi'(0)| \le L_2|h|` and
:math:`\mathbb E|\Delta^\top g||u^\top g| \le \lambda_{\max}\|\Delta\|\|u\|`,
each population step satisfies :math:`\|\Delta_{k+1} - \Delta_k - v\| \le \varepsilon\|\Delta_k\|`; by
induction :math:`\|\Delta_k\| \le \|v\|((1+\varepsilon)^k - 1)/\varepsilon` (claim growth) and
:math:`\|\Delta_t - tv\| \le R_t\,t\|v\|` (claim remainder). Hence

.. math::
   \operatorname{Acc}_b(\Delta_t) \ge 1
   - 2q_b\exp\!\Big[-\Big(\frac{(v^\top\mu_b^+/\|v\| - R_t\|\mu_b^+\|)_+}{K_b(1+R_t)}\Big)^{\alpha}\Big]
   - 2(1-q_b)\exp\!\Big[-\Big(\frac{(-v^\top\mu_b^-/\|v\| - R_t\|\mu_b^-\|)_+}{K_b(1+R_t)}\Big)^{\alpha}\Big].

Being written with :math:`v` (whose direction carries the sign of :math:`-\phi'(0)`), this holds for
either sign of :math:`\phi'(0) \ne 0`; it needs :math:`L_2 < \infty` (omitted with a note for the
hinge, whose :math:`\phi'` jumps). :math:`R_1 = 0` recovers the one-step bound. The bound weakens as
:math:`t, \eta, \beta` or the spread grow: accuracy itself is scale-free in :math:`\Delta` and need
not increase along training (``priority``), so a true bound cannot be increasing in
:math:`t, \eta, \beta` in general.

What is checked: the displays are written with matrix symbols and indexed families
(:class:`~prefdyn.theory.theorems._traj.MatrixScalar`); the defined objects are computed exactly on
a two-point noise law (:math:`g = \mu_b^s \pm \xi_b^s`, for which
:math:`K_b = \max_s\|\xi_b^s\|/(\log 2)^{1/\alpha}` satisfies the hypothesis), :math:`\Delta_1` from
the loss's own gradient through a 2-way head (``accuracy-gaussian``), and the growth and remainder
bounds on worst-case iterates allowed by their hypotheses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..losses import Loss
from ..model import DIMENSION as d
from ..model import vector
from ..symbols import beta, eta, meanings, t
from ._notation import STEP_INDEX_MEANING, TAIL_EXPONENT_MEANING, loss_parameters
from ._traj import MatrixNorm, bilinear, dot, norm, positive_part
from .accuracy_gaussian import (
    DIRECTION,
    Delta,
    Delta_1,
    Delta_t,
    G,
    K,
    _as_column,
    _first_step_bindings,
    acc,
    b,
    j,
    mu_m,
    mu_p,
    p,
    q,
    shared_notation,
)
from .accuracy_gaussian import k as gk

alpha = sp.Symbol(r"\alpha", positive=True)
K_b = sp.Symbol("K_b", positive=True)
eps = sp.Symbol(r"\varepsilon", positive=True)
R_t = Atom(r"R_t")
v = sp.MatrixSymbol("v", d, 1)
Dk = sp.IndexedBase(r"\Delta")
k = sp.Symbol("k", nonnegative=True, integer=True)
pr_p = Atom(r"\Pr(\Delta^\top g \le 0 \mid b, +)")
pr_m = Atom(r"\Pr(\Delta^\top g \ge 0 \mid b, -)")
T_p, T_m = sp.Function(r"T_b^+"), sp.Function(r"T_b^-")
M_p, M_m = sp.Function(r"M_b^+"), sp.Function(r"M_b^-")

_alpha = sp.Symbol("alpha", positive=True)
_x, _y = sp.Symbol("x", nonnegative=True), sp.Symbol("y", positive=True)  # arguments in the where-clause
_eps = sp.Symbol("eps", positive=True)
DOMAIN = {_alpha: (0.3, 3.0)}


def _tail(x: sp.Expr, scale: sp.Expr) -> sp.Expr:
    return sp.exp(-((x / scale) ** alpha))


def bound_display(D: sp.MatrixExpr, qq: sp.Expr = q) -> sp.Expr:
    r"""The printed bound at :math:`D`: :math:`1 - 2q_be^{-(\cdot)^\alpha} - 2(1-q_b)e^{-(\cdot)^\alpha}`."""
    scale = K_b * MatrixNorm(D)
    return (
        1
        - 2 * qq * _tail(positive_part(bilinear(D, mu_p)), scale)
        - 2 * (_tail(positive_part(-bilinear(D, mu_m)), scale) * (1 - qq))
    )  # keeps 2(1 - q_b) whole


def _split_bound(plus: sp.Expr, minus: sp.Expr, scale: sp.Expr) -> sp.Expr:
    r""":math:`q_b(1 - 2e^{-(x_+/k)^\alpha}) + (1-q_b)(1 - 2e^{-(x_-/k)^\alpha})`."""
    return q * (1 - 2 * _tail(plus, scale)) + (1 - q) * (1 - 2 * _tail(minus, scale))


# -------------------------------------------------------- two-point (Rademacher) noise law

TWO_POINT = "d = 2, two-point noise g = mu_b^s +- xi_b^s, K_b = max|xi| / (log 2)^(1/alpha)"


def _two_point_laws() -> list[dict]:
    r""":math:`g = \mu_b^s + r\xi_b^s`, :math:`r = \pm1` equiprobable: :math:`|u^\top(g - \mu_b^s)| =
    |u^\top\xi_b^s|` is constant, so its :math:`\psi_\alpha` norm is
    :math:`|u^\top\xi_b^s|/(\log 2)^{1/\alpha} \le \|u\|\max_s\|\xi_b^s\|/(\log 2)^{1/\alpha} = K_b\|u\|`.
    The accuracy, the two error probabilities, the tail functions and the Orlicz moments are exact
    finite sums over the law."""
    D = vector("D", 2)
    mus = {1: vector("mup", 2), -1: vector("mum", 2)}
    xis = {1: vector("xip", 2), -1: vector("xim", 2)}
    weights = {1: q, -1: 1 - q}
    matrices = {Delta: D, Delta_1: D, Delta_t: D, mu_p: mus[1], mu_m: mus[-1]}

    def accuracy(arg: Any) -> sp.Expr:
        Dv = _as_column(arg, matrices)
        return sum(
            weights[s] * sp.Rational(1, 2) * sp.Heaviside(beta * s * dot(Dv, mus[s] + r * xis[s]), 0)
            for s in (1, -1)
            for r in (1, -1)
        )

    def tail(s: int) -> Callable[[sp.Expr], sp.Expr]:  # Pr(|Delta^T (g - mu)| >= x | b, s)
        return lambda x: sum(sp.Rational(1, 2) * sp.Heaviside(sp.Abs(r * dot(D, xis[s])) - x, 1) for r in (1, -1))

    def moment(s: int) -> Callable[[sp.Expr], sp.Expr]:  # E exp((|Delta^T (g - mu)| / k)^alpha)
        return lambda scale: sum(
            sp.Rational(1, 2) * sp.exp((sp.Abs(r * dot(D, xis[s])) / scale) ** _alpha) for r in (1, -1)
        )

    return [
        {
            **matrices,
            alpha: _alpha,
            K_b: sp.Max(norm(xis[1]), norm(xis[-1])) / sp.log(2) ** (1 / _alpha),
            acc: accuracy,
            pr_p: sum(sp.Rational(1, 2) * sp.Heaviside(-dot(D, mus[1] + r * xis[1]), 1) for r in (1, -1)),
            pr_m: sum(sp.Rational(1, 2) * sp.Heaviside(dot(D, mus[-1] + r * xis[-1]), 1) for r in (1, -1)),
            T_p: tail(1),
            T_m: tail(-1),
            M_p: moment(1),
            M_m: moment(-1),
        }
    ]


# ------------------------------------------------------------------------ iterates


def _angle(name: str) -> sp.Matrix:
    r"""A unit vector of :math:`\mathbb R^2` in the rational parametrisation
    :math:`((1-\tau^2), 2\tau)/(1+\tau^2)` (every direction but one; no trigonometry to simplify)."""
    a = sp.Symbol(name, real=True)
    return sp.Matrix([1 - a**2, 2 * a]) / (1 + a**2)


_kappas = [sp.Symbol(f"kappa_{i}", nonnegative=True) for i in range(6)]
ITERATE_DOMAIN = {**{x: (0.0, 1.0) for x in _kappas}, _eps: (0.01, 1.0)}


def _v() -> sp.Matrix:
    r""":math:`v = \|v\|e_1`: every claim here is invariant under rotations, so this loses no generality."""
    return sp.Matrix([sp.Symbol("nv", positive=True), 0])


def _growth_bindings() -> list[dict]:
    r"""Worst cases of the induction step: :math:`\|\Delta_k\|` anywhere up to the hypothesis'
    bound, and :math:`\Delta_{k+1} = \Delta_k + v + e` with any :math:`\|e\| \le \varepsilon\|\Delta_k\|`."""
    vv = _v()
    bound_k = norm(vv) * ((1 + _eps) ** k - 1) / _eps
    now = _kappas[0] * bound_k * _angle("psi")
    nxt = now + vv + _eps * _kappas[1] * norm(now) * _angle("omega")
    return [{eps: _eps, v: vv, Dk: lambda i: sp.ImmutableMatrix(now if i == k else nxt)}]


def _iterates(steps: int) -> list[sp.Matrix]:
    r""":math:`\Delta_0 = 0`, :math:`\Delta_{k+1} = \Delta_k + v + e_k` with
    :math:`\|e_k\| = \kappa_k\varepsilon\|\Delta_k\|`, :math:`\kappa_k \in [0, 1]` (worst cases allowed)."""
    vv = _v()
    out = [sp.zeros(2, 1)]
    for i in range(steps):
        out.append(out[-1] + vv + _eps * _kappas[i] * norm(out[-1]) * _angle(f"omega_{i}"))
    return out


def _remainder_bindings() -> list[dict]:
    out = []
    for steps in (1, 2, 3):
        its = _iterates(steps)
        out.append(
            {t: steps, eps: _eps, v: _v(), Delta_t: its[-1], Dk: lambda i, its=its: sp.ImmutableMatrix(its[int(i)])}
        )
    return out


def _remainder_closed() -> list[dict]:
    return [{eps: _eps, v: _v(), R_t: ((1 + _eps) ** t - 1 - t * _eps) / (t * _eps)}]


_tt, _rho = sp.Symbol("tt", positive=True), sp.Symbol("rho", nonnegative=True)
T_DOMAIN = {**DOMAIN, _rho: (0.0, 0.9), _tt: (0.5, 20.0), _kappas[0]: (0.0, 1.0)}


def _t_step_bindings() -> list[dict]:
    r"""Every :math:`\Delta_t` allowed by :math:`\|\Delta_t - tv\| \le R_t\,t\|v\|`:
    :math:`\Delta_t = t(v + \kappa R_t\|v\|(\cos\psi, \sin\psi))`, :math:`\kappa \in [0, 1]`,
    general means; :math:`R_t \in [0, 0.9]`."""
    vv = _v()  # rotation invariance: v along e_1, general means
    Dt = _tt * (vv + _kappas[0] * _rho * norm(vv) * _angle("psi"))
    return [
        {
            Delta_t: Dt,
            v: vv,
            R_t: _rho,
            mu_p: vector("mup", 2),
            mu_m: vector("mum", 2),
            alpha: _alpha,
            K_b: sp.Symbol("K_1", positive=True),
        }
    ]


ONE_STEP_CASES = ((1, 1), (2, 2), (3, 1))  # (K, b): one behaviour per K keeps the numeric check short


def _one_step_bindings(loss: Loss) -> Callable[[], list[dict]]:
    first = _first_step_bindings(loss)
    return lambda: [{**binding, alpha: _alpha} for binding in first() if (binding[K], binding[b]) in ONE_STEP_CASES]


# ------------------------------------------------------------------------ claims


def _has_t_steps(loss: Loss) -> bool:
    r"""Whether claims t steps, growth and remainder hold for ``loss``: they need a first step
    (:math:`\phi'(0) \ne 0`) and a finite :math:`L_2` (:attr:`~prefdyn.theory.losses.Loss.smoothness`)."""
    return bool(loss.smoothness.is_finite) and loss.dphi_at_zero_sign != 0


def _claims(loss: Loss) -> tuple[list[Claim], list[str]]:
    value = loss.bind(loss.dphi_at_zero)
    sign = int(loss.dphi_at_zero_sign)
    L2 = loss.smoothness
    law = Instances(TWO_POINT, _two_point_laws)
    scale = K_b * MatrixNorm(Delta)
    x_p, x_m = positive_part(bilinear(Delta, mu_p)), positive_part(-bilinear(Delta, mu_m))
    main = chain(
        "bound",
        acc(Delta),
        [
            ("=", 1 - q * pr_p - (1 - q) * pr_m, r"complement; $h = \beta s\Delta^\top g$ with $\beta > 0$"),
            (
                ">=",
                1 - q * T_p(x_p) - (1 - q) * T_m(x_m),
                (
                    r"$\Delta^\top g \le 0$ given $(b, +)$ means $X_b^+ \le -\Delta^\top\mu_b^+$, so $|X_b^+| \ge "
                    r"(\Delta^\top\mu_b^+)_+$; likewise for $-$"
                ),
            ),
            (
                ">=",
                1 - q * _tail(x_p, scale) * M_p(scale) - (1 - q) * _tail(x_m, scale) * M_m(scale),
                r"Markov's inequality for $e^{(|X_b^\pm|/k)^\alpha}$ at $k = K_b\|\Delta\|$",
            ),
            (
                ">=",
                _split_bound(x_p, x_m, scale),
                r"(A2): $\|X_b^\pm\|_{\psi_\alpha} \le K_b\|\Delta\|$, i.e. $M_b^\pm(K_b\|\Delta\|) \le 2$",
            ),
            ("=", bound_display(Delta), r"expand"),
        ],
        instances=law,
        domain=DOMAIN,
    )
    claims, notes = [main], []
    if sign == 0:
        notes.append(
            rf"Claims one step and t steps are omitted: $\phi'(0) = {sp.latex(value)}$ is 0, so the first "
            r"population step from $W_{\mathrm{ref}}$ is $\Delta_1 = 0$ and the bound at $\Delta_1$ is not defined."
        )
    else:
        jj, kk = sp.symbols("j k", positive=True, integer=True)
        num = sp.Sum(p[jj] * G[b, jj], (jj, 1, K))
        den = 2 * K_b * sp.sqrt(sp.Sum(p[jj] * p[kk] * G[jj, kk], (jj, 1, K), (kk, 1, K)))
        final = 1 - 2 * sp.exp(-((positive_part(-sign * num) / den) ** alpha))
        direction = (
            rf"$\Delta_1 = \eta\beta(-\phi'(0))\sum_j p_j\delta_j$ with $-\phi'(0) = {sp.latex(-value)} > 0$"
            if sign < 0
            else rf"$\Delta_1 = -\eta\beta\phi'(0)\sum_j p_j\delta_j$ points along $-\sum_j p_j\delta_j$ since "
            rf"$\phi'(0) = {sp.latex(value)} > 0$"
        )
        one_step = chain(
            "one step",
            acc(Delta_1),
            [
                (
                    ">=",
                    bound_display(Delta_1),
                    r"claim bound at $\Delta = \Delta_1$",
                    Instances(TWO_POINT + " (Delta_1 generic)", _two_point_laws),
                ),
                (
                    "=",
                    final,
                    r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$, $c_b \perp \delta_j$ (A3); "
                    + direction
                    + r" (accuracy-gaussian, first step); the positive factor $\eta\beta|\phi'(0)|$ cancels",
                ),
            ],
            instances=Instances(
                "(K, b) = (1, 1), (2, 2), (3, 1) in R^(K+1): Delta_1 from the loss's gradient through a 2-way head, "
                "exact",
                _one_step_bindings(loss),
            ),
            domain=DOMAIN,
            prose=(
                ""
                if sign < 0
                else r"For this loss the bound is vacuous ($= -1$) for every behaviour aligned with the mixture "
                r"($\sum_j p_jG_{bj} \ge 0$): "
                r"the first step moves those margins the wrong way (accuracy-gaussian, one step, gives the exact "
                r"value)."
            ),
        )
        claims.append(one_step)
        if sign > 0:
            notes.append(
                rf"For this loss $\phi'(0) = {sp.latex(value)} > 0$: the first population step points along "
                r"$-\sum_j p_j\delta_j$, and the one-step bound is stated for that direction."
            )
    if _has_t_steps(loss):
        scale_t = K_b * (1 + R_t)
        theta_p = bilinear(v, mu_p) / MatrixNorm(v) - R_t * MatrixNorm(mu_p)
        theta_m = -bilinear(v, mu_m) / MatrixNorm(v) - R_t * MatrixNorm(mu_m)
        t_steps = chain(
            "t steps",
            acc(Delta_t),
            [
                (
                    ">=",
                    bound_display(Delta_t),
                    r"claim bound at $\Delta = \Delta_t$",
                    Instances(TWO_POINT + " (Delta_t generic)", _two_point_laws),
                ),
                (
                    ">=",
                    _split_bound(positive_part(theta_p), positive_part(theta_m), scale_t),
                    (
                        r"claim remainder: $\pm\Delta_t^\top\mu_b^\pm \ge t(\pm v^\top\mu_b^\pm - "
                        r"R_t\|v\|\|\mu_b^\pm\|)$ and "
                        r"$\|\Delta_t\| \le t\|v\|(1 + R_t)$; the bound increases with the ratio"
                    ),
                ),
                (
                    "=",
                    1
                    - 2 * q * _tail(positive_part(theta_p), scale_t)
                    - 2 * (_tail(positive_part(theta_m), scale_t) * (1 - q)),
                    r"expand",
                ),
            ],
            instances=Instances(
                "d = 2: every Delta_t with ||Delta_t - t v|| <= R_t t ||v||, R_t in [0, 0.9], general means",
                _t_step_bindings,
            ),
            domain=T_DOMAIN,
            prose=r"with $R_1 = 0$ at $t = 1$.",
        )
        growth = chain(
            "growth",
            MatrixNorm(Dk[k + 1]),
            [
                (
                    "<=",
                    (1 + eps) * MatrixNorm(Dk[k]) + MatrixNorm(v),
                    (
                        r"$\|\Delta_{k+1} - \Delta_k - v\| \le \varepsilon\|\Delta_k\|$ ($|\phi'(h) - \phi'(0)| \le "
                        r"L_2|h|$) and the triangle inequality"
                    ),
                ),
                (
                    "<=",
                    (1 + eps) * MatrixNorm(v) * ((1 + eps) ** k - 1) / eps + MatrixNorm(v),
                    (
                        r"induction hypothesis $\|\Delta_k\| \le \|v\|((1+\varepsilon)^k - 1)/\varepsilon$ "
                        r"($\Delta_0 = 0$)"
                    ),
                ),
                ("=", MatrixNorm(v) * ((1 + eps) ** (k + 1) - 1) / eps, r"algebra"),
            ],
            instances=Instances(
                "d = 2: ||Delta_k|| anywhere up to the hypothesis, any error ||e|| <= eps ||Delta_k||", _growth_bindings
            ),
            domain=ITERATE_DOMAIN,
            prose=r"for every $k \ge 0$.",
        )
        kk = sp.Symbol("k", integer=True, nonnegative=True)
        remainder = chain(
            "remainder",
            MatrixNorm(Delta_t - t * v),
            [
                (
                    "<=",
                    eps * sp.Sum(MatrixNorm(Dk[kk]), (kk, 0, t - 1)),
                    (
                        r"$\Delta_t - tv = \sum_{k<t}(\Delta_{k+1} - \Delta_k - v)$ and each term is at most "
                        r"$\varepsilon\|\Delta_k\|$"
                    ),
                ),
                ("<=", sp.Sum(MatrixNorm(v) * ((1 + eps) ** kk - 1), (kk, 0, t - 1)), r"claim growth"),
                (
                    "=",
                    R_t * t * MatrixNorm(v),
                    r"geometric sum; $R_t = ((1+\varepsilon)^t - 1 - t\varepsilon)/(t\varepsilon)$",
                    Instances("symbolic t", _remainder_closed),
                ),
            ],
            instances=Instances(
                "t = 1, 2, 3, d = 2: every iterate sequence with ||Delta_{k+1} - Delta_k - v|| <= eps ||Delta_k||",
                _remainder_bindings,
            ),
            domain=ITERATE_DOMAIN,
        )
        claims += [t_steps, growth, remainder]
    elif sign != 0:
        notes.append(
            r"Claims t steps, growth and remainder are omitted: they need $L_2 = \sup_h|\phi''(h)| < \infty$ "
            rf"($|\phi'(h) - \phi'(0)| \le L_2|h|$), and here $L_2 = {sp.latex(L2)}$ ($\phi'$ jumps)."
        )
    return claims, notes


def build(loss: Loss) -> Theorem:
    claims, notes = _claims(loss)
    value = loss.bind(loss.dphi_at_zero)
    notation: dict[Any, str] = {
        **meanings(beta, eta),
        **loss_parameters(loss),
        **shared_notation(acc(Delta), Delta, (mu_p, mu_m), q, p[j], G[j, gk], K, b, Delta_1, Delta_t),
        Dk[k]: DIRECTION,
        alpha: TAIL_EXPONENT_MEANING,
        K_b: r"is the $\psi_\alpha$ scale of behaviour $b$: $\|u^\top(g - \mu_b^\pm)\|_{\psi_\alpha} \le K_b\|u\|$ "
        r"for every $u$",
        pr_p: r"is the probability that the margin is not positive, given behaviour $b$ and $s = +1$",
        pr_m: r"is the probability that the margin is not positive, given behaviour $b$ and $s = -1$",
        (
            T_p(_x),
            T_m(_x),
        ): r"are the tail functions $\Pr(|X_b^\pm| \ge x)$ of the projected deviations $X_b^\pm = \Delta^\top(g - "
        r"\mu_b^\pm)$ given $(b, \pm)$, at $x \ge 0$",
        (
            M_p(_y),
            M_m(_y),
        ): r"are the Orlicz moments $\mathbb{E}\,e^{(|X_b^\pm|/y)^\alpha}$ of the same deviations, at $y > 0$",
    }
    if _has_t_steps(loss):
        notation.update(
            {
                v: rf"is the first population step $v = \Delta_1 = 2\eta\beta(-\phi'(0))\,\mathbb{{E}}[sg]$ from "
                rf"$W_{{\mathrm{{ref}}}}$ (here $\phi'(0) = {sp.latex(value)}$)",
                eps: rf"is $\varepsilon = 2\eta\beta^2L_2\lambda_{{\max}}(\mathbb{{E}}[gg^\top])$ with $L_2 = "
                rf"\sup_h|\phi''(h)|$ (here $L_2 = {sp.latex(loss.smoothness)}$)",
                R_t: r"is the relative remainder $R_t = ((1+\varepsilon)^t - 1 - t\varepsilon)/(t\varepsilon)$ ($R_1 "
                r"= 0$)",
                **meanings(t),
                k: STEP_INDEX_MEANING,
            }
        )
    return Theorem(
        id="accuracy-subexponential",
        title=r"Reward-accuracy lower bound for $\alpha$-subexponential preference classes",
        assumptions=[
            Assumption(
                "head",
                r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, so $h = \beta s\Delta^\top g$ with $\beta > "
                r"0$, and $\Delta \ne 0$; behaviour $b$ has positive fraction $q_b$ and mixture weight $p_b$.",
            ),
            Assumption(
                "subexponential classes",
                r"$\|u^\top(g - \mu_b^\pm)\|_{\psi_\alpha} \le K_b\|u\|$ for all $u$, where $\|X\|_{\psi_\alpha} = "
                r"\inf\{k>0: \mathbb{E}e^{(|X|/k)^\alpha} \le 2\}$ and $\alpha > 0$.",
            ),
            Assumption(
                "balanced (claim one step)",
                r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$ with $c_b \perp \delta_j$ for all $j$, "
                r"$G_{bj} = \langle\delta_b, \delta_j\rangle$.",
            ),
            Assumption(
                "training (claims one step, t steps, growth, remainder)",
                rf"population gradient descent on $\mathbb{{E}}\,\phi(h)$ with step $\eta > 0$ from $W_0 = "
                rf"W_{{\mathrm{{ref}}}}$ ($\Delta_0 = 0$), ${loss.latex()}$ with $\phi'(0) = {sp.latex(value)}$; "
                r"claims t steps, growth and remainder also need $L_2 = \sup_h|\phi''(h)| < \infty$ and "
                r"$\mathbb{E}[sg] \ne 0$.",
            ),
        ],
        claims=claims,
        summary=r"Here $(x)_+ = \max(x, 0)$ and accuracies count strict wins ($h > 0$).",
        loss_name=loss.name,
        notes=[
            *notes,
            (
                r"The t-step bound is non-increasing in $t$, $\eta$, $\beta$ and the spread: accuracy is invariant to "
                r"the scale of $\Delta$, "
                r"the exact one-step accuracy does not depend on $\eta,\beta$ (accuracy-gaussian), and accuracy can "
                r"fall along training "
                r"(priority), so no bound increasing in $t,\eta,\beta$ holds in general."
            ),
        ],
        notation=notation,
        provenance=(
            r"Im \& Li (2024) give an accuracy guarantee for sub-Gaussian and $\alpha$-subexponential features after "
            r"the first "
            r"step of DPO; the statement for a general margin loss $\phi$ with the sign of $\phi'(0)$ taken into "
            r"account, and the "
            r"$t$-step bound through $L_2 = \sup|\phi''|$ (claims t steps, growth, remainder), are prefdyn's, in the "
            r"spirit of Im \& Li (2024)."
        ),
    )
