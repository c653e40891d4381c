r"""``priority``: behaviours compete for one preference direction.

Balanced behaviours with orthogonal :math:`\delta_b` and isotropic noise :math:`\sigma_b` share the
direction :math:`\Delta = \sum_b a_b\delta_b` (accuracy-gaussian, span), and

.. math:: \operatorname{Acc}_b = \Phi\Big(\frac{\Delta^\top\delta_b}{2\sigma_b\|\Delta\|}\Big)
          = \Phi\Big(\frac{a_b\|\delta_b\|^2}{2\sigma_b\sqrt{\sum_{b'}a_{b'}^2\|\delta_{b'}\|^2}}\Big):

learning one behaviour adds noise to every other behaviour's margin (**interference law**).
Im & Li (2024, arXiv 2403.18742, Sec. 4.2) define the **priority level** of behaviours
:math:`i, j` by :math:`\bar b = \frac12(\delta_i+\delta_j)`, :math:`p_i = \langle\bar b,\delta_i\rangle/\|\bar b\|`,
:math:`\operatorname{gap} = (p_i - p_j)/\max(\|\delta_i\|,\|\delta_j\|)`; for any geometry

.. math:: \operatorname{gap}_{ij} = \frac{\|\delta_i\|^2 - \|\delta_j\|^2}{2\|\bar b\|\max(\|\delta_i\|,\|\delta_j\|)},

so the more distinguishable behaviour has priority. **Ordering of times.** With equal
:math:`\sigma_b = \sigma`, a convex decreasing :math:`\phi` and
:math:`\eta \le 1/(2\beta^2 L_2\lambda_{\max}(\mathbb E gg^\top))`, the margins
:math:`m_b = a_b\|\delta_b\|^2/2` follow
:math:`m_b(t+1) = (1 - c_t)m_b(t) + k_b A(m_b(t), r_t)` with :math:`k_b = \eta\beta p_b\|\delta_b\|^2/2`
and a common :math:`r_t = \sigma\|\Delta_t\|`; if :math:`k_i \ge k_j`
(:math:`p_i\|\delta_i\|^2 \ge p_j\|\delta_j\|^2`) then :math:`m_i(t) \ge m_j(t)`, hence
:math:`\operatorname{Acc}_i(t) \ge \operatorname{Acc}_j(t)` for every :math:`t`, and :math:`i` reaches any
accuracy first. **Fixed point.** Population GD stops at
:math:`a_b^\star = p_bA_b^\star/(2\beta\sum_{b'}p_{b'}\sigma_{b'}^2B_{b'}^\star)`, where
:math:`\operatorname{Acc}_b \le \Phi(\|\delta_b\|/(2\sigma_b))`, the accuracy of :math:`b` trained alone
(strictly below when another behaviour is learnt). DESIGN's example
(:math:`\|\delta\| = 3, 1`, :math:`p = \frac12`, :math:`\sigma = \beta = 1`, :math:`\eta = 2`):
0.9226/0.5628 after one step, 0.8972/0.6058 at the joint fixed point, 0.9332/0.6915 alone
(``prefdyn predict``).
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Claim, Form, Theorem, chain
from ..losses import Loss
from ..symbols import beta, eta
from ._traj import Phi, dot, norm, vector

K = sp.Symbol("K", positive=True, integer=True)
j = sp.Symbol("j", integer=True)
a_, nd = sp.IndexedBase("a"), sp.IndexedBase(r"\|\delta\|")
sigma_b = sp.Symbol(r"\sigma_b", positive=True)
acc = sp.Function(r"\operatorname{Acc}_b")
ORTHO_KS = (2, 3)


def _orthogonal(Kc: int) -> tuple[list[sp.Symbol], list[sp.Symbol], list[sp.Matrix], sp.Matrix]:
    ns = [sp.Symbol(f"n_{c}", positive=True) for c in range(1, Kc + 1)]
    coefs = [sp.Symbol(f"a_{c}", positive=True) for c in range(1, Kc + 1)]
    deltas = [n * sp.eye(Kc)[:, c] for c, n in enumerate(ns)]
    D = sum((a * dl for a, dl in zip(coefs, deltas)), sp.zeros(Kc, 1))
    return ns, coefs, deltas, D


def _interference(kind: str) -> Callable[[], list[sp.Expr]]:
    s1 = sp.Symbol("sigma_1", positive=True)

    def build() -> list[sp.Expr]:
        out = []
        for Kc in ORTHO_KS:
            ns, coefs, deltas, D = _orthogonal(Kc)
            if kind == "projection":
                out.append(Phi(dot(D, deltas[0]) / (2 * s1 * norm(D))))
            elif kind == "law":
                out.append(Phi(coefs[0] * ns[0] ** 2 / (2 * s1 * sp.sqrt(sum(a**2 * n**2 for a, n in zip(coefs, ns))))))
            else:
                out.append(Phi(ns[0] / (2 * s1)))
        return out

    return build


def _priority(kind: str) -> Callable[[], list[sp.Expr]]:
    def build() -> list[sp.Expr]:
        out = []
        for d in (2, 3):
            di, dj = vector("di", d), vector("dj", d)
            bbar = (di + dj) / 2
            if kind == "level":
                out.append(dot(bbar, di) / norm(bbar) - dot(bbar, dj) / norm(bbar))
            else:
                out.append((dot(di, di) - dot(dj, dj)) / (2 * norm(bbar)))
        return out

    return build


# symbols of the ordering induction step
D_gap, k_gap, A_i, c_t, k_j, B_bar, slack = (
    sp.Symbol(n, nonnegative=True) for n in ("D", r"(k_{i} - k_{j})", "A_{i}", "c_{t}", "k_{j}", r"\bar B", "s")
)


def _fixed_point(kind: str) -> Callable[[], list[sp.Expr]]:
    def build() -> list[sp.Expr]:
        ps = [sp.Symbol(f"p_{c}", positive=True) for c in (1, 2)]
        As = [sp.Symbol(f"A_{c}", positive=True) for c in (1, 2)]
        Bs = [sp.Symbol(f"B_{c}", positive=True) for c in (1, 2)]
        sig = [sp.Symbol(f"sigma_{c}", positive=True) for c in (1, 2)]
        c = 2 * eta * beta**2 * sum(p * s**2 * B for p, s, B in zip(ps, sig, Bs))
        star = [p * A / (2 * beta * sum(pp * s**2 * B for pp, s, B in zip(ps, sig, Bs))) for p, A in zip(ps, As)]
        if kind == "map":
            return [(1 - c) * a + eta * beta * p * A for a, p, A in zip(star, ps, As)]
        return star

    return build


def _claims() -> list[Claim]:
    Delta = sp.Sum(a_[j] * sp.Symbol(r"\delta_j"), (j, 1, K))
    b = sp.Symbol("b", integer=True)
    law_rhs = Phi(a_[b] * nd[b] ** 2 / (2 * sigma_b * sp.sqrt(sp.Sum(a_[j] ** 2 * nd[j] ** 2, (j, 1, K)))))
    interference = chain(
        "interference",
        Form(acc(Delta), _interference("projection")),
        [("=", Form(law_rhs, _interference("law")), r"$\langle\delta_b,\delta_{b'}\rangle = 0$ for $b \ne b'$")],
        instances="K = 2, 3 orthogonal",
        prose=r"(accuracy-gaussian, span form, with $G$ diagonal).",
    )
    alone = chain(
        "joint vs alone",
        Form(law_rhs, _interference("law")),
        [("<=", Form(Phi(nd[b] / (2 * sigma_b)), _interference("alone")),
          r"$\|\Delta\| \ge a_b\|\delta_b\|$ and $\Phi$ increasing; alone, $\Delta \parallel \delta_b$ attains it")],
        instances="K = 2, 3 orthogonal",
        domain={},
    )
    bbar = sp.Symbol(r"\|\bar b\|", positive=True)
    ni, nj = sp.Symbol(r"\|\delta_i\|", positive=True), sp.Symbol(r"\|\delta_j\|", positive=True)
    level = chain(
        "priority level",
        Form(sp.Symbol("p_i") - sp.Symbol("p_j"), _priority("level")),
        [("=", Form((ni**2 - nj**2) / (2 * bbar), _priority("closed")),
          r"$\langle\delta_i + \delta_j, \delta_i - \delta_j\rangle = \|\delta_i\|^2 - \|\delta_j\|^2$")],
        instances="d = 2, 3, any geometry",
        prose=r"so $\operatorname{gap}_{ij} = (\|\delta_i\|^2 - \|\delta_j\|^2)/(2\|\bar b\|\max(\|\delta_i\|, \|\delta_j\|))$.",
    )
    c_slack = 1 - k_j * beta * B_bar - slack  # the step-size condition, as s >= 0
    ordering = chain(
        "ordering",
        Form(sp.Symbol(r"m_{i}(t+1) - m_{j}(t+1)"), lambda: [(1 - c_slack) * D_gap + (k_gap + k_j) * A_i - k_j * (A_i + beta * B_bar * D_gap)]),
        [
            ("=", Form((1 - c_t - k_j * beta * B_bar) * D_gap + k_gap * A_i, lambda: [(1 - c_slack - k_j * beta * B_bar) * D_gap + k_gap * A_i]),
             r"mean value theorem $A(m_j) = A(m_i) + \beta\bar B\,(m_i - m_j)$, $\bar B \in [0, L_2]$; $s := 1 - c_t - k_j\beta\bar B \ge 0$ by the step-size condition"),
            (">=", Form(sp.Integer(0), lambda: [sp.Integer(0)]), r"$D = m_i(t) - m_j(t) \ge 0$ (induction), $k_i \ge k_j$, $A \ge 0$"),
        ],
        instances="induction step",
        prose=r"hence $m_i(t) \ge m_j(t)$ and $\operatorname{Acc}_i(t) = \Phi(m_i/r_t) \ge \operatorname{Acc}_j(t)$ for all $t$.",
    )
    ps, As, Bs, sg = (sp.IndexedBase(n) for n in ("p", "A", "B", r"\sigma"))
    denom = 2 * beta * sp.Sum(ps[j] * sg[j] ** 2 * Bs[j], (j, 1, K))
    fixed = chain(
        "fixed point",
        Form((1 - eta * denom * beta) * a_[b] + eta * beta * ps[b] * As[b], _fixed_point("map")),
        [("=", Form(ps[b] * As[b] / denom, _fixed_point("star")), r"$a_b = a_b^\star$ solves $a_b = (1 - c)a_b + \eta\beta p_bA_b$")],
        instances="K = 2",
        prose=r"at $a = a^\star$ (accuracy-gaussian, t steps; $A^\star, B^\star$ at the fixed point).",
    )
    return [interference, level, ordering, fixed, alone]


def build(loss: Loss) -> Theorem:
    return Theorem(
        id="priority",
        title="Prioritisation of behaviours sharing one preference direction",
        assumptions=[
            Assumption("shared direction", r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$; population GD from $W_{\mathrm{ref}}$ with step $\eta$."),
            Assumption("orthogonal isotropic", r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$, $c_b\perp\delta$, $\langle\delta_b,\delta_{b'}\rangle = 0$ ($b\ne b'$), $g\mid(b,\pm) \sim N(\mu_b^\pm, \sigma_b^2 I)$ (priority level: any geometry)."),
            Assumption("ordering", r"$\sigma_b = \sigma$; $\phi$ convex and decreasing; $\eta \le 1/(2\beta^2 L_2\lambda_{\max}(\mathbb{E}gg^\top))$."),
        ],
        claims=_claims(),
        summary=r"Im \& Li (2024, arXiv 2403.18742) prioritisation, made quantitative.",
        loss_name=loss.name,
    )
