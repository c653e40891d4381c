r"""``priority``: behaviours compete for one preference direction.

Balanced behaviours with orthogonal :math:`\delta_b`, offsets orthogonal to every :math:`\delta` and
isotropic noise :math:`\sigma_b` share the direction :math:`\Delta = \sum_b a_b\delta_b`
(accuracy-gaussian, span), and (claim ``interference``)

.. math:: \operatorname{Acc}_b(\Delta)
          = \Phi\Big(\frac{a_bG_{bb}}{2\sigma_b\sqrt{\sum_k a_k^2G_{kk}}}\Big)
          \le \operatorname{Acc}_b(\delta_b) = \Phi\Big(\frac{\sqrt{G_{bb}}}{2\sigma_b}\Big)

(claim ``joint vs alone``, :math:`G_{bb'} = \langle\delta_b,\delta_{b'}\rangle`): learning one
behaviour adds noise to every other behaviour's margin, and no shared direction does better for
:math:`b` than :math:`b`'s own. Im & Li (2024) define the **priority level** of behaviours
:math:`i, j` by :math:`\bar b = \frac12(\delta_i+\delta_j)`, the projections
:math:`\varpi_i = \langle\bar b,\delta_i\rangle/\|\bar b\|` (their :math:`p_i`) and
:math:`\operatorname{gap}_{ij} = (\varpi_i - \varpi_j)/\max(\|\delta_i\|,\|\delta_j\|)`; for any
geometry (claim ``priority level``)

.. math:: \varpi_i - \varpi_j = \frac{\|\delta_i\|^2 - \|\delta_j\|^2}{2\|\bar b\|},

so the more distinguishable behaviour has priority.

**Ordering** (claim ``ordering``, an induction step). With equal :math:`\sigma_b = \sigma`, the
means :math:`\nu_b(t) = \Delta_t^\top\delta_b/2 = a_b(t)G_{bb}/2` of :math:`z = s\Delta_t^\top g`
share one standard deviation :math:`r_t = \sigma\|\Delta_t\|` and population GD (population-flow)
gives :math:`\nu_b(t+1) = (1 - c_t)\nu_b(t) + \tfrac12\eta\beta p_bG_{bb}A(\nu_b(t), r_t)`,
:math:`c_t = 2\eta\beta^2\sum_k p_k\sigma_k^2B(\nu_k(t), r_t)`. For a pair :math:`(b, b')` (the
priority level's :math:`(i, j)`; the letters :math:`i, j` index entries of :math:`W` elsewhere in the
catalogue), if :math:`p_bG_{bb} \ge p_{b'}G_{b'b'}`, :math:`\phi' \le 0`, :math:`\phi'' \le L_2` and
:math:`\eta \le \eta_{\max} = 1/(\beta^2L_2(2\sigma^2 + \frac12\max_k p_kG_{kk}))`, then
:math:`\nu_b(t) \ge \nu_{b'}(t)` implies :math:`\nu_b(t+1) \ge \nu_{b'}(t+1)`; from :math:`a(0) = 0`,
by induction :math:`\operatorname{Acc}_b(t) = \Phi(\nu_b(t)/r_t) \ge \operatorname{Acc}_{b'}(t)` for every :math:`t`.
Printed only for losses that satisfy the hypotheses (DPO, rDPO, ...); omitted with a note where
:math:`\phi'` changes sign (IPO, cDPO, EXO, DiscoPOP) or :math:`\phi''` has a point mass (hinge).

**Fixed point** (claim ``fixed point``). A fixed point :math:`a^*` of population GD,
:math:`a_b^* = (1 - c^*)a_b^* + \eta\beta p_bA_b^*`, satisfies
:math:`a_b^* = p_bA_b^*/(2\beta\sum_k p_k\sigma_k^2B_k^*)` (when the sum is not 0), with
:math:`A_b^*, B_b^*` the expectations at :math:`a^*`. the worked example
(:math:`\|\delta\| = 3, 1`, :math:`p = \frac12`, :math:`\sigma = \beta = 1`, :math:`\eta = 2`):
0.9226/0.5628 after one step, 0.8972/0.6058 at the joint fixed point, 0.9332/0.6915 alone
(``prefdyn predict``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import sympy as sp
from sympy.core.function import UndefinedFunction

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain, realise
from ..functions import Phi
from ..losses import Loss
from ..model import vector
from ..symbols import beta, eta, h, meanings, t
from ._notation import K, b
from ._notation import b_prime as b2
from ._notation import p as p_
from ._traj import dot, norm
from .accuracy_gaussian import Delta, G, acc, delta_b, j, k, shared_notation, sig
from .accuracy_gaussian import a as a_
from .population_flow import (
    AB_MEANING,
    DIGITS,
    DIMENSION_MEANING,
    NU_R_MEANING,
    A,
    B,
    d,
    loss_moments,
    normal_expectation,
    nu,
    r,
)

#: the pair (b, b') of the ordering: the priority level's (i, j) (the letters i, j index entries of W elsewhere)
i, j_ = b, b2
varpi_i, varpi_j = sp.Symbol(r"\varpi_i", real=True), sp.Symbol(r"\varpi_j", real=True)
bbar_norm = sp.Symbol(r"\|\bar b\|", positive=True)
norm_i, norm_j = sp.Symbol(r"\|\delta_i\|", positive=True), sp.Symbol(r"\|\delta_j\|", positive=True)


def _nu_latex(self: sp.Basic, printer: sp.printing.latex.LatexPrinter) -> str:
    index, time = self.args
    shown = "t+1" if time == t + 1 else printer._print(time)
    return rf"\nu_{{{printer._print(index)}}}({shown})"


#: nu_k(t) for a summation index k (the named nu_b(t), ... below are its values at the pair b, b').
nu_fn = UndefinedFunction("nu", __dict__={"_latex": _nu_latex})
nu_i, nu_j = sp.Symbol(r"\nu_b(t)", real=True), sp.Symbol(r"\nu_{b'}(t)", real=True)
nu_i_next, nu_j_next = sp.Symbol(r"\nu_b(t+1)", real=True), sp.Symbol(r"\nu_{b'}(t+1)", real=True)
r_t = Atom("r_t")
B_bar = sp.Symbol(r"\bar B", real=True)
a_star, A_star, B_star = sp.IndexedBase("a^{*}"), sp.IndexedBase("A^{*}"), sp.IndexedBase("B^{*}")

#: Behaviour counts of the orthogonal instances.
ORTHO_KS = (2, 3)


# --------------------------------------------------------------------------- the balanced model


def _orthogonal(Kc: int) -> dict:
    r"""``Kc`` orthogonal :math:`\delta_c = n_c e_c` in :math:`\mathbb R^{Kc+1}`, offsets
    :math:`c_c = \gamma_c e_{Kc+1}` orthogonal to every :math:`\delta`, noise scales, coefficients."""
    ns = [sp.Symbol(f"n_{c}", positive=True) for c in range(1, Kc + 1)]
    eye = sp.eye(Kc + 1)
    return {
        "n": ns,
        "delta": [n * eye[:, c] for c, n in enumerate(ns)],
        "offset": [sp.Symbol(f"gamma_{c}", real=True) * eye[:, Kc] for c in range(1, Kc + 1)],
        "sigma": [sp.Symbol(f"sigma_{c}", positive=True) for c in range(1, Kc + 1)],
        "a": [sp.Symbol(f"a_{c}", real=True) for c in range(1, Kc + 1)],
    }


def balanced_accuracy(v: sp.Matrix, delta: sp.Matrix, offset: sp.Matrix, sigma: sp.Expr) -> sp.Expr:
    r""":math:`\operatorname{Acc}_b(v) = \frac12\Pr(v^\top g > 0 \mid b, +) + \frac12\Pr(v^\top g < 0 \mid b, -)`
    for :math:`g \mid (b, \pm) \sim N(c_b \pm \delta_b/2, \sigma_b^2 I)`: :math:`v^\top g` is
    :math:`N(v^\top\mu_b^\pm, \sigma_b^2\|v\|^2)` (accuracy-gaussian, projection)."""
    plus, minus = offset + delta / 2, offset - delta / 2
    scale = sigma * norm(v)
    return Phi(dot(v, plus) / scale) / 2 + Phi(-dot(v, minus) / scale) / 2


def _accuracy_function(binding: dict, model: dict, behavior: int) -> Callable[[sp.Basic], sp.Expr]:
    """``Acc_b`` as a function of its (matrix-symbol) argument, realised in ``binding``."""

    def f(argument: sp.Basic) -> sp.Expr:
        v = sp.Matrix(
            realise(argument, {key: value for key, value in binding.items() if isinstance(key, sp.MatrixSymbol)})
        )
        return balanced_accuracy(v, model["delta"][behavior], model["offset"][behavior], model["sigma"][behavior])

    return f


def _span_instances() -> Instances:
    r""":math:`K = 2, 3` orthogonal behaviours, :math:`b = 1, 2`: :math:`\Delta = \sum_c a_c\delta_c` with
    real coefficients, the accuracies from the Gaussian law of :math:`\Delta^\top g`."""

    def build() -> list[dict]:
        out = []
        for Kc in ORTHO_KS:
            model = _orthogonal(Kc)
            D = sum((a * dl for a, dl in zip(model["a"], model["delta"])), sp.zeros(Kc + 1, 1))
            for beh in (0, 1):
                binding = {
                    Delta: D,
                    delta_b: model["delta"][beh],
                    K: Kc,
                    b: beh + 1,
                    a_: lambda c, m=model: m["a"][int(c) - 1],
                    G: lambda c, e, m=model: dot(m["delta"][int(c) - 1], m["delta"][int(e) - 1]),
                    sig: lambda c, m=model: m["sigma"][int(c) - 1],
                }
                binding[acc] = _accuracy_function(binding, model, beh)
                out.append(binding)
        return out

    return Instances("K = 2, 3 orthogonal, b = 1, 2; offsets orthogonal to every delta", build)


def _level_instances() -> Instances:
    r""":math:`d = 2, 3`, any :math:`\delta_i, \delta_j`: the authors' projections from their definition."""

    def build() -> list[dict]:
        out = []
        for dim in (2, 3):
            di, dj = vector("di", dim), vector("dj", dim)
            bbar = (di + dj) / 2
            out.append(
                {
                    varpi_i: dot(bbar, di) / norm(bbar),
                    varpi_j: dot(bbar, dj) / norm(bbar),
                    bbar_norm: norm(bbar),
                    norm_i: norm(di),
                    norm_j: norm(dj),
                }
            )
        return out

    return Instances("d = 2, 3, any geometry", build)


# --------------------------------------------------------------------------- ordering


def ordering_status(loss: Loss) -> tuple[bool, str, sp.Expr]:
    r"""``(holds, reason, L2)``: whether the ordering hypotheses hold for ``loss``: a finite
    smoothness :math:`L_2 = \sup_h|\phi''(h)|` (certified, ``loss.smoothness``; infinite when
    :math:`\phi'` jumps) and :math:`\phi' < 0` on :math:`\mathbb R` (no stationary margin and
    :math:`\phi'(0) < 0`, both certified)."""
    L2 = loss.smoothness
    if not L2.is_finite:
        return (
            False,
            (
                rf"$L_2 = \sup_h|\phi''(h)| = \infty$ for {loss.name} ($\phi'$ jumps, so $\phi''$ has a point mass "
                r"and $B$ is not bounded by any constant): the step-size hypothesis cannot hold"
            ),
            L2,
        )
    stationary = loss.stationary_margin
    if stationary is sp.oo and loss.dphi_at_zero_sign < 0:
        return True, "", L2
    dphi = loss.bind(loss.dphi)
    if loss.dphi_at_zero_sign > 0:
        witness = rf"$\phi'(0) = {sp.latex(loss.bind(loss.dphi_at_zero))} > 0$"
    else:
        point = stationary + 1
        value = dphi.subs(h, point)
        positive = value.is_positive
        if positive is None:
            positive = bool(sp.N(value.subs(beta, 1), 50) > 0)
        witness = (
            rf"$\phi'(h) > 0$ at $h = h^\star + 1$, $h^\star = {sp.latex(stationary)}$"
            if positive
            else rf"$\phi'(h^\star) = 0$ at $h^\star = {sp.latex(stationary)}$"
        )
    return (
        False,
        (
            rf"{witness} for {loss.name}, so $\phi' \le 0$ fails on $\mathbb{{R}}$, $A$ can be negative and "
            r"the induction step does not follow"
        ),
        L2,
    )


#: Numeric configurations of the last ordering step: (p, |delta|, sigma, beta, b, b'), 1-based.
ORDERING_CONFIGS = (
    ((sp.Rational(1, 2), sp.Rational(1, 2)), (3, 1), 1, 1, 1, 2),  # the worked example
    ((sp.Rational(1, 5), sp.Rational(3, 10), sp.Rational(1, 2)), (2, sp.Rational(3, 2), 1), sp.Rational(1, 2), 2, 2, 3),
    ((sp.Rational(1, 2), sp.Rational(1, 2)), (1, 1), 1, 1, 1, 2),  # tie: p_b G_bb = p_b' G_b'b'
)


def _recursion_instances() -> Instances:
    r"""Link 1: :math:`\nu_b(t+1) = \Delta_{t+1}^\top\delta_b/2` with :math:`\Delta_{t+1}` from the
    population-flow Stein form (balanced, orthogonal, equal :math:`\sigma`), generic :math:`A, B`."""

    def build() -> list[dict]:
        out = []
        sigma = sp.Symbol("sigma", positive=True)
        for Kc, (ii, jj) in ((2, (1, 2)), (3, (3, 1))):
            model = _orthogonal(Kc)
            ps = [sp.Symbol(f"p_{c}", positive=True) for c in range(1, Kc + 1)]
            D = sum((a * dl for a, dl in zip(model["a"], model["delta"])), sp.zeros(Kc + 1, 1))
            r_value = sp.sqrt(dot(D, sigma**2 * D))
            drift = sp.zeros(Kc + 1, 1)
            for pc, dl, off in zip(ps, model["delta"], model["offset"]):
                plus, minus = off + dl / 2, off - dl / 2
                n_p, n_m = dot(D, plus), -dot(D, minus)
                drift += pc * (
                    sp.Rational(1, 2) * (A(n_p, r_value) * plus - beta * sigma**2 * B(n_p, r_value) * D)
                    - sp.Rational(1, 2) * (A(n_m, r_value) * minus + beta * sigma**2 * B(n_m, r_value) * D)
                )
            D_next = D + 2 * eta * beta * drift
            now = [dot(D, dl) / 2 for dl in model["delta"]]
            nxt = [dot(D_next, dl) / 2 for dl in model["delta"]]
            out.append(
                {
                    K: Kc,
                    i: ii,
                    j_: jj,
                    r_t: r_value,
                    nu_i: now[ii - 1],
                    nu_j: now[jj - 1],
                    nu_i_next: nxt[ii - 1],
                    nu_j_next: nxt[jj - 1],
                    nu_fn: lambda c, time, now=now: now[int(c) - 1],
                    p_: lambda c, ps=ps: ps[int(c) - 1],
                    sig: lambda c: sigma,
                    G: lambda c, e, m=model: dot(m["delta"][int(c) - 1], m["delta"][int(e) - 1]),
                }
            )
        return out

    return Instances(
        "K = 2, 3 orthogonal, equal sigma; Delta_{t+1} from population-flow with generic A, B", build, generic=(A, B)
    )


def _mean_value_instances() -> Instances:
    r"""Link 2: generic :math:`A`; :math:`\bar B` from its definition
    :math:`(A(\nu_{b'}(t), r_t) - A(\nu_b(t), r_t))/(\beta(\nu_b(t) - \nu_{b'}(t)))`."""

    def build() -> list[dict]:
        out = []
        for Kc, (ii, jj) in ((2, (1, 2)), (3, (3, 1))):
            now = [sp.Symbol(f"v_{c}", real=True) for c in range(1, Kc + 1)]
            rr = sp.Symbol("r_0", positive=True)
            out.append(
                {
                    K: Kc,
                    i: ii,
                    j_: jj,
                    r_t: rr,
                    nu_i: now[ii - 1],
                    nu_j: now[jj - 1],
                    nu_fn: lambda c, time, now=now: now[int(c) - 1],
                    B_bar: (A(now[jj - 1], rr) - A(now[ii - 1], rr)) / (beta * (now[ii - 1] - now[jj - 1])),
                    p_: lambda c: sp.Symbol(f"p_{int(c)}", positive=True),
                    sig: lambda c: sp.Symbol("sigma", positive=True),
                    G: lambda c, e: sp.Symbol(f"G_{int(c)}{int(e)}", positive=True),
                }
            )
        return out

    return Instances("K = 2, 3, generic A, B; B-bar from its definition", build, generic=(A, B))


def _hypotheses_instances(loss: Loss, L2: sp.Expr) -> Instances:
    r"""Link 3: the loss's own :math:`A, B` (20-digit quadrature) at states satisfying every
    hypothesis: population-GD trajectories from :math:`a(0) = 0` (steps 1-3) at
    :math:`\eta = \eta_{\max}`, seeded random states with :math:`\nu_b(t) \ge \nu_{b'}(t)`, and the tie
    :math:`p_bG_{bb} = p_{b'}G_{b'b'}`, :math:`\nu_b(t) = \nu_{b'}(t)` (where the bound is attained)."""
    rng = random.Random(0)

    def build() -> list[dict]:
        out = []
        for ps, ns, sigma, beta_value, ii, jj in ORDERING_CONFIGS:
            Kc = len(ps)
            Gs = [sp.Integer(n) ** 2 if isinstance(n, int) else n**2 for n in ns]
            L = L2.subs(beta, beta_value)
            eta_value = 1 / (beta_value**2 * L * (2 * sigma**2 + max(p * g for p, g in zip(ps, Gs)) / 2))
            A_, B_ = loss_moments(loss, beta_value)
            slope = sp.N((-loss.bind(loss.dphi_at_zero)).subs(beta, beta_value), DIGITS)
            a = [eta_value * beta_value * p * slope for p in ps]
            states = []
            for step in range(3):  # a(1), a(2), a(3)
                states.append(list(a))
                if step == 2:
                    break
                rv = sigma * sp.sqrt(sum(x**2 * g for x, g in zip(a, Gs)))
                nus = [x * g / 2 for x, g in zip(a, Gs)]
                c = 2 * eta_value * beta_value**2 * sum(p * sigma**2 * B_(v, rv) for p, v in zip(ps, nus))
                a = [(1 - c) * x + eta_value * beta_value * p * A_(v, rv) for x, p, v in zip(a, ps, nus)]
            if ps[ii - 1] * Gs[ii - 1] > ps[jj - 1] * Gs[jj - 1]:
                for _ in range(2):  # random states with nu_b >= nu_b'
                    nus = sorted((sp.Rational(rng.randint(-40, 40), 20) for _ in range(Kc)), reverse=True)
                    state = [0] * Kc
                    order = [ii - 1, jj - 1] + [c for c in range(Kc) if c not in (ii - 1, jj - 1)]
                    for c, v in zip(order, nus):
                        state[c] = 2 * v / Gs[c]
                    states.append(state)
            for state in states:
                out.append(_state_binding(state, ps, Gs, sigma, beta_value, eta_value, ii, jj, A_, B_))
        return out

    return Instances(
        f"{loss.name}: A, B by 20-digit quadrature; population-GD states t = 1..3 from a(0) = 0 at "
        "eta = eta_max, random states with nu_b >= nu_b', the tie p_b G_bb = p_b' G_b'b'",
        build,
    )


def _state_binding(
    state: list,
    ps: tuple,
    Gs: list,
    sigma: sp.Expr,
    beta_value: sp.Expr,
    eta_value: sp.Expr,
    ii: int,
    jj: int,
    A_: Callable,
    B_: Callable,
) -> dict:
    rv = sigma * sp.sqrt(sum(x**2 * g for x, g in zip(state, Gs)))
    nus = [x * g / 2 for x, g in zip(state, Gs)]
    A_values = {c: A_(nus[c], rv) for c in (ii - 1, jj - 1)}
    B_values = [B_(v, rv) for v in nus]
    gap = nus[ii - 1] - nus[jj - 1]
    B_mean = B_values[ii - 1] if gap == 0 else (A_values[jj - 1] - A_values[ii - 1]) / (beta_value * gap)
    return {
        K: len(ps),
        i: ii,
        j_: jj,
        r_t: rv,
        beta: beta_value,
        eta: eta_value,
        nu_i: nus[ii - 1],
        nu_j: nus[jj - 1],
        B_bar: B_mean,
        nu_fn: lambda c, time: nus[int(c) - 1],
        p_: lambda c: ps[int(c) - 1],
        sig: lambda c: sigma,
        G: lambda c, e: Gs[int(c) - 1] if c == e else 0,
        A: lambda v, s_: A_values[next(c for c in A_values if nus[c] == v)],
        B: lambda v, s_: B_values[nus.index(v)],
    }


# --------------------------------------------------------------------------- fixed point


def _fixed_point_instances() -> Instances:
    r"""Exact fixed points of population GD :math:`a \mapsto (1 - c(a))a + \eta\beta pA(a)`:
    quadratic :math:`\phi(h) = \kappa(h-\tau)^2/2` (:math:`K = 2, 3`, solved by SymPy) and exponential
    :math:`\phi(h) = e^{-\lambda_e h}/\lambda_e` (:math:`K = 1`, and :math:`K = 2` symmetric);
    :math:`A, B` from their definitions by :func:`normal_expectation`."""
    kappa, tau, lam_e = (
        sp.Symbol("kappa", positive=True),
        sp.Symbol("tau", real=True),
        sp.Symbol("lambda_e", positive=True),
    )
    zs = sp.Symbol("z", real=True)
    quadratic = kappa * (zs - tau)  # phi'(h) at h = zs
    exponential = -sp.exp(-lam_e * zs)

    def moments(dphi: sp.Expr) -> tuple[Callable, Callable]:
        m, s = sp.Symbol("m", real=True), sp.Symbol("s", positive=True)
        A_ms = sp.simplify(normal_expectation(lambda x: -dphi.subs(zs, beta * x), m, s))
        B_ms = sp.simplify(normal_expectation(lambda x: dphi.subs(zs, beta * x) * (x - m), m, s) / (beta * s**2))
        return (lambda mv, sv: A_ms.subs({m: mv, s: sv})), (lambda mv, sv: B_ms.subs({m: mv, s: sv}))

    def binding(ps: list, Gs: list, sigmas: list, a_values: list, dphi: sp.Expr, behavior: int) -> dict:
        A_, B_ = moments(dphi)
        norm_D = sp.sqrt(sum(x**2 * g for x, g in zip(a_values, Gs)))
        As = [A_(x * g / 2, s * norm_D) for x, g, s in zip(a_values, Gs, sigmas)]
        Bs = [B_(x * g / 2, s * norm_D) for x, g, s in zip(a_values, Gs, sigmas)]
        return {
            K: len(ps),
            b: behavior,
            a_star: lambda c: a_values[int(c) - 1],
            A_star: lambda c: As[int(c) - 1],
            B_star: lambda c: Bs[int(c) - 1],
            p_: lambda c: ps[int(c) - 1],
            sig: lambda c: sigmas[int(c) - 1],
        }

    def build() -> list[dict]:
        out = []
        for Kc in (2, 3):  # quadratic: A affine in the state, B = kappa; the fixed point solves a linear system
            ps = [sp.Symbol(f"p_{c}", positive=True) for c in range(1, Kc + 1)]
            Gs = [sp.Symbol(f"G_{c}{c}", positive=True) for c in range(1, Kc + 1)]
            sigmas = [sp.Symbol(f"sigma_{c}", positive=True) for c in range(1, Kc + 1)]
            xs = [sp.Symbol(f"x_{c}", real=True) for c in range(1, Kc + 1)]
            A_, B_ = moments(quadratic)
            norm_D = sp.sqrt(sum(x**2 * g for x, g in zip(xs, Gs)))
            shrink = (
                2 * eta * beta**2 * sum(p * s**2 * B_(x * g / 2, s * norm_D) for p, s, x, g in zip(ps, sigmas, xs, Gs))
            )
            equations = [
                (1 - shrink) * x + eta * beta * p * A_(x * g / 2, s * norm_D) - x
                for x, p, g, s in zip(xs, ps, Gs, sigmas)
            ]
            solution = sp.solve(equations, xs, dict=True)[0]
            a_values = [sp.simplify(solution[x]) for x in xs]
            for beh in (1, Kc):
                out.append(binding(ps, Gs, sigmas, a_values, quadratic, beh))
        p1, G1, s1 = (
            sp.Symbol("p_1", positive=True),
            sp.Symbol("G_11", positive=True),
            sp.Symbol("sigma_1", positive=True),
        )
        out.append(binding([p1], [G1], [s1], [1 / (2 * beta * lam_e * s1**2)], exponential, 1))
        out.append(binding([p1, p1], [G1, G1], [s1, s1], [1 / (4 * beta * lam_e * s1**2)] * 2, exponential, 2))
        return out

    return Instances(
        "exact fixed points: quadratic phi (K = 2, 3, solved by SymPy), exponential phi "
        "(K = 1; K = 2 symmetric); A, B from their definitions",
        build,
    )


# --------------------------------------------------------------------------- claims


def _claims(loss: Loss) -> tuple[list[Claim], list[str], bool, sp.Expr]:
    span = _span_instances()
    law = Phi(a_[b] * G[b, b] / (2 * sig[b] * sp.sqrt(sp.Sum(a_[k] ** 2 * G[k, k], (k, 1, K)))))
    interference = chain(
        "interference",
        acc(Delta),
        [
            (
                "=",
                law,
                (
                    r"$\Delta^\top\delta_b = a_bG_{bb}$ and $\|\Delta\|^2 = \sum_k a_k^2G_{kk}$ ($G$ diagonal); "
                    r"accuracy-gaussian, span"
                ),
            )
        ],
        instances=span,
        prose=r"for $\Delta = \sum_k a_k\delta_k$: each $a_k$ with $k \ne b$ only adds noise to the margin of $b$.",
    )
    alone = chain(
        "joint vs alone",
        acc(Delta),
        [
            ("=", law, r"claim interference"),
            ("<=", acc(delta_b), r"$a_bG_{bb} \le |a_b|\sqrt{G_{bb}}\sqrt{\sum_k a_k^2G_{kk}}$ and $\Phi$ increasing"),
            ("=", Phi(sp.sqrt(G[b, b]) / (2 * sig[b])), r"$\Delta = \delta_b$ in the span form"),
        ],
        instances=span,
        prose=r"with equality iff $a_k = 0$ for every $k \ne b$ and $a_b > 0$: training jointly never beats $b$'s own "
        r"direction.",
    )
    level = chain(
        "priority level",
        varpi_i - varpi_j,
        [
            (
                "=",
                (norm_i**2 - norm_j**2) / (2 * bbar_norm),
                (
                    r"$\langle\bar b, \delta_i - \delta_j\rangle = \frac12\langle\delta_i + \delta_j, \delta_i - "
                    r"\delta_j\rangle = \frac12(\|\delta_i\|^2 - \|\delta_j\|^2)$"
                ),
            )
        ],
        instances=_level_instances(),
        prose=(
            r"so the authors' $\operatorname{gap}_{ij} = (\varpi_i - \varpi_j)/\max(\|\delta_i\|, \|\delta_j\|)$ "
            r"has the sign of $\|\delta_i\| - \|\delta_j\|$: the more distinguishable behaviour has priority."
        ),
    )
    star_sum = sp.Sum(p_[k] * sig[k] ** 2 * B_star[k], (k, 1, K))
    fixed = chain(
        "fixed point",
        a_star[b],
        [
            (
                "=",
                (1 - 2 * eta * beta**2 * star_sum) * a_star[b] + eta * beta * p_[b] * A_star[b],
                r"$a^*$ is a fixed point of population GD (accuracy-gaussian, t steps)",
            ),
            (
                "=",
                p_[b] * A_star[b] / (2 * beta * star_sum),
                r"solve the fixed-point equation for $a_b^*$ ($\sum_k p_k\sigma_k^2B_k^* \ne 0$)",
            ),
        ],
        instances=_fixed_point_instances(),
        prose=(
            r"for every fixed point $a^*$ of population gradient descent, i.e. every solution of "
            r"$a_b = (1 - 2\eta\beta^2\sum_k p_k\sigma_k^2B_k^*)\,a_b + \eta\beta p_bA_b^*$ for all $b$ with $A^*, "
            r"B^*$ "
            r"evaluated at $a = a^*$, provided $\sum_k p_k\sigma_k^2B_k^* \ne 0$: a fixed-point equation, not a "
            r"closed form "
            r"(the right side depends on $a^*$ through $A^*$ and $B^*$)."
        ),
    )
    claims = [interference, level, fixed, alone]
    holds, reason, L2 = ordering_status(loss)
    notes = []
    if holds:
        shrink = 2 * eta * beta**2 * sp.Sum(p_[k] * sig[k] ** 2 * B(nu_fn(k, t), r_t), (k, 1, K))
        half = eta * beta / 2
        ordering = chain(
            "ordering",
            nu_i_next - nu_j_next,
            [
                (
                    "=",
                    (1 - shrink) * (nu_i - nu_j)
                    + half * (p_[i] * G[i, i] * A(nu_i, r_t) - p_[j_] * G[j_, j_] * A(nu_j, r_t)),
                    (
                        r"population-flow at $\Delta_t = \sum_b a_b\delta_b$, times $\delta_b/2$; $r_b = "
                        r"\sigma\|\Delta_t\| = r_t$ for every $b$"
                    ),
                    _recursion_instances(),
                ),
                (
                    "=",
                    (1 - shrink - half * beta * p_[j_] * G[j_, j_] * B_bar) * (nu_i - nu_j)
                    + half * (p_[i] * G[i, i] - p_[j_] * G[j_, j_]) * A(nu_i, r_t),
                    (
                        r"mean value theorem: $A(\nu_{b'}(t), r_t) = A(\nu_b(t), r_t) + \beta\bar B\,(\nu_b(t) - "
                        r"\nu_{b'}(t))$, $\partial_\nu A = -\beta B$"
                    ),
                    _mean_value_instances(),
                ),
                (
                    ">=",
                    sp.Integer(0),
                    (
                        r"$B, \bar B \le L_2$ and $\sum_k p_k = 1$ with $\eta \le \eta_{\max}$ make the first factor $\ge "
                        r"0$; $\nu_b(t) \ge \nu_{b'}(t)$; $p_bG_{bb} \ge p_{b'}G_{b'b'}$; $A \ge 0$ as $\phi' \le 0$"
                    ),
                    _hypotheses_instances(loss, L2),
                ),
            ],
            prose=(
                r"whenever $\nu_b(t) \ge \nu_{b'}(t)$. Since $a(0) = 0$, by induction $\nu_b(t) \ge \nu_{b'}(t)$ and "
                r"$\operatorname{Acc}_b(t) = \Phi(\nu_b(t)/r_t) \ge \operatorname{Acc}_{b'}(t)$ for every $t$: "
                r"behaviour $b$ reaches any accuracy first "
                r"(for the pair $(b, b') = (i, j)$ of the priority level, $p_i\|\delta_i\|^2 \ge p_j\|\delta_j\|^2$)."
            ),
        )
        claims.insert(2, ordering)
    else:
        notes.append(
            r"The ordering of learning times (an induction on $\nu_b(t) \ge \nu_{b'}(t)$) is omitted: it needs "
            r"$\phi' \le 0$ on $\mathbb{R}$ and a finite $L_2 \ge \sup\phi''$, and " + reason + "."
        )
    return claims, notes, holds, L2


def build(loss: Loss) -> Theorem:
    claims, notes, ordering, L2 = _claims(loss)
    assumptions = [
        Assumption(
            "shared direction",
            r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$, $\beta > 0$; "
            r"population gradient descent from $W_{\mathrm{ref}}$ with step $\eta$ (population-flow).",
        ),
        Assumption(
            "balanced orthogonal isotropic",
            r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$ with $c_b \perp \delta_{b'}$ for all $b'$, "
            r"$\langle\delta_b, \delta_{b'}\rangle = 0$ for $b \ne b'$, $g \mid (b, \pm) \sim N(\mu_b^\pm, \sigma_b^2 "
            r"I)$, mixture weights $p_b$ with $\sum_b p_b = 1$ (claim priority level: any $\delta_i, \delta_j$ with "
            r"$\delta_i + \delta_j \ne 0$).",
        ),
    ]
    if ordering:
        assumptions.append(
            Assumption(
                "ordering",
                r"$\sigma_b = \sigma$ for every $b$; for the ordered pair $(b, b')$ (the priority level's $(i, j)$), "
                r"$p_i\|\delta_i\|^2 \ge p_j\|\delta_j\|^2$, i.e. $p_bG_{bb} \ge p_{b'}G_{b'b'}$; "
                r"$\phi$ twice differentiable with $\phi' \le 0$ and $\phi'' \le L_2$, $L_2 = \sup_h|\phi''(h)|$ "
                rf"(here $L_2 = {sp.latex(L2)}$); "
                r"$\eta \le \eta_{\max} = 1/(\beta^2L_2(2\sigma^2 + \frac12\max_b p_bG_{bb}))$ (implied by $\eta \le "
                r"1/(2\beta^2L_2\lambda_{\max}(\mathbb{E}gg^\top))$); "
                r"induction hypothesis $\nu_b(t) \ge \nu_{b'}(t)$ (true at $t = 0$).",
            )
        )
    notes.append(
        r"Claim fixed point is checked at exact fixed points of quadratic and exponential losses (where $A$ and $B$ "
        r"have closed forms); the identity uses only the fixed-point equation, not the loss."
    )
    notation = {
        **meanings(beta, eta),
        d: DIMENSION_MEANING,
        **shared_notation(Delta, acc(Delta), delta_b, a_[j], G[j, k], sig[b], p_[j], K, b),
        (
            varpi_i,
            varpi_j,
        ): (
            r"are the authors' priority projections $\varpi_i = \langle\bar b, \delta_i\rangle/\|\bar b\|$ "
            r"(their $p_i$)"
        ),
        bbar_norm: r"is the norm of $\bar b = \frac12(\delta_i + \delta_j)$",
        (norm_i, norm_j): r"are the norms of the distinguishability vectors of behaviours $i$ and $j$",
        a_star[b]: r"is a fixed point of population gradient descent in the coordinates $a$",
        (A_star[b], B_star[b]): (
            r"are $A$ and $B$ of behaviour $b$ at the fixed point: $A(\nu_b^*, r_b^*)$, $B(\nu_b^*, r_b^*)$ "
            r"with $\nu_b^* = a_b^*G_{bb}/2$, $r_b^* = \sigma_b(\sum_k (a_k^*)^2G_{kk})^{1/2}$"
        ),
    }
    notation.update({(A(nu, r), B(nu, r)): AB_MEANING, (nu, r): NU_R_MEANING})
    if ordering:
        notation.update(
            {
                (nu_fn(b, t), nu_i, nu_j, nu_i_next, nu_j_next): (
                    r"are the means $\nu_b(t) = \Delta_t^\top\delta_b/2 = a_b(t)G_{bb}/2$ of "
                    r"$z = s\Delta_t^\top g$ given behaviour $b$ (either sign) after $t$ steps, and the same for $b'$"
                ),
                **meanings(t),
                r_t: r"is the common standard deviation $\sigma\|\Delta_t\|$ of $z = s\Delta_t^\top g$ given $(b, s)$",
                b2: r"is a second behaviour, $b' \ne b$",
                B_bar: (
                    r"is the mean-value slope $\bar B = (A(\nu_{b'}(t), r_t) - A(\nu_b(t), r_t))/(\beta(\nu_b(t) - "
                    r"\nu_{b'}(t)))$ "
                    r"($B(\nu_b(t), r_t)$ if $\nu_b(t) = \nu_{b'}(t)$), a value of $B(\cdot, r_t)$ between "
                    r"$\nu_{b'}(t)$ and $\nu_b(t)$"
                ),
            }
        )
    return Theorem(
        id="priority",
        title="Prioritisation of behaviours sharing one preference direction",
        assumptions=assumptions,
        claims=claims,
        summary=r"Behaviours compete for one preference direction: each one's coordinate adds noise to the others' "
        r"margins.",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"The priority level ($\bar b = \frac12(\delta_i + \delta_j)$, the projections $\varpi_i$, the gap) is "
            r"Im \& Li's (2024) definition; its closed form, the interference law, the ordering induction, the fixed "
            r"point and the joint-versus-alone bound are prefdyn's."
        ),
    )
