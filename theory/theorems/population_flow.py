r"""``population-flow``: the population update of the preference direction for Gaussian classes.

With :math:`W = W_{\rm ref} + \frac12(e_1-e_2)\Delta^\top` and :math:`h = \beta s\Delta^\top g`,
population gradient descent with step :math:`\eta` moves
:math:`\Delta_{t+1} = \Delta_t + 2\eta\beta\,\mathbb E[-\phi'(h)\, s\, g]` (claim ``recursion``), and
for :math:`g \mid (b, s) \sim N(\mu_b^s, \Sigma_b^s)` Stein's lemma gives, for any :math:`\phi`
(claim ``stein``),

.. math::
   \mathbb E[-\phi'(h)\,s\,g \mid b] =
   q_b\big(A(\nu_b^+, r_b^+)\,\mu_b^+ - \beta B(\nu_b^+, r_b^+)\,\Sigma_b^+\Delta\big)
   - (1-q_b)\big(A(\nu_b^-, r_b^-)\,\mu_b^- + \beta B(\nu_b^-, r_b^-)\,\Sigma_b^-\Delta\big),

with :math:`A(\nu, r) = \mathbb E[-\phi'(\beta z)]`,
:math:`B(\nu, r) = \mathbb E[\phi'(\beta z)(z-\nu)]/(\beta r^2)` (:math:`= \mathbb E[\phi''(\beta z)]`
when :math:`\phi'` is absolutely continuous), :math:`z \sim N(\nu, r^2)`,
:math:`\nu_b^\pm = \pm\Delta^\top\mu_b^\pm`, :math:`(r_b^\pm)^2 = \Delta^\top\Sigma_b^\pm\Delta`. Only the
one-dimensional law of :math:`z = s\Delta^\top g` enters: :math:`\mathbb E[g - \mu \mid \Delta^\top g]`
is linear in :math:`\Delta^\top g`, so no smoothness of :math:`\phi'` is needed with this :math:`B`
(the hinge's jump at :math:`h = 1` included). :math:`A` and :math:`B` are evaluated by Gauss-Hermite
quadrature on tensors in :mod:`prefdyn.numerics.population` (closed forms for piecewise-polynomial
:math:`\phi'`, :mod:`prefdyn.theory.gaussian_moments`).

For DPO (:math:`-\phi' = \sigma(-h)`, :math:`\phi'' = \sigma'(h)`) the probit approximation
:math:`\sigma(x)\approx\Phi(\lambda x)`, :math:`\lambda^2 = \pi/8`, gives closed forms with explicit
error bounds (claims ``probit A`` and ``probit B``, printed for DPO only):

.. math::
   \Big|A(\nu, r) - \Phi\Big(\frac{-\lambda\beta\nu}{s_r}\Big)\Big| \le 0.0177,\qquad
   \Big|B(\nu, r) - \frac{\lambda}{s_r}\varphi\Big(\frac{\lambda\beta\nu}{s_r}\Big)\Big| \le 0.0116,
   \qquad s_r = \sqrt{1+\lambda^2\beta^2r^2},

since :math:`\sup_x|\sigma(x) - \Phi(\lambda x)| = 0.017671` and
:math:`\sup_x|\sigma'(x) - \lambda\varphi(\lambda x)| = 0.011575` hold pointwise inside the
expectation, and :math:`\mathbb E\,\Phi(a + bY) = \Phi(a/\sqrt{1+b^2})`,
:math:`\mathbb E\,\varphi(a+bY) = \varphi(a/\sqrt{1+b^2})/\sqrt{1+b^2}` exactly.

How the claims are checked (every display realised, :mod:`prefdyn.theory.framework`):

* ``stein`` on :math:`d = 2, 3` with general covariances and the test family
  :math:`-\phi'(h) = e^{\lambda_t h}` (exact Gaussian expectations from the moment generating
  function); both sides are linear in :math:`\phi'`, and the family determines the identity for
  every :math:`\phi'` of at most exponential growth;
* ``recursion`` by SymPy differentiation of the population loss of a concrete softmax head over a
  finite law (two behaviours, label flips, symmetric noise), for a generic :math:`\phi`;
* ``probit A/B``: the Gaussian convolution identity by exact integration, the two inequalities at
  Gaussian laws by 20-digit quadrature (near-point-mass laws at the maximisers included, where the
  constants are attained to :math:`3\cdot 10^{-5}`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import sympy as sp

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..functions import Phi, sigmoid, to_elementary
from ..losses import Loss
from ..model import DIMENSION, FiniteLaw, vector
from ..printing import tex
from ..symbols import beta, eta, h, meanings
from ._head import answer_rows, e12, head, log_ratio_difference
from ._notation import generic_derivative, loss_parameters, phi_generic
from ._traj import (
    PROBIT_ERROR_A,
    PROBIT_ERROR_B,
    PROBIT_LAMBDA,
    dot,
    gaussian_mgf,
    gaussian_mgf_gradient,
    normal_pdf,
)
from .accuracy_gaussian import Delta, Delta_next, Delta_t, mu_m, mu_p, q, shared_notation
from .accuracy_gaussian import S_m as Sigma_m
from .accuracy_gaussian import S_p as Sigma_p

# Delta, mu_b^pm, Sigma_b^pm, q_b, Delta_t, Delta_{t+1}: accuracy-gaussian's objects and meanings
d = DIMENSION
A, B = sp.Function("A"), sp.Function("B")
nu, r = sp.Symbol(r"\nu", real=True), sp.Symbol("r", positive=True)
nu_p, nu_m = Atom(r"\nu_b^{+}"), Atom(r"\nu_b^{-}")
r_p, r_m = Atom(r"r_b^{+}"), Atom(r"r_b^{-}")
lam = sp.Symbol(r"\lambda", positive=True)

E_sg_b = sp.MatrixSymbol(r"\mathbb{E}[-\phi'(h)\,s\,g \mid b]", d, 1)
E_g_p = sp.MatrixSymbol(r"\mathbb{E}[-\phi'(h)\,g \mid b, +]", d, 1)
E_g_m = sp.MatrixSymbol(r"\mathbb{E}[-\phi'(h)\,g \mid b, -]", d, 1)
E_dev_p = sp.MatrixSymbol(r"\mathbb{E}[-\phi'(h)\,(g - \mu_b^+) \mid b, +]", d, 1)
E_dev_m = sp.MatrixSymbol(r"\mathbb{E}[-\phi'(h)\,(g - \mu_b^-) \mid b, -]", d, 1)
E_sg = sp.MatrixSymbol(r"\mathbb{E}[-\phi'(h)\,s\,g]", d, 1)

# plain symbols with LaTeX names (abstract like atoms; they sort before products when printed)
A_nr, B_nr = sp.Symbol(r"A(\nu, r)", real=True), sp.Symbol(r"B(\nu, r)", real=True)
E_Phi = sp.Symbol(r"\mathbb{E}\,\Phi(-\lambda\beta z)", real=True)
E_abs_A = sp.Symbol(r"\mathbb{E}\,|\sigma(-\beta z) - \Phi(-\lambda\beta z)|", real=True)
E_phi = sp.Symbol(r"\mathbb{E}\,\lambda\varphi(\lambda\beta z)", real=True)
E_abs_B = sp.Symbol(r"\mathbb{E}\,|\sigma'(\beta z) - \lambda\varphi(\lambda\beta z)|", real=True)
varphi = sp.Function(r"\varphi")
x = sp.Symbol("x", real=True)

#: Embedding dimensions of the Stein instances; (V, d) of the heads of the recursion instances.
DIMS = (2, 3)
HEADS = ((2, 2), (3, 2))
#: Maximisers of |sigma(x) - Phi(lambda x)| and |sigma'(x) - lambda varphi(lambda x)| (4 digits).
ARGMAX_A, ARGMAX_B = sp.Rational(27636, 10000), sp.Rational(15025, 10000)
#: Gaussian laws (nu, r, beta) of the probit checks: the error changes sign on a good part of the
#: mass (for |E X| <= E|X|, an equality up to rounding otherwise) ...
PROBIT_LAWS = tuple(
    (sp.Rational(n), sp.Rational(s), sp.Rational(b))
    for n, s, b in (
        ("-1/2", "1", "1"),
        ("0", "2", "1"),
        ("1", "1", "1/2"),
        ("-1", "2", "3"),
        ("5/2", "3", "2"),
        ("2", "1", "1"),
        ("-3", "2", "1/2"),
    )
)
#: ... and near point masses (r = 1e-6) at the maximisers, where the constants are attained.
POINT_MASS = sp.Rational(1, 10**6)
EXTREMAL_A = ((ARGMAX_A, POINT_MASS, sp.Integer(1)), (-ARGMAX_A, POINT_MASS, sp.Integer(1)))
EXTREMAL_B = ((ARGMAX_B, POINT_MASS, sp.Integer(1)), (-ARGMAX_B, POINT_MASS, sp.Integer(1)))
#: The exponent of the Stein test family, and sampling intervals that keep e^{lambda_t h} of
#: moderate size in the numeric refutation (the symbolic decision does not depend on them).
lam_t = sp.Symbol("lambda_t", real=True)
STEIN_DOMAIN = {
    lam_t: (-0.5, 0.5),
    beta: (0.2, 1.5),
    **{sp.Symbol(f"{n}_{i}{j}", real=True): (-1.0, 1.0) for n in ("Lp", "Lm") for i in (1, 2, 3) for j in (1, 2, 3)},
    **{sp.Symbol(f"D_{i}", real=True): (-1.0, 1.0) for i in (1, 2, 3)},
}
DIGITS = 20

_M = lambda *args: sp.MatMul(*args, evaluate=False)
_P = lambda *args: sp.MatAdd(*args, evaluate=False)


#: The meaning of :math:`A(\nu, r)` and :math:`B(\nu, r)` (population-flow and priority print them).
AB_MEANING = (
    r"are $A(\nu, r) = \mathbb{E}[-\phi'(\beta z)]$ and $B(\nu, r) = \mathbb{E}[\phi'(\beta z)(z - \nu)]/(\beta r^2)$ "
    r"for $z \sim N(\nu, r^2)$; $B(\nu, r) = \mathbb{E}[\phi''(\beta z)]$ when $\phi'$ is absolutely continuous "
    r"(Gaussian integration by parts), and $B$ keeps the point mass of $\phi''$ at a kink of $\phi$"
)
NU_R_MEANING = r"are the mean and standard deviation of $z \sim N(\nu, r^2)$"
DIMENSION_MEANING = r"is the embedding dimension, $g \in \mathbb{R}^d$"

# --------------------------------------------------------------------------- Gaussian expectations


def normal_expectation(f: Callable[[sp.Expr], sp.Expr], mean: sp.Expr, sd: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E f(z)`, :math:`z = \nu + rY \sim N(\nu, r^2)`, exactly, for ``f`` a sum of
    terms :math:`c\,z^k e^{a z}`: from the standard normal's moment generating function,
    :math:`\mathbb E[Y^k e^{tY}] = \partial_t^k e^{t^2/2}`."""
    Y, t = sp.Dummy("Y", real=True), sp.Dummy("t", real=True)
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(f(mean + sd * Y), power_exp=True, mul=True)):
        coefficient, dependent = term.as_independent(Y, as_Add=False)
        k, rate = 0, sp.Integer(0)
        for factor in sp.Mul.make_args(dependent):
            base, power = factor.as_base_exp()
            if base == Y:
                k += int(power)
            elif isinstance(factor, sp.exp) or base is sp.E:
                exponent = factor.args[0] if isinstance(factor, sp.exp) else power
                rate += sp.cancel(exponent / Y)
            elif factor != 1:
                raise ValueError(f"normal_expectation: unsupported factor {factor}")
        total += coefficient * sp.diff(sp.exp(t**2 / 2), t, k).subs(t, rate)
    return total


def numeric_normal_expectation(
    f: Callable[[mpmath.mpf], mpmath.mpf], mean: sp.Expr, sd: sp.Expr, breaks: Sequence[float] = ()
) -> sp.Float:
    r""":math:`\mathbb E f(z)`, :math:`z \sim N(\nu, r^2)`, by mpmath quadrature at :data:`DIGITS`
    digits (``breaks``: values of :math:`z` where ``f`` has a kink)."""
    with mpmath.workdps(DIGITS + 10):
        m, s = mpmath.mpf(sp.N(mean, DIGITS + 10)), mpmath.mpf(sp.N(sd, DIGITS + 10))
        cuts = {mpmath.mpf(0)} | {
            y for y in ((mpmath.mpf(sp.N(b, DIGITS + 10)) - m) / s for b in breaks) if abs(y) < 60
        }
        value = mpmath.quad(lambda y: f(m + s * y) * mpmath.npdf(y), [-mpmath.inf, *sorted(cuts), mpmath.inf])
        return sp.Float(value, DIGITS)


def mp_function(expr: sp.Expr, variable: sp.Symbol) -> Callable[[mpmath.mpf], mpmath.mpf]:
    """An mpmath function of one variable from a SymPy expression (named functions expanded)."""
    return sp.lambdify(variable, to_elementary(expr), modules="mpmath")


def loss_moments(loss: Loss, beta_value: sp.Expr) -> tuple[Callable[..., sp.Float], Callable[..., sp.Float]]:
    r"""``(A, B)``: :math:`A(\nu, r) = \mathbb E[-\phi'(\beta z)]` and
    :math:`B(\nu, r) = \mathbb E[\phi'(\beta z)(z - \nu)]/(\beta r^2)` of ``loss`` at
    :math:`\beta` = ``beta_value``, by 20-digit quadrature (:func:`numeric_normal_expectation`)."""
    z = sp.Symbol("z", real=True)
    dphi = loss.bind(loss.dphi).subs(beta, beta_value).subs(h, beta_value * z)
    minus_dphi = mp_function(-dphi, z)
    dphi_f = mp_function(dphi, z)

    cache: dict[tuple[str, sp.Expr, sp.Expr], sp.Float] = {}

    def A_(mean: sp.Expr, sd: sp.Expr) -> sp.Float:
        key = ("A", mean, sd)
        if key not in cache:
            cache[key] = numeric_normal_expectation(minus_dphi, mean, sd)
        return cache[key]

    def B_(mean: sp.Expr, sd: sp.Expr) -> sp.Float:
        key = ("B", mean, sd)
        if key not in cache:
            with mpmath.workdps(DIGITS + 10):
                m = mpmath.mpf(sp.N(mean, DIGITS + 10))
                value = numeric_normal_expectation(lambda x: dphi_f(x) * (x - m), mean, sd)
            cache[key] = sp.Float(sp.N(value / (beta_value * sd**2), DIGITS), DIGITS)
        return cache[key]

    return A_, B_


# --------------------------------------------------------------------------- instances


def _stein_instances() -> Instances:
    r"""Every display of claim ``stein`` for :math:`-\phi'(h) = e^{\lambda_t h}`: the class
    expectations from the Gaussian moment generating function (:math:`\mathbb E[g e^{u^\top g}] =
    \nabla_u M(u)`), :math:`A, B` by :func:`normal_expectation` from their definitions."""
    minus_dphi = lambda x: sp.exp(lam_t * beta * x)
    dphi = lambda x: -sp.exp(lam_t * beta * x)

    def A_(mean: sp.Expr, sd: sp.Expr) -> sp.Expr:
        return normal_expectation(minus_dphi, mean, sd)

    def B_(mean: sp.Expr, sd: sp.Expr) -> sp.Expr:
        return normal_expectation(lambda x: dphi(x) * (x - mean), mean, sd) / (beta * sd**2)

    def build() -> list[dict]:
        out = []
        for dim in DIMS:
            D = vector("D", dim)
            classes = {}
            for s in (1, -1):
                tag = "p" if s > 0 else "m"
                L = sp.Matrix(
                    dim, dim, lambda i, j, tag=tag: sp.Symbol(f"L{tag}_{i + 1}{j + 1}", real=True) if j <= i else 0
                )
                mean, cov = vector(f"mu{tag}", dim), L * L.T
                u = lam_t * beta * s * D  # -phi'(h) = e^{u^T g} given s
                M = gaussian_mgf(u, mean, cov)
                E_g = gaussian_mgf_gradient(u, mean, cov)  # E[g e^{u^T g}]
                classes[s] = (mean, cov, E_g, E_g - mean * M, s * dot(D, mean), sp.sqrt(dot(D, cov * D)))
            (mp, Sp, Egp, Edp, np_, rp), (mm, Sm, Egm, Edm, nm, rm) = classes[1], classes[-1]
            out.append(
                {
                    E_sg_b: q * Egp - (1 - q) * Egm,  # condition on s: Pr(s = + | b) = q_b
                    E_g_p: Egp,
                    E_g_m: Egm,
                    E_dev_p: Edp,
                    E_dev_m: Edm,
                    mu_p: mp,
                    mu_m: mm,
                    Sigma_p: Sp,
                    Sigma_m: Sm,
                    Delta: D,
                    nu_p: np_,
                    nu_m: nm,
                    r_p: rp,
                    r_m: rm,
                    A: A_,
                    B: B_,
                }
            )
        return out

    return Instances(r"d = 2, 3, Sigma = L L^T general; test family -phi'(h) = exp(lambda_t h)", build)


def _recursion_instances() -> Instances:
    r"""One population-GD step of a concrete head over a finite law (K = 2 behaviours, label
    flips, symmetric noise; :class:`~prefdyn.theory.model.FiniteLaw`), for a generic :math:`\phi`:
    :math:`W_{t+1} = W_t - \eta\nabla_W\mathbb E\phi(h)` by SymPy differentiation, and
    :math:`\Delta = ((e_1 - e_2)^\top(W - W_{\rm ref}))^\top`."""

    def build() -> list[dict]:
        out = []
        for V, dim in HEADS:
            law = FiniteLaw(2, dim)
            W, R = head("W", V, dim), head("R", V, dim)
            D = vector("D", dim)
            e = e12(V)
            W_t = R + e * D.T / 2
            margins = []  # (probability, sign, embedding, h as a function of W)
            for atom in law.atoms():
                margins.append(
                    (
                        atom.probability,
                        atom.sign,
                        atom.embedding,
                        beta * log_ratio_difference(W, R, atom.embedding, *answer_rows(atom.sign)),
                    )
                )
            loss_value = sum(p * phi_generic(hW) for p, _, _, hW in margins)
            at_t = dict(zip(W, W_t))
            grad = sp.Matrix([[sp.diff(loss_value, W[i, j]).xreplace(at_t) for j in range(dim)] for i in range(V)])
            W_next = W_t - eta * grad
            expected = sp.zeros(dim, 1)
            for p, s, g, hW in margins:
                h_t = hW.xreplace(at_t)
                expected += p * (-generic_derivative(h_t)) * s * g
            out.append(
                {
                    Delta_t: (e.T * (W_t - R)).T,
                    Delta_next: (e.T * (W_next - R)).T,
                    E_sg: expected,
                }
            )
        return out

    return Instances(
        "V, d = 2, 2; 3, 2; finite law with K = 2, label flips; generic phi", build, generic=(phi_generic,)
    )


_U, _Y = sp.Symbol("u", real=True), sp.Symbol("y", real=True)
_NU_0 = sp.Symbol("nu_0", real=True)  # nu of the identity instances
_S_R = sp.sqrt(1 + lam**2 * beta**2 * r**2)


def _gaussian_integral(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    r""":math:`\int\varphi(a + by)\varphi(y)\,dy` by the Gaussian integral
    :math:`\int e^{-\alpha y^2 + \gamma y}dy = \sqrt{\pi/\alpha}\,e^{\gamma^2/(4\alpha)}`."""
    poly = sp.Poly(sp.expand(-((a + b * _Y) ** 2) / 2 - _Y**2 / 2), _Y)
    alpha, gamma, const = -poly.coeff_monomial(_Y**2), poly.coeff_monomial(_Y), poly.coeff_monomial(1)
    return sp.sqrt(sp.pi / alpha) * sp.exp(sp.cancel(gamma**2 / (4 * alpha) + const)) / (2 * sp.pi)


def _identity_A() -> list[dict]:
    r""":math:`\mathbb E\,\Phi(a + bY)` for :math:`Y \sim N(0, 1)`, :math:`a = -\lambda\beta\nu`,
    :math:`b = -\lambda\beta r`, by exact integration: the inner :math:`\int\varphi(u + by)\varphi(y)\,dy`
    by :func:`_gaussian_integral`, the outer :math:`\int_{-\infty}^a du` (Fubini,
    :math:`\Phi(x) = \int_{-\infty}^x\varphi`) by SymPy; :math:`A(\nu, r)` any real number (the step
    does not use its value)."""
    b_sym, s = sp.Symbol("b", real=True), sp.Symbol("s", positive=True)
    density = _gaussian_integral(_U, b_sym).subs(b_sym, sp.sqrt(s**2 - 1))  # varphi(u/s)/s, s^2 = 1 + b^2
    value = sp.integrate(density, (_U, -sp.oo, -PROBIT_LAMBDA * beta * _NU_0)).rewrite(sp.erf)
    value = sp.expand(value.subs(s, sp.sqrt(1 + (PROBIT_LAMBDA * beta * r) ** 2)))
    return [{A_nr: sp.Symbol("A_0", real=True), E_Phi: value, lam: PROBIT_LAMBDA, nu: _NU_0}]


def _identity_B() -> list[dict]:
    r""":math:`\mathbb E\,\lambda\varphi(a + bY)` for :math:`Y \sim N(0, 1)`, :math:`a = \lambda\beta\nu`,
    :math:`b = \lambda\beta r`, by exact integration (:func:`_gaussian_integral`); :math:`B(\nu, r)`
    any real number (the step does not use its value)."""
    value = PROBIT_LAMBDA * _gaussian_integral(PROBIT_LAMBDA * beta * _NU_0, PROBIT_LAMBDA * beta * r)
    return [{B_nr: sp.Symbol("B_0", real=True), E_phi: value, lam: PROBIT_LAMBDA, nu: _NU_0, varphi: normal_pdf}]


def _values_A(loss: Loss, mean: sp.Expr, sd: sp.Expr, beta_value: sp.Expr) -> dict:
    r""":math:`\mathbb E\,\Phi(-\lambda\beta z)`, :math:`\mathbb E|\sigma(-\beta z) - \Phi(-\lambda\beta z)|`
    and the loss's :math:`A(\nu, r)` for :math:`z \sim N(\nu, r^2)`, by 20-digit quadrature."""
    z = sp.Symbol("z", real=True)
    A_, _ = loss_moments(loss, beta_value)
    sig, pro = sigmoid(-beta_value * z), Phi(-PROBIT_LAMBDA * beta_value * z)
    return {
        E_Phi: numeric_normal_expectation(mp_function(pro, z), mean, sd),
        E_abs_A: numeric_normal_expectation(mp_function(sp.Abs(sig - pro), z), mean, sd, [0]),
        A_nr: A_(mean, sd),
    }


def _values_B(loss: Loss, mean: sp.Expr, sd: sp.Expr, beta_value: sp.Expr) -> dict:
    r""":math:`\mathbb E\,\lambda\varphi(\lambda\beta z)`,
    :math:`\mathbb E|\sigma'(\beta z) - \lambda\varphi(\lambda\beta z)|`
    and the loss's :math:`B(\nu, r)` for :math:`z \sim N(\nu, r^2)`, by 20-digit quadrature."""
    z = sp.Symbol("z", real=True)
    _, B_ = loss_moments(loss, beta_value)
    sig = sigmoid(beta_value * z) * sigmoid(-beta_value * z)
    pro = PROBIT_LAMBDA * normal_pdf(PROBIT_LAMBDA * beta_value * z)
    return {
        E_phi: numeric_normal_expectation(mp_function(pro, z), mean, sd),
        E_abs_B: numeric_normal_expectation(
            mp_function(sp.Abs(sig - pro), z), mean, sd, [c / beta_value for c in _crossings_B()]
        ),
        B_nr: B_(mean, sd),
    }


def _crossings_B() -> list[sp.Float]:
    r"""The sign changes :math:`\pm x_c` of :math:`\sigma'(x) - \lambda\varphi(\lambda x)` (even, with a
    double zero at 0)."""
    x = sp.Symbol("x", real=True)
    f = mp_function(sigmoid(x) * sigmoid(-x) - PROBIT_LAMBDA * normal_pdf(PROBIT_LAMBDA * x), x)
    with mpmath.workdps(30):
        root = mpmath.findroot(f, 3)
    return [sp.Float(-root, 30), sp.Float(root, 30)]


@dataclass(frozen=True)
class _Probit:
    r"""The probit closed form of DPO's :math:`A` or :math:`B` (``letter``): claim ``probit <letter>``,
    :math:`|\text{moment} - \text{closed}| = |\text{moment} - \text{smoothed}| \le \text{error} \le \text{bound}`,
    each link with its reason. ``identity`` builds the exact instances of the first link, ``values``
    the 20-digit objects of the other two at a Gaussian law (loss, :math:`\nu`, :math:`r`,
    :math:`\beta`); the last link also runs on ``extremal`` (near point masses at the maximisers)."""

    letter: str
    moment: sp.Symbol
    closed: sp.Expr
    smoothed: sp.Symbol
    smoothing: str
    error: sp.Symbol
    jensen: str
    bound: sp.Expr
    supremum: str
    extremal: tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]
    identity: Callable[[], list[dict]]
    values: Callable[[Loss, sp.Expr, sp.Expr, sp.Expr], dict]


PROBIT_A = _Probit(
    "A",
    A_nr,
    Phi(-lam * beta * nu / _S_R),
    E_Phi,
    r"$\mathbb{E}\,\Phi(a + bY) = \Phi(a/\sqrt{1+b^2})$ for $Y \sim N(0, 1)$, $a = -\lambda\beta\nu$, $b = "
    r"-\lambda\beta r$",
    E_abs_A,
    r"$A(\nu, r) = \mathbb{E}\,\sigma(-\beta z)$ for DPO; $|\mathbb{E}X| \le \mathbb{E}|X|$",
    PROBIT_ERROR_A,
    r"$\sup_x|\sigma(x) - \Phi(\lambda x)| = 0.017671$ (at $|x| = 2.7636$)",
    EXTREMAL_A,
    _identity_A,
    _values_A,
)
PROBIT_B = _Probit(
    "B",
    B_nr,
    lam / _S_R * varphi(lam * beta * nu / _S_R),
    E_phi,
    r"$\mathbb{E}\,\varphi(a + bY) = \varphi(a/\sqrt{1+b^2})/\sqrt{1+b^2}$, "
    r"$a = \lambda\beta\nu$, $b = \lambda\beta r$",
    E_abs_B,
    r"$B(\nu, r) = \mathbb{E}\,\sigma'(\beta z)$ for DPO ($\phi'' = \sigma'$); $|\mathbb{E}X| \le \mathbb{E}|X|$",
    PROBIT_ERROR_B,
    r"$\sup_x|\sigma'(x) - \lambda\varphi(\lambda x)| = 0.011575$ (at $|x| = 1.5025$)",
    EXTREMAL_B,
    _identity_B,
    _values_B,
)


def _probit_instances(
    loss: Loss, probit: _Probit, laws: Sequence[tuple[sp.Expr, sp.Expr, sp.Expr]], label: str
) -> Instances:
    r"""Gaussian laws ``laws`` = :math:`(\nu, r, \beta)`: every expectation by 20-digit quadrature,
    :math:`A, B` from the loss's own :math:`\phi'`."""
    return Instances(
        label,
        lambda: [
            {nu: n_, r: r_, beta: b_, lam: PROBIT_LAMBDA, **probit.values(loss, n_, r_, b_)} for n_, r_, b_ in laws
        ],
    )


def is_dpo(loss: Loss) -> bool:
    r"""Whether :math:`-\phi'(h) = \sigma(-h)` (the probit claims concern exactly this loss)."""
    gap = to_elementary(loss.bind(loss.dphi) + sigmoid(-h))
    return sp.simplify(gap) == 0


def _probit_claim(loss: Loss, probit: _Probit) -> Claim:
    label = "Gaussian laws (nu, r, beta), 20-digit quadrature"
    return chain(
        f"probit {probit.letter}",
        sp.Abs(probit.moment - probit.closed),
        [
            (
                "=",
                sp.Abs(probit.moment - probit.smoothed),
                probit.smoothing,
                Instances(f"exact integration; {probit.letter}(nu, r) any real", probit.identity),
            ),
            ("<=", probit.error, probit.jensen, _probit_instances(loss, probit, PROBIT_LAWS, label)),
            (
                "<=",
                probit.bound,
                probit.supremum,
                _probit_instances(
                    loss,
                    probit,
                    PROBIT_LAWS + probit.extremal,
                    label + "; near point masses (r = 1e-6) at the maximisers",
                ),
            ),
        ],
        prose=rf"(DPO: the probit closed form of ${probit.letter}$).",
    )


def build(loss: Loss) -> Theorem:
    stein = chain(
        "stein",
        E_sg_b,
        [
            ("=", _P(_M(q, E_g_p), _M(-1, 1 - q, E_g_m)), r"condition on $s$: $\Pr(s = +1 \mid b) = q_b$"),
            (
                "=",
                _P(_M(q, _P(_M(A(nu_p, r_p), mu_p), E_dev_p)), _M(-1, 1 - q, _P(_M(A(nu_m, r_m), mu_m), E_dev_m))),
                (
                    r"$g = \mu_b^{\pm} + (g - \mu_b^{\pm})$; $h = \beta z$ with $z = s\Delta^\top g \sim N(\nu_b^{\pm}, "
                    r"(r_b^{\pm})^2)$ given $(b, \pm)$"
                ),
            ),
            (
                "=",
                _P(
                    _M(q, _P(_M(A(nu_p, r_p), mu_p), _M(-1, beta, B(nu_p, r_p), Sigma_p, Delta))),
                    _M(-1, 1 - q, _P(_M(A(nu_m, r_m), mu_m), _M(beta, B(nu_m, r_m), Sigma_m, Delta))),
                ),
                (
                    r"Gaussian regression $\mathbb{E}[g - \mu_b^{s} \mid z] = s\,\Sigma_b^{s}\Delta\,(z - "
                    r"\nu_b^{s})/(r_b^{s})^2$ (Stein's lemma), then the definition of $B$"
                ),
            ),
        ],
        instances=_stein_instances(),
        domain=STEIN_DOMAIN,
        prose=(
            r"The family $-\phi'(h) = e^{\lambda_t h}$, $\lambda_t \in \mathbb{R}$, on which this is checked "
            r"determines the identity for every $\phi'$ of at most exponential growth (both sides are linear in "
            r"$\phi'$); averaging over behaviours with weights $p_b$ gives $\mathbb{E}[-\phi'(h)\,s\,g]$."
        ),
    )
    recursion = chain(
        "recursion",
        Delta_next,
        [
            (
                "=",
                _P(Delta_t, _M(2, eta, beta, E_sg)),
                (
                    r"$W_{t+1} = W_t - \eta\,\mathbb{E}[\phi'(h)\beta s(e_1 - e_2)g^\top]$ (dpo-gradient), $(e_1 - "
                    r"e_2)^\top(e_1 - e_2) = 2$"
                ),
            )
        ],
        instances=_recursion_instances(),
        prose=r"for any law of $(b, s, g)$; with Gaussian classes, claim stein gives $\mathbb{E}[-\phi'(h)\,s\,g]$ in "
        r"closed form up to $A$ and $B$.",
    )
    dpo = is_dpo(loss)
    dphi = loss.bind(loss.dphi)
    notes = [
        r"The inequalities of the probit claims are checked at Gaussian laws by 20-digit quadrature "
        r"(near-point-mass laws at the maximisers included); the constants are "
        r"$\sup_x|\sigma(x)-\Phi(\lambda x)| = 0.0176712$ and $\sup_x|\sigma'(x)-\lambda\varphi(\lambda x)| = "
        r"0.0115753$, "
        r"rounded up."
        if dpo
        else rf"The probit closed forms of $A$ and $B$ concern DPO ($-\phi'(h) = \sigma(-h)$) and are omitted for "
        rf"{loss.name} (its $\phi'$ is in the loss hypothesis)."
    ]
    notation = {
        **meanings(beta, eta),
        **loss_parameters(loss),
        d: DIMENSION_MEANING,
        **shared_notation(Delta, q, (mu_p, mu_m), (Sigma_p, Sigma_m), Delta_t, Delta_next),
        (A(nu, r), B(nu, r)): AB_MEANING,
        (nu_p, nu_m, r_p, r_m): (
            r"are the mean and standard deviation of $z = s\Delta^\top g$ given $(b, s = \pm 1)$: "
            r"$\nu_b^{\pm} = \pm\Delta^\top\mu_b^{\pm}$, $(r_b^{\pm})^2 = \Delta^\top\Sigma_b^{\pm}\Delta$"
        ),
        E_sg_b: r"is the mean of $-\phi'(h)\,s\,g$ over the pairs of behaviour $b$",
        (E_g_p, E_g_m): r"are the means of $-\phi'(h)\,g$ over the pairs of behaviour $b$ with $s = \pm 1$",
        (
            E_dev_p,
            E_dev_m,
        ): r"are the means of $-\phi'(h)(g - \mu_b^{\pm})$ over the pairs of behaviour $b$ with $s = \pm 1$",
        E_sg: r"is the mean of $-\phi'(h)\,s\,g$ over the whole population (behaviours with weights $p_b$) at $h = "
        r"\beta s\Delta_t^\top g$",
    }
    claims = [stein, recursion]
    if dpo:
        claims += [_probit_claim(loss, PROBIT_A), _probit_claim(loss, PROBIT_B)]
        notation.update(
            {
                (nu, r): NU_R_MEANING,
                (A_nr, B_nr): r"are $A$ and $B$ at $(\nu, r)$",
                varphi(x): r"is the standard normal density, $\varphi = \Phi'$",
                lam: r"is the probit scale $\lambda = \sqrt{\pi/8}$ ($\sigma(x) \approx \Phi(\lambda x)$)",
                (E_Phi, E_phi): r"are Gaussian expectations over $z \sim N(\nu, r^2)$",
                (E_abs_A, E_abs_B): r"are the mean probit errors over $z \sim N(\nu, r^2)$",
            }
        )
    return Theorem(
        id="population-flow",
        title="Population dynamics of the preference direction (Stein's lemma)",
        assumptions=[
            Assumption(
                "head",
                r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$; the pair is $(y_w, y_l) = (1, 2)$ when $s = "
                r"+1$ and $(2, 1)$ when $s = -1$, so $h = \beta s\Delta^\top g$ with $\beta > 0$.",
            ),
            Assumption(
                "population gradient descent",
                r"$W_{t+1} = W_t - \eta\nabla_W\mathbb{E}[\phi(h)]$ over a law of behaviours $b$ (weights $p_b$), "
                r"signs $s$ and embeddings $g$ under which $h$ avoids the points where $\phi$ is not differentiable "
                r"almost surely, with $\Delta_t$ the direction of $W_t$.",
            ),
            Assumption(
                "gaussian classes (claim stein)",
                r"$g \mid (b, s) \sim N(\mu_b^{s}, \Sigma_b^{s})$ with $(r_b^{s})^2 = \Delta^\top\Sigma_b^{s}\Delta > "
                r"0$, and $\Pr(s = +1 \mid b) = q_b$.",
            ),
            Assumption(
                "loss",
                rf"$\phi$ is differentiable except at finitely many points and $\mathbb{{E}}|\phi'(\beta z)|(1 + |z|) "
                rf"< \infty$ for Gaussian $z$ (here $\phi'(h) = {tex(dphi)}$).",
            ),
        ],
        claims=claims,
        summary=r"Population gradient descent moves the preference direction by the mean of $-\phi'(h)\,s\,g$, which "
        r"for Gaussian classes depends on $\phi$ only through the one-dimensional expectations $A$ and $B$.",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"The setting (a softmax head over a frozen embedding, preference pairs from behaviours) is that of "
            r"Im \& Li (2024); the population recursion for a general $\phi$, its Gaussian form via Stein's lemma with "
            r"the exact one-dimensional expectations $A$ and $B$, and the probit bounds are prefdyn's."
        ),
    )
