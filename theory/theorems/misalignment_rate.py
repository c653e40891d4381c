r"""``misalignment-rate``: flipping the labels at a stationary point moves twice as fast.

Let :math:`\Delta^\star` be a stationary point of population training on the original labels,
:math:`\mathbb E[\phi'(h)\,s\,g] = 0` with :math:`h = \beta s\Delta^{\star\top}g`. Training on flipped
labels (:math:`s \to -s`, so :math:`h \to -h`) takes the first step
:math:`\Delta^{\rm flip}_1 = 2\eta\beta\,\mathbb E[\phi'(-h)\,s\,g]`, whereas the first alignment step
from :math:`W_{\rm ref}` was :math:`\Delta^{\rm align}_1 = 2\eta\beta(-\phi'(0))\,\bar m`,
:math:`\bar m = \mathbb E[sg]`. With :math:`\omega(h) = 2\phi'(0) - \phi'(h) - \phi'(-h)`,

.. math:: \Delta^{\rm flip}_1 = -2\,\Delta^{\rm align}_1 - 2\eta\beta\,\mathbb E[\omega(h)\,s\,g].

For DPO :math:`\sigma(h) = 1 - \sigma(-h)` gives :math:`\omega \equiv 0`: the misalignment step is
exactly twice the alignment step, reversed (Im & Li 2024, arXiv 2403.18742, Sec. 5); the same holds
for every loss whose :math:`\phi' - \phi'(0)` is odd (IPO, cDPO, rDPO). If alignment also made the
features more distinguishable, :math:`\delta_b \to \kappa\delta_b` (balanced classes, offsets
orthogonal), the mean margin of behaviour :math:`b` moves at
:math:`-2\kappa^2\cdot\frac{\eta\beta^2(-\phi'(0))}{2}\sum_{b'}p_{b'}G_{bb'}`: the first-step
alignment rate times :math:`-2\kappa^2`.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Claim, Form, Theorem, chain
from ..functions import to_elementary
from ..losses import Loss
from ..symbols import beta, eta, h
from ._traj import dot, vector

a_, b_ = sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
Dstar = sp.Symbol("D", real=True)
kappa = sp.Symbol(r"\kappa", positive=True)
f_generic = sp.Function("f")


def _omega(dphi: Callable[[sp.Expr], sp.Expr], x: sp.Expr) -> sp.Expr:
    return 2 * dphi(sp.Integer(0)) - dphi(x) - dphi(-x)


def _stationary_law(dphi: Callable[[sp.Expr], sp.Expr]) -> tuple[sp.Expr, list[tuple[sp.Expr, sp.Expr]]]:
    r"""Two atoms of :math:`x = sg \in \mathbb R`: :math:`a` w.p. :math:`p`, :math:`-b` w.p. :math:`1-p`,
    with :math:`p` chosen so that :math:`\Delta^\star = D` is stationary:
    :math:`p\phi'(\beta Da)a = (1-p)\phi'(-\beta Db)b`."""
    pa, pb = dphi(-beta * Dstar * b_) * b_, dphi(beta * Dstar * a_) * a_
    p = pa / (pa + pb)
    return p, [(p, a_), (1 - p, -b_)]


def _ratio_forms(dphi: Callable[[sp.Expr], sp.Expr], kind: str) -> sp.Expr:
    _, atoms = _stationary_law(dphi)
    E = lambda f: sum(w * f(x) for w, x in atoms)
    c = 2 * eta * beta
    if kind == "flip":
        return c * E(lambda x: dphi(-beta * Dstar * x) * x)
    if kind == "omega":
        return c * E(lambda x: (2 * dphi(0) - dphi(beta * Dstar * x) - _omega(dphi, beta * Dstar * x)) * x)
    if kind == "stationary":
        return c * (2 * dphi(0) * E(lambda x: x) - E(lambda x: _omega(dphi, beta * Dstar * x) * x))
    return -2 * (c * (-dphi(0)) * E(lambda x: x)) - c * E(lambda x: _omega(dphi, beta * Dstar * x) * x)


def _ratio_instance(loss: Loss, kind: str) -> Callable[[], list[sp.Expr]]:
    bound = loss.bind(loss.dphi)
    specific = lambda x: bound.subs(h, x)
    generic = lambda x: f_generic(x)

    def build() -> list[sp.Expr]:
        return [_ratio_forms(generic, kind), _ratio_forms(specific, kind)]

    return build


def _kappa_instance(kind: str) -> Callable[[], list[sp.Expr]]:
    r"""Behaviour 1's mean-margin rate at the first flipped step, features :math:`\kappa\delta`."""
    a0 = sp.Symbol("alpha_0", positive=True)

    def build() -> list[sp.Expr]:
        out = []
        for K in (2, 3):
            deltas = [kappa * sp.Matrix([*vector(f"delta{c}", K), 0]) for c in range(1, K + 1)]
            ps = [sp.Symbol(f"p_{c}", positive=True) for c in range(1, K + 1)]
            mbar = sum((p * dl / 2 for p, dl in zip(ps, deltas)), sp.zeros(K + 1, 1))
            if kind == "rate":
                step = -2 * (2 * eta * beta * a0 * mbar)
                out.append(beta * dot(step, deltas[0] / 2))
            else:
                base = [dl / kappa for dl in deltas]
                out.append(-2 * kappa**2 * eta * beta**2 * a0 / 2 * sum(p * dot(base[0], dl) for p, dl in zip(ps, base)))
        return out

    return build


def _claims(loss: Loss) -> list[Claim]:
    step_flip, step_align = sp.Symbol(r"\Delta^{\mathrm{flip}}_1"), sp.Symbol(r"\Delta^{\mathrm{align}}_1")
    E_omega = sp.Symbol(r"\mathbb{E}[\omega(h)\,s\,g]")
    E_sg, E_dphi = sp.Symbol(r"\bar m"), sp.Symbol(r"\mathbb{E}[\phi'(h)\,s\,g]")
    dphi0 = sp.Symbol(r"\phi'(0)")
    ratio = chain(
        "ratio",
        Form(step_flip, _ratio_instance(loss, "flip")),
        [
            ("=", Form(2 * eta * beta * (2 * dphi0 * E_sg - E_dphi - E_omega), _ratio_instance(loss, "omega")),
             r"$\phi'(-h) = 2\phi'(0) - \phi'(h) - \omega(h)$"),
            ("=", Form(2 * eta * beta * (2 * dphi0 * E_sg - E_omega), _ratio_instance(loss, "stationary")),
             r"stationarity $\mathbb{E}[\phi'(h)\,s\,g] = 0$"),
            ("=", Form(-2 * step_align - 2 * eta * beta * E_omega, _ratio_instance(loss, "align")),
             r"$\Delta^{\mathrm{align}}_1 = 2\eta\beta(-\phi'(0))\bar m$ (update-rate)"),
        ],
        instances=f"stationary two-atom laws; generic phi' and {loss.name}",
    )
    x = sp.Symbol("x", real=True)
    dphi = loss.bind(loss.dphi)
    omega_expr = sp.simplify(to_elementary(_omega(lambda y: dphi.subs(h, y), x)))
    omega = chain(
        f"omega for {loss.name}",
        Form(_omega(lambda y: sp.Function(r"\phi'")(y), x), lambda: [_omega(lambda y: dphi.subs(h, y), x)]),
        [("=", Form(omega_expr, lambda: [omega_expr]), rf"$\phi'(h) = {sp.latex(dphi)}$")],
        instances=loss.name,
        prose=(r"so the flipped step is exactly $-2\Delta^{\mathrm{align}}_1$ (ratio 2)." if omega_expr == 0
               else r"$\omega \not\equiv 0$: the ratio differs from 2 by the term $2\eta\beta\,\mathbb{E}[\omega(h)sg]$."),
    )
    K, b, j = sp.Symbol("K", positive=True, integer=True), sp.Symbol("b", integer=True), sp.Symbol("j", integer=True)
    G, p_ = sp.IndexedBase("G"), sp.IndexedBase("p")
    rate = chain(
        "kappa law",
        Form(sp.Symbol(r"\beta\,\Delta^{\mathrm{flip}\top}_1\mathbb{E}[sg\mid b]"), _kappa_instance("rate")),
        [("=", Form(-2 * kappa**2 * eta * beta**2 * (-dphi0) / 2 * sp.Sum(p_[j] * G[b, j], (j, 1, K)), _kappa_instance("gram")),
          r"$\Delta^{\mathrm{flip}}_1 = -2\cdot 2\eta\beta(-\phi'(0))\bar m$, $\bar m = \frac{\kappa}{2}\sum_b p_b\delta_b$, $\mathbb{E}[sg\mid b] = \kappa\delta_b/2$")],
        instances="K = 2, 3 (offsets orthogonal), omega = 0",
        prose=r"i.e. $-2\kappa^2$ times the first-step alignment rate $\frac{\eta\beta^2(-\phi'(0))}{2}\sum_{b'}p_{b'}G_{bb'}$.",
    )
    return [ratio, omega, rate]


def build(loss: Loss) -> Theorem:
    return Theorem(
        id="misalignment-rate",
        title="Misalignment from a stationary point is twice as fast as alignment",
        assumptions=[
            Assumption("head", r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$; population GD with step $\eta$."),
            Assumption("stationary start", r"$\Delta^\star$ is stationary for the original labels: $\mathbb{E}[\phi'(\beta s\Delta^{\star\top}g)\,s\,g] = 0$ (any law of $(s, g)$)."),
            Assumption("kappa law", r"balanced classes, $\mu_b^\pm = c_b \pm \frac12\kappa\delta_b$ with $c_b\perp\delta$, $\omega \equiv 0$."),
        ],
        claims=_claims(loss),
        summary=r"$\omega(h) = 2\phi'(0) - \phi'(h) - \phi'(-h)$ (Im \& Li 2024, arXiv 2403.18742, misalignment).",
        loss_name=loss.name,
    )
