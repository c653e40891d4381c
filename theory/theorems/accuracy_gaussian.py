r"""``accuracy-gaussian``: exact training accuracy for Gaussian classes, and along population GD.

Let behaviour :math:`b` have positive fraction :math:`q_b` and classes
:math:`g \mid (b, s{=}\pm) \sim N(\mu_b^\pm, \Sigma_b^\pm)`, and let the head be
:math:`W = W_{\rm ref} + \tfrac12(e_1-e_2)\Delta^\top`, so that the margin is
:math:`h = \beta s\,\Delta^\top g` (Im & Li 2024, arXiv 2403.18742, Sec. 4). Then

.. math::
   \operatorname{Acc}_b(\Delta) = \Pr(h > 0 \mid b)
   = q_b\,\Phi\!\Big(\frac{\Delta^\top\mu_b^+}{\sqrt{\Delta^\top\Sigma_b^+\Delta}}\Big)
   + (1-q_b)\,\Phi\!\Big(\frac{-\Delta^\top\mu_b^-}{\sqrt{\Delta^\top\Sigma_b^-\Delta}}\Big).

Balanced and isotropic (:math:`q_b = \tfrac12`, :math:`\mu_b^\pm = c_b \pm \delta_b/2` with offsets
orthogonal to every :math:`\delta`, :math:`\Sigma_b^\pm = \sigma_b^2 I`), every
:math:`\Delta = \sum_{b'} a_{b'}\delta_{b'}` gives
:math:`\operatorname{Acc}_b = \Phi\big(\sum_{b'} a_{b'}G_{bb'} / (2\sigma_b\sqrt{a^\top G a})\big)`,
:math:`G_{bb'} = \langle\delta_b,\delta_{b'}\rangle`. Population GD from :math:`W_{\rm ref}` stays
in that span: :math:`a(1) = \eta\beta(-\phi'(0))\,p` (so the one-step accuracy
:math:`\Phi(\sum_{b'}p_{b'}G_{bb'}/(2\sigma_b\sqrt{p^\top G p}))` does not depend on
:math:`\eta, \beta` or the loss), and after :math:`t` steps

.. math:: a_b(t+1) = \Big(1 - 2\eta\beta^2\sum_{b'} p_{b'}\sigma_{b'}^2 B_{b'}(t)\Big)a_b(t)
          + \eta\beta\,p_b A_b(t),

with :math:`A_b, B_b` of ``population-flow`` at :math:`m = \Delta_t^\top\delta_b/2`,
:math:`r = \sigma_b\|\Delta_t\|`. Numerics: :func:`prefdyn.numerics.population.population_gd`.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.stats import E as expect
from sympy.stats import Normal, P

from ..framework import Assumption, Form, Theorem, chain
from ..losses import Loss
from ..symbols import beta, eta
from ._traj import Phi, dot, norm, vector

q = sp.Symbol("q_b", positive=True)
u = sp.Symbol("u", real=True)
m_plus, m_minus = sp.Symbol(r"\Delta^\top\mu_b^+", real=True), sp.Symbol(r"\Delta^\top\mu_b^-", real=True)
r_plus, r_minus = sp.Symbol(r"\sqrt{\Delta^\top\Sigma_b^+\Delta}", positive=True), sp.Symbol(r"\sqrt{\Delta^\top\Sigma_b^-\Delta}", positive=True)
sigma_b = sp.Symbol(r"\sigma_b", positive=True)
acc = sp.Function(r"\operatorname{Acc}_b")
Delta, Delta_1, Delta_t, Delta_next = (sp.Symbol(rf"\Delta{s}") for s in ("", "_1", "_t", "_{t+1}"))

# Gram-matrix display objects (indexed over behaviours)
K = sp.Symbol("K", positive=True, integer=True)
b, j, k = sp.symbols("b j k", positive=True, integer=True)
G, p_, a_ = sp.IndexedBase("G"), sp.IndexedBase("p"), sp.IndexedBase("a")
A_, B_, sig_ = sp.IndexedBase("A"), sp.IndexedBase("B"), sp.IndexedBase(r"\sigma")


def _gram_phi(coef: sp.IndexedBase) -> sp.Expr:
    num = sp.Sum(coef[j] * G[b, j], (j, 1, K))
    den = 2 * sig_[b] * sp.sqrt(sp.Sum(coef[j] * coef[k] * G[j, k], (j, 1, K), (k, 1, K)))
    return Phi(num / den)


# ------------------------------------------------------------------ concrete instances

#: dimensions of the projection instances; behaviour counts of the span instances
PROJ_DIMS = (2, 3)
SPAN_KS = (1, 2, 3)


def _cholesky(d: int) -> sp.Matrix:
    return sp.Matrix(d, d, lambda i, c: sp.Symbol(f"L_{i + 1}{c + 1}", real=True) if c <= i else 0)


def _mgf_by_coordinates() -> list[sp.Expr]:
    r""":math:`\mathbb E e^{u\Delta^\top g}` for :math:`g = \mu + L\xi`, :math:`\xi` standard normal,
    as a product of one-dimensional MGFs computed by :mod:`sympy.stats`."""
    out = []
    for d in PROJ_DIMS:
        D, mu, L = vector("D", d), vector("mu", d), _cholesky(d)
        w = L.T * D
        coords = [expect(sp.exp(u * w[i] * Normal(f"xi{i}", 0, 1))) for i in range(d)]
        out.append(sp.exp(u * dot(D, mu)) * sp.Mul(*coords))
    return out


def _mgf_of_projection() -> list[sp.Expr]:
    out = []
    for d in PROJ_DIMS:
        D, mu, L = vector("D", d), vector("mu", d), _cholesky(d)
        out.append(sp.exp(u * dot(D, mu) + u**2 * dot(D, L * L.T * D) / 2))
    return out


_m1, _m2 = sp.symbols("m_1 m_2", real=True)
_r1, _r2 = sp.symbols("r_1 r_2", positive=True)


def _acc_definition() -> list[sp.Expr]:
    z1, z2 = Normal("Z1", _m1, _r1), Normal("Z2", _m2, _r2)
    return [(q * P(beta * z1 > 0) + (1 - q) * P(-beta * z2 > 0)).rewrite(sp.erf)]


def _acc_unscaled() -> list[sp.Expr]:
    z1, z2 = Normal("Z1", _m1, _r1), Normal("Z2", _m2, _r2)
    return [(q * P(z1 > 0) + (1 - q) * P(z2 < 0)).rewrite(sp.erf)]


def _acc_phi() -> list[sp.Expr]:
    return [q * Phi(_m1 / _r1) + (1 - q) * Phi(-_m2 / _r2)]


def _span_setup(Kc: int) -> tuple[list[sp.Matrix], list[sp.Matrix], list[sp.Symbol], list[sp.Symbol]]:
    r"""``Kc`` distinguishability vectors in the first ``Kc`` coordinates of
    :math:`\mathbb R^{Kc+1}` and offsets along the last one (orthogonal to every :math:`\delta`)."""
    deltas = [sp.Matrix([*vector(f"delta{c}", Kc), 0]) for c in range(1, Kc + 1)]
    offsets = [sp.Matrix([0] * Kc + [sp.Symbol(f"gamma_{c}", real=True)]) for c in range(1, Kc + 1)]
    sigmas = [sp.Symbol(f"sigma_{c}", positive=True) for c in range(1, Kc + 1)]
    coefs = [sp.Symbol(f"a_{c}", positive=True) for c in range(1, Kc + 1)]
    return deltas, offsets, sigmas, coefs


def _span_accuracy(coefficients: str, kind: str) -> Callable[[], list[sp.Expr]]:
    """Builder: behaviour-1 accuracy at ``Delta = sum a delta`` (``coefficients`` = 'a' or 'p')
    in one of three forms: 'general' (the Phi form), 'balanced', 'gram'."""

    def forms() -> list[sp.Expr]:
        out = []
        for Kc in SPAN_KS:
            deltas, offsets, sigmas, coefs = _span_setup(Kc)
            if coefficients == "p":
                ps = [sp.Symbol(f"p_{c}", positive=True) for c in range(1, Kc + 1)]
                coefs = [eta * beta * sp.Symbol("alpha", positive=True) * pc for pc in ps]
            D = sum((c * dl for c, dl in zip(coefs, deltas)), sp.zeros(Kc + 1, 1))
            d1, c1, s1 = deltas[0], offsets[0], sigmas[0]
            if kind == "general":
                half = sp.Rational(1, 2)
                mp, mm = c1 + d1 / 2, c1 - d1 / 2
                out.append(half * Phi(dot(D, mp) / (s1 * norm(D))) + half * Phi(-dot(D, mm) / (s1 * norm(D))))
            elif kind == "balanced":
                out.append(Phi(dot(D, d1) / (2 * s1 * norm(D))))
            else:
                Gm = sp.Matrix([[dot(u1, u2) for u2 in deltas] for u1 in deltas])
                cv = sp.Matrix(coefs if coefficients == "a" else [sp.Symbol(f"p_{c}", positive=True) for c in range(1, Kc + 1)])
                out.append(Phi((Gm[0, :] * cv)[0, 0] / (2 * s1 * sp.sqrt((cv.T * Gm * cv)[0, 0]))))
        return out

    return forms


def _recursion(kind: str) -> list[sp.Matrix]:
    r"""One population-GD step from :math:`\Delta_t = \sum a_b\delta_b` (balanced, isotropic), with
    :math:`A, B` undefined functions of each component's :math:`(m, r)`."""
    A, B = sp.Function("A"), sp.Function("B")
    out = []
    for Kc in SPAN_KS[1:]:
        deltas, offsets, sigmas, coefs = _span_setup(Kc)
        ps = [sp.Symbol(f"p_{c}", positive=True) for c in range(1, Kc + 1)]
        D = sum((c * dl for c, dl in zip(coefs, deltas)), sp.zeros(Kc + 1, 1))
        if kind == "flow":
            drift = sp.zeros(Kc + 1, 1)
            for pb, dl, cb, sb in zip(ps, deltas, offsets, sigmas):
                for s in (1, -1):
                    mu = cb + s * dl / 2
                    m, r = s * dot(D, mu), sb * norm(D)
                    drift += pb * sp.Rational(1, 2) * (s * mu * A(m, r) - beta * sb**2 * D * B(m, r))
            out.append(D + 2 * eta * beta * drift)
        else:
            AB = [(A(dot(D, dl) / 2, sb * norm(D)), B(dot(D, dl) / 2, sb * norm(D))) for dl, sb in zip(deltas, sigmas)]
            shrink = 1 - 2 * eta * beta**2 * sum(pb * sb**2 * Bb for pb, sb, (_, Bb) in zip(ps, sigmas, AB))
            out.append(sum(((shrink * ab + eta * beta * pb * Ab) * dl for ab, pb, (Ab, _), dl in zip(coefs, ps, AB, deltas)), sp.zeros(Kc + 1, 1)))
    return out


def build(loss: Loss) -> Theorem:
    alpha0 = -loss.bind(loss.dphi_at_zero)
    projection = chain(
        "projection",
        Form(sp.Symbol(r"\mathbb{E}\, e^{u\Delta^\top g}"), _mgf_by_coordinates),
        [("=", Form(sp.exp(u * m_plus + u**2 * r_plus**2 / 2), _mgf_of_projection),
          r"$g = \mu + L\xi$, $\Sigma = LL^\top$, $\xi \sim N(0, I)$; product of one-dimensional MGFs")],
        instances="d = 2, 3, general Sigma = L L^T",
        prose=r"so $\Delta^\top g \mid (b,\pm) \sim N(\Delta^\top\mu_b^\pm, \Delta^\top\Sigma_b^\pm\Delta)$.",
    )
    accuracy = chain(
        "accuracy",
        Form(acc(Delta), _acc_definition),
        [
            ("=", Form(q * sp.Symbol(r"\Pr(Z_b^+ > 0)") + (1 - q) * sp.Symbol(r"\Pr(Z_b^- < 0)"), _acc_unscaled),
             r"$h = \beta s\Delta^\top g$, $\beta > 0$, $Z_b^\pm = \Delta^\top g \mid (b,\pm)$ (projection)"),
            ("=", Form(q * Phi(m_plus / r_plus) + (1 - q) * Phi(-m_minus / r_minus), _acc_phi),
             r"standardise the one-dimensional Gaussians"),
        ],
        instances="sympy.stats normals",
    )
    span = chain(
        "span",
        Form(acc(sp.Sum(a_[j] * sp.Symbol(r"\delta_j"), (j, 1, K))), _span_accuracy("a", "general")),
        [
            ("=", Form(Phi(sp.Symbol(r"\Delta^\top\delta_b") / (2 * sigma_b * sp.Symbol(r"\|\Delta\|"))), _span_accuracy("a", "balanced")),
             r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \delta_b/2$, $c_b \perp \Delta$, $\Sigma_b^\pm = \sigma_b^2 I$"),
            ("=", Form(_gram_phi(a_), _span_accuracy("a", "gram")), r"expand in the Gram matrix $G$"),
        ],
        instances="K = 1, 2, 3 (offsets orthogonal)",
    )
    one_step = chain(
        "one step",
        Form(acc(Delta_1), _span_accuracy("p", "general")),
        [("=", Form(_gram_phi(p_), _span_accuracy("p", "gram")),
          rf"$\Delta_1 = \eta\beta(-\phi'(0))\sum_b p_b\delta_b$ (update-rate), $-\phi'(0) = {sp.latex(alpha0)} > 0$; the scale cancels")],
        instances="K = 1, 2, 3 (offsets orthogonal)",
    )
    shrink = 1 - 2 * eta * beta**2 * sp.Sum(p_[j] * sig_[j] ** 2 * B_[j], (j, 1, K))
    recursion = chain(
        "t steps",
        Form(Delta_next, lambda: _recursion("flow")),
        [("=", Form(sp.Sum((shrink * a_[b] + eta * beta * p_[b] * A_[b]) * sp.Symbol(r"\delta_b"), (b, 1, K)), lambda: _recursion("span")),
          r"population-flow at $\Delta_t = \sum_b a_b\delta_b$; $m_b^+ = m_b^- = \Delta_t^\top\delta_b/2$, $r_b = \sigma_b\|\Delta_t\|$")],
        instances="K = 2, 3 (offsets orthogonal)",
        prose=r"so $\operatorname{Acc}_b(t)$ is the span form at $a(t)$, and $a(0) = 0$, $a(1) = \eta\beta(-\phi'(0))\,p$.",
    )
    return Theorem(
        id="accuracy-gaussian",
        title="Exact accuracy for Gaussian preference classes",
        assumptions=[
            Assumption("head", r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, so $h = \beta s\,\Delta^\top g$, $\beta > 0$."),
            Assumption("gaussian classes", r"$g \mid (b, s{=}\pm) \sim N(\mu_b^\pm, \Sigma_b^\pm)$, $\Delta^\top\Sigma_b^\pm\Delta > 0$; behaviour $b$ has positive fraction $q_b$."),
            Assumption("balanced isotropic (claims span, one step, t steps)", r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$ with $c_b \perp \delta_{b'}$ for all $b'$, $\Sigma_b^\pm = \sigma_b^2 I$; population GD with step $\eta$ from $W_{\mathrm{ref}}$."),
        ],
        claims=[accuracy, projection, span, one_step, recursion],
        summary=r"The accuracy of behaviour $b$ is $\operatorname{Acc}_b(\Delta) = \Pr(h > 0 \mid b)$ (Im \& Li 2024, arXiv 2403.18742).",
        loss_name=loss.name,
    )
