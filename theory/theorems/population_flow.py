r"""``population-flow``: the population update of the preference direction for Gaussian mixtures.

With :math:`W = W_{\rm ref} + \frac12(e_1-e_2)\Delta^\top` and :math:`h = \beta s\Delta^\top g`,
population gradient descent with step :math:`\eta` moves
:math:`\Delta_{t+1} = \Delta_t + 2\eta\beta\,\mathbb E[-\phi'(h)\, s\, g]`, and for
:math:`g \mid (b, s) \sim N(\mu_b^s, \Sigma_b^s)` Stein's lemma gives, for any :math:`\phi`,

.. math::
   \mathbb E[-\phi'(h)\,s\,g] = \sum_b p_b \sum_{s=\pm} q_b^s
   \big[ s\,\mu_b^s A_b^s - \beta\,\Sigma_b^s\Delta\, B_b^s \big],\qquad
   A = \mathbb E[-\phi'(\beta z)],\; B = \mathbb E[\phi''(\beta z)],\;
   z \sim N(m, r^2),

:math:`m = s\Delta^\top\mu_b^s`, :math:`r^2 = \Delta^\top\Sigma_b^s\Delta`, :math:`q_b^+ = q_b`,
:math:`q_b^- = 1 - q_b` (Im & Li 2024, arXiv 2403.18742, Sec. 4). :math:`A` and :math:`B` are
one-dimensional Gaussian integrals, evaluated by Gauss-Hermite quadrature on tensors in
:mod:`prefdyn.numerics.population`. For DPO (:math:`-\phi' = \sigma(-h)`,
:math:`\phi'' = \sigma'(h)`) the probit approximation :math:`\sigma(x)\approx\Phi(\lambda x)`,
:math:`\lambda^2 = \pi/8`, gives closed forms with explicit error bounds
(:math:`s_r = \sqrt{1+\lambda^2\beta^2r^2}`):

.. math::
   \Big|A - \Phi\Big(\frac{-\lambda\beta m}{s_r}\Big)\Big| \le 0.0177,\qquad
   \Big|B - \frac{\lambda}{s_r}\varphi\Big(\frac{\lambda\beta m}{s_r}\Big)\Big| \le 0.0116,

since :math:`\sup_x|\sigma(x) - \Phi(\lambda x)| = 0.017671` and
:math:`\sup_x|\sigma'(x) - \lambda\varphi(\lambda x)| = 0.011575` hold pointwise inside the
expectation, and :math:`\mathbb E\,\Phi(a + bZ) = \Phi(a/\sqrt{1+b^2})`,
:math:`\mathbb E\,\varphi(a+bZ) = \varphi(a/\sqrt{1+b^2})/\sqrt{1+b^2}` exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Claim, Form, Theorem, chain
from ..functions import sigmoid
from ..losses import Loss
from ..symbols import beta, eta
from ._head import head
from ._head import vector as head_vector
from ._traj import (
    PROBIT_ERROR_A,
    PROBIT_ERROR_B,
    PROBIT_LAMBDA,
    Phi,
    dot,
    gaussian_mgf,
    gaussian_mgf_gradient,
    normal_pdf,
    symmetric,
    vector,
)

lam = sp.Symbol(r"\lambda", positive=True)
lam_ = sp.Symbol("lambda_t", real=True)  # exponent of the test family
m, r = sp.Symbol("m", real=True), sp.Symbol("r", positive=True)
x = sp.Symbol("x", real=True)
a_, b_ = sp.Symbol("a", real=True), sp.Symbol("b", real=True)
q = sp.Symbol("q_b", positive=True)
S = sp.IndexedBase(r"\Sigma")
mu = sp.IndexedBase(r"\mu")
A_s, B_s = sp.Symbol("A^s", real=True), sp.Symbol("B^s", real=True)
s_idx = sp.Symbol("s", integer=True)
Delta = sp.Symbol(r"\Delta")
DIMS = (2, 3)


def _stein_form(kind: str) -> Callable[[], list[sp.Matrix]]:
    r"""Concrete forms for the test family :math:`-\phi'(h) = e^{\lambda_t h}` (so
    :math:`\phi''(h) = -\lambda_t e^{\lambda_t h}`): exact Gaussian expectations from the MGF.

    kinds: ``lhs`` :math:`\mathbb E[-\phi'(h) s g]`; ``split`` mean/deviation split;
    ``stein`` the right-hand side with :math:`A, B` from the one-dimensional law of :math:`z`.
    """

    def build() -> list[sp.Matrix]:
        out = []
        for d in DIMS:
            D = vector("D", d)
            total = sp.zeros(d, 1)
            for s, weight in ((1, q), (-1, 1 - q)):
                tag = "p" if s > 0 else "m"
                mean, cov = vector(f"mu{tag}", d), symmetric(f"S{tag}", d)
                u = lam_ * beta * s * D  # e^{lambda_t h} = e^{u^T g}
                M = gaussian_mgf(u, mean, cov)
                if kind == "lhs":
                    term = s * gaussian_mgf_gradient(u, mean, cov)
                elif kind == "split":
                    term = s * mean * M + s * (gaussian_mgf_gradient(u, mean, cov) - mean * M)
                else:
                    z_m, z_r2 = s * dot(D, mean), dot(D, cov * D)
                    A = sp.exp(lam_ * beta * z_m + lam_**2 * beta**2 * z_r2 / 2)  # E e^{lambda_t beta z}
                    B = -lam_ * A  # E phi''(beta z)
                    term = s * mean * A - beta * cov * D * B
                total += weight * term
            out.append(total)
        return out

    return build


def _one_step(kind: str) -> Callable[[], list[sp.Matrix]]:
    r"""Change of :math:`\Delta = (e_1-e_2)^\top(W - W_{\rm ref})` after one gradient step on one
    example with :math:`\phi'(h) = c` (dpo-gradient: :math:`\nabla_W\phi = c\beta(e_{y_w}-e_{y_l})g^\top`)."""

    def build() -> list[sp.Matrix]:
        c = sp.Symbol("c", real=True)
        out = []
        for V, d in ((2, 2), (3, 2)):
            W, g = head("W", V, d), head_vector("g", d)
            e = sp.zeros(1, V)
            e[0], e[1] = 1, -1
            for s in (1, -1):
                ew_el = e.T * s
                if kind == "lhs":
                    W_next = W - eta * c * beta * ew_el * g.T
                    out.append((e * (W_next - W)).T)
                else:
                    out.append(2 * eta * beta * (-c) * s * g)
        return out

    return build


def _probit(kind: str, upper: bool) -> Callable[[], list[sp.Expr]]:
    r"""Pointwise forms (``x`` is :math:`-\beta z` for A, :math:`\beta z` for B) of the probit
    error bounds."""
    sign = 1 if upper else -1

    def build() -> list[sp.Expr]:
        if kind == "A-point":
            return [sigmoid(x)]
        if kind == "A-probit":
            return [Phi(PROBIT_LAMBDA * x) + sign * PROBIT_ERROR_A]
        if kind == "B-point":
            return [sigmoid(x) * sigmoid(-x)]
        if kind == "B-probit":
            return [PROBIT_LAMBDA * normal_pdf(PROBIT_LAMBDA * x) + sign * PROBIT_ERROR_B]
        raise ValueError(kind)

    return build


def _gauss_probit(kind: str) -> Callable[[], list[sp.Expr]]:
    r""":math:`\partial_a \mathbb E\,\Phi(a + bZ) = \int\varphi(a+bz)\varphi(z)\,dz` computed by SymPy,
    against :math:`\partial_a \Phi(a/\sqrt{1+b^2})` (both sides vanish as :math:`a\to-\infty`)."""
    z = sp.Symbol("z", real=True)

    def build() -> list[sp.Expr]:
        if kind == "integral":
            return [sp.integrate(normal_pdf(a_ + b_ * z) * normal_pdf(z), (z, -sp.oo, sp.oo))]
        return [sp.diff(Phi(a_ / sp.sqrt(1 + b_**2)), a_)]

    return build


def _probit_claims() -> list[Claim]:
    s_r = sp.sqrt(1 + lam**2 * beta**2 * r**2)
    A_disp = sp.Symbol(r"\mathbb{E}\,\sigma(-\beta z)")
    B_disp = sp.Symbol(r"\mathbb{E}\,\sigma'(\beta z)")
    claims = []
    for upper in (True, False):
        rel = "<=" if upper else ">="
        sign = 1 if upper else -1
        word = "upper" if upper else "lower"
        claims.append(chain(
            f"probit A {word}",
            Form(A_disp, _probit("A-point", upper)),
            [
                (rel, Form(sp.Symbol(r"\mathbb{E}\,\Phi(-\lambda\beta z)") + sign * PROBIT_ERROR_A, _probit("A-probit", upper)),
                 r"pointwise $|\sigma(x) - \Phi(\lambda x)| \le 0.0177$ at $x = -\beta z$"),
            ],
            instances="pointwise in x",
            domain={x: (-12.0, 12.0)},
            prose=(r"and $\mathbb{E}\,\Phi(-\lambda\beta z) = " + sp.latex(Phi(-lam * beta * m / s_r))
                   + r"$ by claim probit identity with $a = -\lambda\beta m$, $b = -\lambda\beta r$.") if upper else "",
        ))
        claims.append(chain(
            f"probit B {word}",
            Form(B_disp, _probit("B-point", upper)),
            [
                (rel, Form(sp.Symbol(r"\mathbb{E}\,\lambda\varphi(\lambda\beta z)") + sign * PROBIT_ERROR_B, _probit("B-probit", upper)),
                 r"pointwise $|\sigma'(x) - \lambda\varphi(\lambda x)| \le 0.0116$ at $x = \beta z$"),
            ],
            instances="pointwise in x",
            domain={x: (-12.0, 12.0)},
            prose=(r"and $\mathbb{E}\,\lambda\varphi(\lambda\beta z) = " + sp.latex(lam * normal_pdf(lam * beta * m / s_r) / s_r)
                   + r"$ by claim probit identity.") if upper else "",
        ))
    claims.append(chain(
        "probit identity",
        Form(sp.Symbol(r"\partial_a\,\mathbb{E}\,\Phi(a + bZ)"), _gauss_probit("integral")),
        [("=", Form(sp.diff(Phi(a_ / sp.sqrt(1 + b_**2)), a_), _gauss_probit("closed")),
          r"Gaussian convolution $\int \varphi(a + bz)\varphi(z)\,dz$ (SymPy integral)")],
        instances="Z ~ N(0, 1)",
        prose=r"Both sides of $\mathbb{E}\,\Phi(a+bZ) = \Phi(a/\sqrt{1+b^2})$ vanish as $a\to-\infty$, so they are equal.",
    ))
    return claims


def build(loss: Loss) -> Theorem:
    stein = chain(
        "stein",
        Form(sp.Symbol(r"\mathbb{E}[-\phi'(h)\,s\,g \mid b]"), _stein_form("lhs")),
        [
            ("=", Form(sp.Sum(sp.Symbol("q_b^s") * (s_idx * mu[s_idx] * sp.Symbol(r"\mathbb{E}[-\phi'(h)]") + s_idx * sp.Symbol(r"\mathbb{E}[-\phi'(h)(g - \mu^s)]")), (s_idx, -1, 1)), _stein_form("split")),
             r"condition on $s$; $g = \mu_b^s + (g - \mu_b^s)$"),
            ("=", Form(sp.Sum(sp.Symbol("q_b^s") * (s_idx * mu[s_idx] * A_s - beta * S[s_idx] * Delta * B_s), (s_idx, -1, 1)), _stein_form("stein")),
             r"Stein: $\mathbb{E}[f(g)(g-\mu)] = \Sigma\,\mathbb{E}\nabla f(g)$, $\nabla_g(-\phi'(\beta s\Delta^\top g)) = -\beta s\phi''(h)\Delta$, $s^2 = 1$; $s\Delta^\top g \sim N(m, r^2)$"),
        ],
        instances=r"d = 2, 3, general Sigma; test family -phi'(h) = exp(lambda_t h)",
        prose=(r"(the sum runs over $s = \pm 1$). The family $-\phi'(h) = e^{\lambda_t h}$, $\lambda_t \in \mathbb{R}$, determines "
               r"the identity for every $\phi'$ of at most exponential growth (both sides are linear in $\phi'$, and two laws "
               r"with equal Laplace transforms coincide); mixing over behaviours multiplies by $p_b$ and sums."),
    )
    recursion = chain(
        "recursion",
        Form(sp.Symbol(r"\Delta_{t+1} - \Delta_t"), _one_step("lhs")),
        [("=", Form(2 * eta * beta * sp.Symbol(r"(-\phi'(h))\,s\,g"), _one_step("rhs")),
          r"$W_{t+1} = W_t - \eta\,\phi'(h)\beta(e_{y_w} - e_{y_l})g^\top$ (dpo-gradient), $(e_1-e_2)^\top(e_{y_w}-e_{y_l}) = 2s$")],
        instances="V = 2, 3, one example per sign",
        prose=r"per example; averaging over the population law gives $\Delta_{t+1} = \Delta_t + 2\eta\beta\,\mathbb{E}[-\phi'(h)\,s\,g]$.",
    )
    dphi = loss.bind(loss.dphi)
    return Theorem(
        id="population-flow",
        title="Population dynamics of the preference direction (Stein's lemma)",
        assumptions=[
            Assumption("head", r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$, $\beta > 0$."),
            Assumption("gaussian mixture", r"$g \mid (b, s) \sim N(\mu_b^s, \Sigma_b^s)$, behaviour weights $p_b$, $\Pr(s = +\mid b) = q_b$."),
            Assumption("loss", rf"$\phi'$ absolutely continuous with $\mathbb{{E}}|\phi''(\beta z)| < \infty$ (here $\phi'(h) = {sp.latex(dphi)}$); the probit claims concern DPO."),
        ],
        claims=[stein, recursion, *_probit_claims()],
        summary=r"Write $A = \mathbb{E}[-\phi'(\beta z)]$, $B = \mathbb{E}[\phi''(\beta z)]$ with $z \sim N(m, r^2)$, $m = s\Delta^\top\mu_b^s$, $r^2 = \Delta^\top\Sigma_b^s\Delta$ (Im \& Li 2024, arXiv 2403.18742).",
        loss_name=loss.name,
        notes=[r"The probit constants are $\sup_x|\sigma(x)-\Phi(\lambda x)| = 0.0176712$ (at $|x| = 2.7636$) and $\sup_x|\sigma'(x)-\lambda\varphi(\lambda x)| = 0.0115753$ (at $|x| = 1.5025$), rounded up; $\lambda = \sqrt{\pi/8}$."],
    )
