r"""``accuracy-subexponential``: a lower bound on the accuracy for :math:`\alpha`-subexponential classes.

Let the class deviations be :math:`\alpha`-subexponential along every direction:
:math:`\|u^\top(g - \mu_b^\pm)\|_{\psi_\alpha} \le K_b\|u\|` for all :math:`u`, where
:math:`\|X\|_{\psi_\alpha} = \inf\{k > 0 : \mathbb E\,e^{(|X|/k)^\alpha} \le 2\}`, so that
:math:`\Pr(|X| \ge t) \le 2e^{-(t/\|X\|_{\psi_\alpha})^\alpha}` (Markov). With
:math:`h = \beta s\Delta^\top g` (Im & Li 2024, arXiv 2403.18742, Thm. 4.1 in this notation),

.. math::
   \operatorname{Acc}_b(\Delta) \ge 1
   - 2q_b\exp\!\Big[-\Big(\frac{(\Delta^\top\mu_b^+)_+}{K_b\|\Delta\|}\Big)^{\alpha}\Big]
   - 2(1-q_b)\exp\!\Big[-\Big(\frac{(-\Delta^\top\mu_b^-)_+}{K_b\|\Delta\|}\Big)^{\alpha}\Big].

**One step** (balanced, offsets orthogonal to every :math:`\delta`; population GD from
:math:`W_{\rm ref}`, :math:`\Delta_1 = \eta\beta(-\phi'(0))\sum_{b'}p_{b'}\delta_{b'}`):
:math:`\operatorname{Acc}_b(1) \ge 1 - 2\exp[-((\sum_{b'}p_{b'}G_{bb'})_+ / (2K_b\sqrt{p^\top Gp}))^\alpha]`.

**t steps.** Let :math:`\bar m = \mathbb E[sg]`, :math:`v = 2\eta\beta(-\phi'(0))\bar m`,
:math:`L_2 = \sup|\phi''|`, :math:`\lambda = \lambda_{\max}(\mathbb E[gg^\top])`,
:math:`\varepsilon = 2\eta\beta^2L_2\lambda` and :math:`\rho_t = ((1+\varepsilon)^t - 1 - t\varepsilon)/(t\varepsilon)`.
Because :math:`|\phi'(h) - \phi'(0)| \le L_2|h|` and
:math:`\mathbb E|\Delta^\top g||u^\top g| \le \lambda\|\Delta\|\|u\|`, each population step satisfies
:math:`\|\Delta_{k+1} - \Delta_k - v\| \le \varepsilon\|\Delta_k\|`; by induction
:math:`\|\Delta_k\| \le \|v\|((1+\varepsilon)^k - 1)/\varepsilon` and
:math:`\|\Delta_t - tv\| \le \rho_t\, t\|v\|`. Hence, with :math:`\theta_b^+ = \bar m^\top\mu_b^+/\|\bar m\|`,
:math:`\theta_b^- = -\bar m^\top\mu_b^-/\|\bar m\|`,

.. math::
   \operatorname{Acc}_b(t) \ge 1 - 2\sum_{\pm} q_b^\pm
   \exp\!\Big[-\Big(\frac{(\theta_b^\pm - \rho_t\|\mu_b^\pm\|)_+}{K_b(1+\rho_t)}\Big)^{\alpha}\Big].

:math:`\rho_1 = 0` recovers the one-step bound. The bound weakens as :math:`t, \eta, \beta` or the
spread grow: accuracy itself is scale-free in :math:`\Delta` (the one-step accuracy does not depend
on :math:`\eta, \beta`) and need not increase along training (``priority``: 0.9226 after one step,
0.8972 at the joint fixed point), so a true bound cannot be increasing in :math:`t, \eta, \beta`
in general.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Claim, Form, Theorem, chain
from ..losses import Loss
from ..symbols import beta, eta
from ._traj import dot, norm, positive_part, vector

alpha = sp.Symbol(r"\alpha", positive=True)
q = sp.Symbol("q_b", positive=True)
K_b = sp.Symbol("K_b", positive=True)
nD = sp.Symbol(r"\|\Delta\|", positive=True)
t_sym, eps_sym = sp.Symbol("t", positive=True, integer=True), sp.Symbol(r"\varepsilon", positive=True)
k_sym = sp.Symbol("k", nonnegative=True, integer=True)
nv = sp.Symbol(r"\|v\|", positive=True)
acc = sp.Function(r"\operatorname{Acc}_b")
DOMAIN = {alpha: (0.3, 3.0), q: (0.05, 0.95)}


def _tail_term(num: sp.Expr, K: sp.Expr, a: sp.Expr) -> sp.Expr:
    return sp.exp(-((positive_part(num) / K) ** a))


def _bound(mp: sp.Expr, mm: sp.Expr, K: sp.Expr, a: sp.Expr, qq: sp.Expr) -> sp.Expr:
    """The right-hand side, given the projected means and the scale ``K ||Delta||``."""
    return 1 - 2 * qq * _tail_term(mp, K, a) - 2 * (1 - qq) * _tail_term(-mm, K, a)


# -------------------------------------------------------- two-point (Rademacher) noise law

def _two_point(D: sp.Matrix, mus: dict[int, sp.Matrix], xis: dict[int, sp.Matrix], qq: sp.Expr, a: sp.Expr) -> dict[str, sp.Expr]:
    r"""Every form of the derivation for :math:`g = \mu^s + r\xi^s`, :math:`r = \pm1` equiprobable.

    :math:`|u^\top(g-\mu^s)| = |u^\top\xi^s|` is constant, so its :math:`\psi_\alpha` norm is
    :math:`|u^\top\xi^s|/(\log 2)^{1/\alpha} \le \|u\|\max_s\|\xi^s\|/(\log 2)^{1/\alpha} = K_b\|u\|`.
    """
    K = sp.Max(norm(xis[1]), norm(xis[-1])) / sp.log(2) ** (1 / a)
    scale = K * norm(D)
    weights = {1: qq, -1: 1 - qq}
    forms: dict[str, sp.Expr] = {"acc": sp.Integer(0), "complement": sp.Integer(1), "deviation": sp.Integer(1), "markov": sp.Integer(1)}
    for s in (1, -1):
        t_s = positive_part(s * dot(D, mus[s]))
        forms["markov"] -= weights[s] * sp.exp(-((t_s / scale) ** a)) * sum(
            sp.Rational(1, 2) * sp.exp((sp.Abs(r * dot(D, xis[s])) / scale) ** a) for r in (1, -1)
        )
        for r in (1, -1):
            g = mus[s] + r * xis[s]
            forms["acc"] += weights[s] / 2 * sp.Heaviside(s * dot(D, g), 0)
            forms["complement"] -= weights[s] / 2 * sp.Heaviside(-s * dot(D, g), 1)
            forms["deviation"] -= weights[s] / 2 * sp.Heaviside(sp.Abs(r * dot(D, xis[s])) - t_s, 1)
    forms["bound"] = _bound(dot(D, mus[1]), dot(D, mus[-1]), scale, a, qq)
    return forms


def _general_instance(kind: str) -> Callable[[], list[sp.Expr]]:
    def build() -> list[sp.Expr]:
        d = 2
        D = vector("D", d)
        mus = {1: vector("mup", d), -1: vector("mum", d)}
        xis = {1: vector("xip", d), -1: vector("xim", d)}
        return [_two_point(D, mus, xis, q, alpha)[kind]]

    return build


def _one_step_instance(kind: str) -> Callable[[], list[sp.Expr]]:
    r"""Two behaviours in :math:`\mathbb R^3`: :math:`\delta_b` in the first two coordinates, offsets
    along the third, two-point noise; behaviour 1's forms at :math:`\Delta_1`."""

    def build() -> list[sp.Expr]:
        deltas = [sp.Matrix([*vector(f"delta{c}", 2), 0]) for c in (1, 2)]
        ps = [sp.Symbol("p_1", positive=True), 1 - sp.Symbol("p_1", positive=True)]
        a0 = sp.Symbol("alpha_0", positive=True)  # -phi'(0)
        D1 = eta * beta * a0 * (ps[0] * deltas[0] + ps[1] * deltas[1])
        c1 = sp.Matrix([0, 0, sp.Symbol("gamma_1", real=True)])
        mus = {1: c1 + deltas[0] / 2, -1: c1 - deltas[0] / 2}
        xis = {1: vector("xip", 3), -1: vector("xim", 3)}
        if kind != "gram":
            return [_two_point(D1, mus, xis, sp.Rational(1, 2), alpha)[kind]]
        K = sp.Max(norm(xis[1]), norm(xis[-1])) / sp.log(2) ** (1 / alpha)
        G = sp.Matrix([[dot(u, v) for v in deltas] for u in deltas])
        p = sp.Matrix(ps)
        return [1 - 2 * _tail_term((G[0, :] * p)[0, 0], 2 * K * sp.sqrt((p.T * G * p)[0, 0]), alpha)]

    return build


# ------------------------------------------------------------------------ t-step forms

_u1, _u2, _c1, _c2 = (sp.Symbol(f"u_{i}", positive=True) for i in range(1, 5))
_nmp, _nmm, _rho, _tt = (sp.Symbol(n, positive=True) for n in ("n_mup", "n_mum", "rho", "tt"))
T_DOMAIN = {**DOMAIN, _u1: (0.0, 1.0), _u2: (0.0, 1.0), _c1: (0.0, 1.0), _c2: (0.0, 1.0), _rho: (0.0, 0.9)}


def _t_step(kind: str) -> Callable[[], list[sp.Expr]]:
    r"""Worst cases allowed by :math:`\|\Delta_t - tv\| \le \rho t\|v\|`: the projections
    :math:`\Delta_t^\top\mu = t v^\top\mu - u_1\rho t\|v\|\|\mu\|` and the norm
    :math:`\|\Delta_t\| = t\|v\|(1 + (2u_2-1)\rho)`, with :math:`v^\top\mu^\pm = \pm\|v\|\|\mu^\pm\|(2c-1)`."""

    def build() -> list[sp.Expr]:
        th_p, th_m = _nmp * (2 * _c1 - 1), _nmm * (2 * _c2 - 1)  # theta^+ and theta^-
        if kind == "at":
            proj_p = _tt * nv * th_p - _u1 * _rho * _tt * nv * _nmp
            proj_m = -(_tt * nv * th_m - _u1 * _rho * _tt * nv * _nmm)
            return [_bound(proj_p, proj_m, K_b * _tt * nv * (1 + (2 * _u2 - 1) * _rho), alpha, q)]
        return [_bound(th_p - _rho * _nmp, -(th_m - _rho * _nmm), K_b * (1 + _rho), alpha, q)]

    return build


def _growth(kind: str) -> Callable[[], list[sp.Expr]]:
    def build() -> list[sp.Expr]:
        bound_k = nv * ((1 + eps_sym) ** k_sym - 1) / eps_sym
        if kind == "step":
            return [(1 + eps_sym) * bound_k + nv]
        return [nv * ((1 + eps_sym) ** (k_sym + 1) - 1) / eps_sym]

    return build


def _remainder(kind: str) -> Callable[[], list[sp.Expr]]:
    def build() -> list[sp.Expr]:
        if kind == "sum":
            return [sp.Sum(nv * ((1 + eps_sym) ** k_sym - 1), (k_sym, 0, t_sym - 1)).doit()]
        return [nv * (((1 + eps_sym) ** t_sym - 1) / eps_sym - t_sym)]

    return build


def _claims(a0: sp.Expr) -> list[Claim]:
    mp, mm = sp.Symbol(r"\Delta^\top\mu_b^+", real=True), sp.Symbol(r"\Delta^\top\mu_b^-", real=True)
    tp, tm = positive_part(mp), positive_part(-mm)
    scale = K_b * nD
    main = chain(
        "bound",
        Form(acc(sp.Symbol(r"\Delta")), _general_instance("acc")),
        [
            ("=", Form(1 - q * sp.Symbol(r"\Pr(\Delta^\top g \le 0 \mid +)") - (1 - q) * sp.Symbol(r"\Pr(\Delta^\top g \ge 0 \mid -)"), _general_instance("complement")),
             r"complement; $h = \beta s\Delta^\top g$"),
            (">=", Form(1 - q * sp.Symbol(r"\Pr(|X_b^+| \ge (\Delta^\top\mu_b^+)_+)") - (1 - q) * sp.Symbol(r"\Pr(|X_b^-| \ge (-\Delta^\top\mu_b^-)_+)"), _general_instance("deviation")),
             r"$X_b^\pm = \Delta^\top(g - \mu_b^\pm)$; $\Delta^\top g \le 0 \Rightarrow X_b^+ \le -\Delta^\top\mu_b^+$"),
            (">=", Form(1 - q * sp.exp(-(tp / scale) ** alpha) * sp.Symbol(r"\mathbb{E}e^{(|X_b^+|/K_b\|\Delta\|)^\alpha}") - (1 - q) * sp.exp(-(tm / scale) ** alpha) * sp.Symbol(r"\mathbb{E}e^{(|X_b^-|/K_b\|\Delta\|)^\alpha}"), _general_instance("markov")),
             r"Markov's inequality for $e^{(|X|/K_b\|\Delta\|)^\alpha}$"),
            (">=", Form(_bound(mp, mm, scale, alpha, q), _general_instance("bound")),
             r"$\|X_b^\pm\|_{\psi_\alpha} \le K_b\|\Delta\|$, i.e. $\mathbb{E}e^{(|X_b^\pm|/K_b\|\Delta\|)^\alpha} \le 2$"),
        ],
        instances="d = 2, two-point noise law, K_b = max|xi| / (log 2)^(1/alpha)",
        domain=DOMAIN,
    )
    K, j, k = sp.Symbol("K", positive=True, integer=True), sp.Symbol("j", integer=True), sp.Symbol("k", integer=True)
    b = sp.Symbol("b", integer=True)
    G, p_ = sp.IndexedBase("G"), sp.IndexedBase("p")
    gram_num = sp.Sum(p_[j] * G[b, j], (j, 1, K))
    gram_den = 2 * K_b * sp.sqrt(sp.Sum(p_[j] * p_[k] * G[j, k], (j, 1, K), (k, 1, K)))
    one_step = chain(
        "one step",
        Form(acc(sp.Symbol(r"\Delta_1")), _one_step_instance("acc")),
        [
            (">=", Form(_bound(sp.Symbol(r"\Delta_1^\top\mu_b^+"), sp.Symbol(r"\Delta_1^\top\mu_b^-"), K_b * sp.Symbol(r"\|\Delta_1\|"), alpha, sp.Rational(1, 2)), _one_step_instance("bound")),
             r"claim bound at $\Delta_1$, $q_b = \frac12$"),
            ("=", Form(1 - 2 * sp.exp(-(positive_part(gram_num) / gram_den) ** alpha), _one_step_instance("gram")),
             rf"$\Delta_1 = \eta\beta(-\phi'(0))\sum_{{b'}} p_{{b'}}\delta_{{b'}}$, $-\phi'(0) = {sp.latex(a0)} > 0$, $\mu_b^\pm = c_b \pm \delta_b/2$, $c_b\perp\delta$"),
        ],
        instances="K = 2 in R^3, two-point noise",
        domain=DOMAIN,
    )
    theta_p, theta_m, rho_t = sp.Symbol(r"\theta_b^+"), sp.Symbol(r"\theta_b^-"), sp.Symbol(r"\rho_t", nonnegative=True)
    nmup, nmum = sp.Symbol(r"\|\mu_b^+\|"), sp.Symbol(r"\|\mu_b^-\|")
    t_steps = chain(
        "t steps",
        Form(_bound(sp.Symbol(r"\Delta_t^\top\mu_b^+"), sp.Symbol(r"\Delta_t^\top\mu_b^-"), K_b * sp.Symbol(r"\|\Delta_t\|"), alpha, q), _t_step("at")),
        [(">=", Form(_bound(theta_p - rho_t * nmup, -(theta_m - rho_t * nmum), K_b * (1 + rho_t), alpha, q), _t_step("explicit")),
          r"$\pm\Delta_t^\top\mu_b^\pm \ge t(\|v\|\theta_b^\pm - \rho_t\|v\|\|\mu_b^\pm\|)$ and $\|\Delta_t\| \le t\|v\|(1+\rho_t)$ (remainder); the bound is monotone in the ratio")],
        instances="worst cases of the remainder bound",
        domain=T_DOMAIN,
        prose=r"and the left-hand side is a lower bound on $\operatorname{Acc}_b(t)$ by claim bound at $\Delta_t$.",
    )
    growth = chain(
        "growth",
        Form(sp.Symbol(r"(1+\varepsilon)\|\Delta_k\| + \|v\|"), _growth("step")),
        [("=", Form(nv * ((1 + eps_sym) ** (k_sym + 1) - 1) / eps_sym, _growth("closed")),
          r"induction hypothesis $\|\Delta_k\| \le \|v\|((1+\varepsilon)^k - 1)/\varepsilon$")],
        instances="symbolic k",
        prose=r"bounds $\|\Delta_{k+1}\| \le \|\Delta_k\| + \|v\| + \varepsilon\|\Delta_k\|$.",
    )
    remainder = chain(
        "remainder",
        Form(sp.Symbol(r"\varepsilon\sum_{k<t}\|\Delta_k\|"), _remainder("sum")),
        [("=", Form(rho_t * t_sym * nv, _remainder("closed")),
          r"geometric sum of the growth bound; $\rho_t = ((1+\varepsilon)^t - 1 - t\varepsilon)/(t\varepsilon)$")],
        instances="symbolic t",
        prose=r"(at the growth bound) and $\|\Delta_t - tv\| \le \varepsilon\sum_{k<t}\|\Delta_k\|$.",
    )
    return [main, one_step, t_steps, growth, remainder]


def build(loss: Loss) -> Theorem:
    a0 = -loss.bind(loss.dphi_at_zero)
    return Theorem(
        id="accuracy-subexponential",
        title=r"Accuracy lower bound for $\alpha$-subexponential preference classes",
        assumptions=[
            Assumption("head", r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$, $\beta > 0$, $\Delta \ne 0$."),
            Assumption("subexponential classes", r"$\|u^\top(g - \mu_b^\pm)\|_{\psi_\alpha} \le K_b\|u\|$ for all $u$, where $\|X\|_{\psi_\alpha} = \inf\{k>0: \mathbb{E}e^{(|X|/k)^\alpha} \le 2\}$, $\alpha > 0$."),
            Assumption("training (one step, t steps)", r"population GD from $W_{\mathrm{ref}}$; one step: $q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$ with $c_b\perp\delta_{b'}$, $-\phi'(0) > 0$; t steps: also $L_2 = \sup|\phi''| < \infty$."),
        ],
        claims=_claims(a0),
        summary=r"Here $(x)_+ = \max(x, 0)$ (Im \& Li 2024, arXiv 2403.18742, Thm. 4.1 for $\alpha$-subexponential classes).",
        loss_name=loss.name,
        notes=[r"The t-step bound is non-increasing in $t$, $\eta$, $\beta$ and the spread ($\varepsilon = 2\eta\beta^2L_2\lambda_{\max}(\mathbb{E}gg^\top)$): accuracy is invariant to the scale of $\Delta$, the exact one-step accuracy does not depend on $\eta,\beta$, and accuracy can fall along training (see priority), so no bound increasing in $t,\eta,\beta$ holds in general."],
    )
