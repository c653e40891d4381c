r"""``accuracy-gaussian``: exact reward and policy accuracy for Gaussian classes, and along population GD.

Let behaviour :math:`b` have positive fraction :math:`q_b` and classes
:math:`g \mid (b, s{=}\pm) \sim N(\mu_b^\pm, \Sigma_b^\pm)`, and let the head be
:math:`W = W_{\rm ref} + \tfrac12(e_1-e_2)\Delta^\top`, so that the margin is
:math:`h = \beta s\,\Delta^\top g`. Then the *reward accuracy* is

.. math::
   \operatorname{Acc}_b(\Delta) = \Pr(h > 0 \mid b)
   = q_b\,\Phi\!\Big(\frac{\Delta^\top\mu_b^+}{\sqrt{\Delta^\top\Sigma_b^+\Delta}}\Big)
   + (1-q_b)\,\Phi\!\Big(\frac{-\Delta^\top\mu_b^-}{\sqrt{\Delta^\top\Sigma_b^-\Delta}}\Big),

and the *policy accuracy* :math:`\operatorname{Acc}^\pi_b(\Delta) = \Pr(\log\pi_W(y_w\mid x) >
\log\pi_W(y_l\mid x) \mid b)` (Im & Li's experimental accuracy) is the same formula at
:math:`\Delta + w`, :math:`w = (e_1 - e_2)^\top W_{\rm ref}`: the policy's own log-probability gap is
:math:`s(\Delta + w)^\top g` for any vocabulary size (the softmax normaliser cancels).

Balanced and isotropic (:math:`q_b = \tfrac12`, :math:`\mu_b^\pm = c_b \pm \delta_b/2` with offsets
orthogonal to every :math:`\delta`, :math:`\Sigma_b^\pm = \sigma_b^2 I`), every
:math:`\Delta = \sum_j a_j\delta_j` gives
:math:`\operatorname{Acc}_b = \Phi\big(\sum_j a_jG_{bj} / (2\sigma_b\sqrt{a^\top G a})\big)`,
:math:`G_{bj} = \langle\delta_b,\delta_j\rangle`. Population GD from :math:`W_{\rm ref}` moves
:math:`\Delta_1 = \eta\beta(-\phi'(0))\sum_j p_j\delta_j`, **with the loss's own sign**: for
:math:`\phi'(0) < 0` (DPO, IPO, hinge, ...) the one-step accuracy is
:math:`\Phi(\sum_j p_jG_{bj}/(2\sigma_b\sqrt{p^\top G p}))`; for :math:`\phi'(0) > 0` (DiscoPOP:
:math:`\phi'(0) = 17/4 - 5\log 2`) the first step moves every margin the wrong way and the
one-step accuracy is :math:`1 - \Phi(\cdot)`; for :math:`\phi'(0) = 0` the step is zero and the
accuracy is not defined (the claim is omitted with a note). After :math:`t` steps

.. math:: \Delta_{t+1} = \sum_j\Big[\Big(1 - 2\eta\beta^2\sum_k p_k\sigma_k^2 B_k\Big)a_j
          + \eta\beta\,p_j A_j\Big]\delta_j ,

with :math:`A_b, B_b` of ``population-flow`` for :math:`z \sim N(\Delta_t^\top\delta_b/2, \sigma_b^2\|\Delta_t\|^2)`.
Numerics: :func:`prefdyn.numerics.population.population_gd`.

What is checked. Every display is a SymPy expression over matrix symbols
(:math:`\Delta, \mu_b^\pm, \Sigma_b^\pm, w, \delta_b, \Delta_1, \dots`, printed through
:class:`~prefdyn.theory.theorems._traj.MatrixScalar`) and indexed families; each instance binds
them to explicit matrices, so the printed formula itself is what is compared. The defined objects
are computed from first principles: :math:`\operatorname{Acc}_b` and :math:`\operatorname{Acc}^\pi_b`
as ``sympy.stats`` probabilities of the margin / of the log-probability gap of a real 3-way
log-softmax head under an explicit Gaussian law, :math:`\Delta_1` as :math:`-\eta` times the exact
expectation of the SymPy gradient of the loss's :math:`\phi` through a 2-way head,
:math:`\Delta_{t+1}` likewise for a test family :math:`-\phi'(h) = e^{\lambda h}` (Gaussian MGF).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sympy as sp
from sympy.stats import E as expect
from sympy.stats import Normal, P

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..functions import Phi
from ..losses import Loss
from ..model import DIMENSION as d
from ..model import vector
from ..symbols import beta, eta, h, meanings
from ._head import answer_rows, e12, head, log_ratio_difference, log_softmax
from ._notation import MEANINGS, POSITIVE_FRACTION_MEANING, K, b, loss_parameters, p
from ._traj import (
    MatrixNorm,
    bilinear,
    dot,
    gaussian_mgf,
    gaussian_mgf_gradient,
    norm,
    quadratic_form,
)

# ------------------------------------------------------------------ display objects

Delta = sp.MatrixSymbol(r"\Delta", d, 1)
Delta_1 = sp.MatrixSymbol(r"\Delta_1", d, 1)
Delta_t = sp.MatrixSymbol(r"\Delta_t", d, 1)
Delta_next = sp.MatrixSymbol(r"\Delta_{t+1}", d, 1)
w = sp.MatrixSymbol("w", d, 1)
mu_p, mu_m = sp.MatrixSymbol(r"\mu_b^+", d, 1), sp.MatrixSymbol(r"\mu_b^-", d, 1)
S_p, S_m = sp.MatrixSymbol(r"\Sigma_b^+", d, d), sp.MatrixSymbol(r"\Sigma_b^-", d, d)
delta_b = sp.MatrixSymbol(r"\delta_b", d, 1)
q = sp.Symbol("q_b", positive=True)
u = sp.Symbol("u", real=True)
acc = sp.Function(r"\operatorname{Acc}_b")
pacc = sp.Function(r"\operatorname{Acc}^{\pi}_b")
mgf = Atom(r"\mathbb{E}[e^{u\Delta^\top g}\mid b, +]")

j, k = sp.symbols("j k", positive=True, integer=True)
G, a = sp.IndexedBase("G"), sp.IndexedBase("a")
A, B, sig, dl = sp.IndexedBase("A"), sp.IndexedBase("B"), sp.IndexedBase(r"\sigma"), sp.IndexedBase(r"\delta")


def accuracy_display(D: sp.MatrixExpr) -> sp.Expr:
    r"""The balanced accuracy

    .. math:: q_b\Phi(D^\top\mu_b^+/\sqrt{D^\top\Sigma_b^+D})
              + (1-q_b)\Phi(-D^\top\mu_b^-/\sqrt{D^\top\Sigma_b^-D}).
    """
    return q * Phi(bilinear(D, mu_p) / sp.sqrt(quadratic_form(D, S_p))) + (1 - q) * Phi(
        -bilinear(D, mu_m) / sp.sqrt(quadratic_form(D, S_m))
    )


def _gram_ratio(coef: sp.IndexedBase) -> sp.Expr:
    num = sp.Sum(coef[j] * G[b, j], (j, 1, K))
    return num / (2 * sig[b] * sp.sqrt(sp.Sum(coef[j] * coef[k] * G[j, k], (j, 1, K), (k, 1, K))))


def _span_display(D: sp.MatrixExpr) -> sp.Expr:
    return Phi(bilinear(D, delta_b) / (2 * sig[b] * MatrixNorm(D)))


# ------------------------------------------------------------------ first-principles probabilities

_C, _A1, _A2 = sp.Symbol("C", real=True), sp.Symbol("A_1", positive=True), sp.Symbol("A_2", positive=True)
_XI = sp.symbols("xi_1 xi_2", real=True)


@cache
def _half_plane(sign: int) -> sp.Expr:
    r""":math:`\Pr(\pm(C + A_1\xi_1 + A_2\xi_2) > 0)` for independent standard normals, by
    ``sympy.stats`` (its result simplified; the branch marker ``polar_lift`` is dropped, which is
    exact on the principal branch)."""
    xi1, xi2 = Normal("xi_1", 0, 1), Normal("xi_2", 0, 1)
    prob = P(sign * (_C + _A1 * xi1 + _A2 * xi2) > 0)
    return sp.simplify(prob.replace(sp.polar_lift, lambda x: x))


def probability_positive(Y: sp.Expr) -> sp.Expr:
    r""":math:`\Pr(Y > 0)` for :math:`Y = c + a_1\xi_1 + a_2\xi_2` (``_XI`` standard normals) whose
    coefficients are all positive or all negative (the instances choose them so)."""
    Y = sp.expand(Y)
    c = Y.subs({x: 0 for x in _XI})
    coefs = [sp.diff(Y, x) for x in _XI]
    if any(cf.has(*_XI) for cf in coefs) or sp.expand(Y - c - sum(cf * x for cf, x in zip(coefs, _XI))) != 0:
        raise ValueError(f"not linear in the standard normals: {Y}")
    if all(cf.is_positive for cf in coefs):
        return _half_plane(1).xreplace({_C: c, _A1: coefs[0], _A2: coefs[1]})
    if all(cf.is_negative for cf in coefs):
        return _half_plane(-1).xreplace({_C: -c, _A1: -coefs[0], _A2: -coefs[1]})
    raise ValueError(f"coefficients of mixed or unknown sign: {coefs}")


def _lower(name: str) -> sp.Matrix:
    """A 2x2 lower-triangular Cholesky factor with positive entries."""
    l11, l21, l22 = (sp.Symbol(f"{name}_{s}", positive=True) for s in ("11", "21", "22"))
    return sp.Matrix([[l11, 0], [l21, l22]])


def _as_column(arg: Any, matrices: dict) -> sp.Matrix:
    value = arg.xreplace({m: sp.ImmutableMatrix(v) for m, v in matrices.items()}) if isinstance(arg, sp.Basic) else arg
    value = value.doit() if hasattr(value, "doit") else value
    return sp.Matrix(value.as_explicit() if isinstance(value, sp.MatrixExpr) else value)


LAW_LABEL = "d = 2, Delta and the Cholesky factors L^+- of Sigma_b^+- with positive entries, sympy.stats"


def _gaussian_laws() -> list[dict]:
    r"""The Gaussian instance: :math:`\Delta` with positive coordinates, general means,
    :math:`\Sigma_b^\pm = L^\pm L^{\pm\top}` with lower-triangular positive :math:`L^\pm` (so every
    projection :math:`\Delta^\top L` has positive coefficients), and a 3-way reference head whose
    logit gap :math:`w` has positive coordinates; :math:`\operatorname{Acc}_b` and
    :math:`\operatorname{Acc}^\pi_b` as probabilities of :math:`g = \mu_b^s + L^s\xi`."""
    xi = sp.Matrix(_XI)
    D = vector("D", 2, positive=True)
    mus = {1: vector("mup", 2), -1: vector("mum", 2)}
    Ls = {1: _lower("Lp"), -1: _lower("Lm")}
    r = vector("r", 4, positive=True)
    W_ref = sp.Matrix([[r[0], r[1]], [-r[2], -r[3]], [sp.Symbol("r_5", real=True), sp.Symbol("r_6", real=True)]])
    w_col = (W_ref[0, :] - W_ref[1, :]).T  # (e_1 - e_2)^T W_ref, as a column
    matrices = {
        Delta: D,
        Delta_1: D,
        mu_p: mus[1],
        mu_m: mus[-1],
        S_p: Ls[1] * Ls[1].T,
        S_m: Ls[-1] * Ls[-1].T,
        w: w_col,
    }
    weights = {1: q, -1: 1 - q}

    def reward(arg: Any) -> sp.Expr:
        Dv = _as_column(arg, matrices)
        total = sp.Integer(0)
        for s in (1, -1):
            g = mus[s] + Ls[s] * xi
            total += weights[s] * probability_positive(beta * s * dot(Dv, g))  # h = beta s Delta^T g
        return total

    def policy(arg: Any) -> sp.Expr:
        Dv = _as_column(arg, matrices)
        W = W_ref + e12(3) * Dv.T / 2
        total = sp.Integer(0)
        for s in (1, -1):
            g = mus[s] + Ls[s] * xi
            y_w, y_l = answer_rows(s)
            gap = log_softmax(W, g, y_w) - log_softmax(W, g, y_l)  # log pi_W(y_w|x) - log pi_W(y_l|x)
            total += weights[s] * probability_positive(gap)
        return total

    return [{**matrices, acc: reward, pacc: policy}]


@cache
def _projection_laws() -> tuple[dict, ...]:  # loss-independent: built once per process
    r""":math:`\mathbb E[e^{u\Delta^\top g}]` for :math:`g = \mu + L\xi` in :math:`d = 2, 3` (general
    lower-triangular :math:`L`), a product of one-dimensional MGFs by ``sympy.stats``
    (independent coordinates of :math:`\xi`)."""
    out = []
    for dim in (2, 3):
        D, mu = vector("D", dim), vector("mu", dim)
        L = sp.Matrix(dim, dim, lambda i, c: sp.Symbol(f"L_{i + 1}{c + 1}", real=True) if c <= i else 0)
        v = L.T * D
        factors = [sp.simplify(expect(sp.exp(u * v[i] * Normal(f"xi{i}", 0, 1)))) for i in range(dim)]
        out.append({Delta: D, mu_p: mu, S_p: L * L.T, mgf: sp.exp(u * dot(D, mu)) * sp.Mul(*factors)})
    return tuple(out)


def _lemma(extra: Callable[[dict], dict]) -> Callable[[], list[dict]]:
    """The Gaussian instance with additional bindings (a later claim applying claim accuracy)."""
    return lambda: [{**law, **extra(law)} for law in _gaussian_laws()]


# ------------------------------------------------------------------ balanced isotropic instances

SPAN_KS = (1, 2, 3)


def _balanced(Kc: int) -> dict[str, Any]:
    r"""``Kc`` distinguishability vectors in the first ``Kc`` coordinates of :math:`\mathbb R^{Kc+1}`,
    offsets along the last one (orthogonal to every :math:`\delta`), isotropic noise, weights
    summing to one."""
    deltas = [sp.Matrix([*vector(f"delta{c}", Kc), 0]) for c in range(1, Kc + 1)]
    offsets = [sp.Matrix([0] * Kc + [sp.Symbol(f"gamma_{c}", real=True)]) for c in range(1, Kc + 1)]
    sigmas = [sp.Symbol(f"sigma_{c}", positive=True) for c in range(1, Kc + 1)]
    free = [sp.Symbol(f"p_{c}", positive=True) for c in range(1, Kc)]
    weights = [*free, 1 - sum(free)]
    gram = sp.Matrix(Kc, Kc, lambda i, c: dot(deltas[i], deltas[c]))
    return {"deltas": deltas, "offsets": offsets, "sigmas": sigmas, "weights": weights, "gram": gram, "dim": Kc + 1}


def _behavior_binding(law: dict, bc: int) -> dict:
    """Bindings of behaviour ``bc`` (1-based) of a balanced isotropic law."""
    dlt, c, s = law["deltas"][bc - 1], law["offsets"][bc - 1], law["sigmas"][bc - 1]
    eye = sp.eye(law["dim"])
    return {
        b: bc,
        q: sp.Rational(1, 2),
        mu_p: c + dlt / 2,
        mu_m: c - dlt / 2,
        S_p: s**2 * eye,
        S_m: s**2 * eye,
        delta_b: dlt,
    }


def _family_binding(law: dict, Kc: int) -> dict:
    return {
        K: Kc,
        G: lambda i, c: law["gram"][int(i) - 1, int(c) - 1],
        sig: lambda i: law["sigmas"][int(i) - 1],
        p: lambda i: law["weights"][int(i) - 1],
        dl: lambda i: sp.ImmutableMatrix(law["deltas"][int(i) - 1]),
    }


@cache
def _span_bindings() -> tuple[dict, ...]:  # loss-independent: built once per process
    out = []
    for Kc in SPAN_KS:
        law = _balanced(Kc)
        coefs = [sp.Symbol(f"a_{c}", real=True) for c in range(1, Kc + 1)]
        D = sum((cf * dv for cf, dv in zip(coefs, law["deltas"])), sp.zeros(Kc + 1, 1))
        for bc in range(1, Kc + 1):
            out.append(
                {
                    **_family_binding(law, Kc),
                    **_behavior_binding(law, bc),
                    Delta: D,
                    a: lambda i, coefs=coefs: coefs[int(i) - 1],
                }
            )
    return tuple(out)


# ------------------------------------------------------------------ first principles: GD steps

_phi_test = sp.Symbol("lambda_test", real=True)  # -phi'(h) = e^{lambda_test h} in the t-step check


@cache
def _head_gradient(phi: sp.Expr, dim: int) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix, dict[int, sp.Matrix]]:
    r"""``(W, R, g, {s: grad})``: :math:`\nabla_W\phi(\beta\rho)` of a 2-way softmax head
    :math:`W` with reference :math:`R` and embedding :math:`g`, by SymPy differentiation, for the
    preferred answer first (:math:`s = +1`) or second (:math:`s = -1`)."""
    W, R, g = head("W", 2, dim), head("R", 2, dim), vector("g", dim)
    grads = {}
    for s in (1, -1):
        value = phi.subs(h, beta * log_ratio_difference(W, R, g, *answer_rows(s)))
        grads[s] = sp.Matrix(2, dim, lambda i, c, value=value: sp.diff(value, W[i, c]))
    return W, R, g, grads


def _rows_to_direction(step: sp.Matrix) -> sp.Matrix:
    r""":math:`(e_1 - e_2)^\top \cdot` of a :math:`2\times d` change of the head, as a column."""
    return (step[0, :] - step[1, :]).T


def _first_step(loss: Loss, law: dict) -> sp.Matrix:
    r""":math:`\Delta_1 = (e_1-e_2)^\top(W_1 - W_{\rm ref})`, :math:`W_1 = W_{\rm ref} - \eta\,\mathbb E[\nabla_W\phi]`
    at :math:`W = W_{\rm ref}`: the loss's own gradient through a 2-way head, its exact expectation
    over the balanced isotropic Gaussian mixture by ``sympy.stats``."""
    dim = law["dim"]
    W, R, g, grads = _head_gradient(loss.bind(loss.phi), dim)
    total = sp.zeros(2, dim)
    for bc, (pb, mu_c, dv, s_b) in enumerate(zip(law["weights"], law["offsets"], law["deltas"], law["sigmas"])):
        for s in (1, -1):
            noise = [Normal(f"z_{bc}_{s}_{i}", 0, 1) for i in range(dim)]
            point = {g[i]: (mu_c + s * dv / 2)[i] + s_b * noise[i] for i in range(dim)}
            at_ref = grads[s].xreplace({W[i, c]: R[i, c] for i in range(2) for c in range(dim)})
            total += pb * sp.Rational(1, 2) * at_ref.xreplace(point).applyfunc(lambda e: expect(sp.expand(e)))
    return _rows_to_direction(-eta * total)


@cache
def _first_step_list(loss: Loss) -> tuple[dict, ...]:
    """The first-step bindings of every balanced law and behaviour (computed once per loss; the
    subexponential theorem reuses them)."""
    out = []
    for Kc in SPAN_KS:
        law = _balanced(Kc)
        step = _first_step(loss, law)
        for bc in range(1, Kc + 1):
            out.append({**_family_binding(law, Kc), **_behavior_binding(law, bc), Delta_1: step})
    return tuple(out)


def _first_step_bindings(loss: Loss) -> Callable[[], list[dict]]:
    return lambda: list(_first_step_list(loss))


def _expect_exp_linear(expr: sp.Expr, g: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    r""":math:`\mathbb E[\ell(g)\,e^{u^\top g}]` for :math:`g\sim N(\mu,\Sigma)` and ``expr`` of that
    form (:math:`\ell` affine): :math:`\ell_0 M(u) + \sum_i \ell_i\,\partial_i M(u)` with the Gaussian
    MGF :math:`M` (differentiation under the integral)."""
    expr = sp.powsimp(expr, combine="exp")
    exps = expr.atoms(sp.exp)
    if len(exps) != 1:
        raise ValueError(f"expected one exponential factor, got {exps}")
    (factor,) = exps
    exponent = sp.expand(factor.args[0])
    uvec = sp.Matrix([sp.diff(exponent, x) for x in g])
    if exponent.subs({x: 0 for x in g}) != 0 or any(c.has(*g) for c in uvec):
        raise ValueError(f"exponent not linear in g: {exponent}")
    linear = sp.expand(sp.simplify(expr / factor))
    l0 = linear.subs({x: 0 for x in g})
    coefs = [sp.diff(linear, x) for x in g]
    if any(c.has(*g) for c in coefs):
        raise ValueError(f"prefactor not affine in g: {linear}")
    grad = gaussian_mgf_gradient(uvec, mean, cov)
    return l0 * gaussian_mgf(uvec, mean, cov) + sum(c * gi for c, gi in zip(coefs, grad))


_m, _r = sp.Symbol("m", real=True), sp.Symbol("r", positive=True)


@cache
def _test_family_moments() -> tuple[sp.Expr, sp.Expr]:
    r""":math:`A(m, r) = \mathbb E[-\phi'(\beta z)]` and :math:`B(m, r) = \mathbb E[\phi''(\beta z)]`,
    :math:`z \sim N(m, r^2)`, for :math:`-\phi'(h) = e^{\lambda h}`, by ``sympy.stats`` (simplified)."""
    z = Normal("z", _m, _r)
    return (
        sp.simplify(expect(sp.exp(_phi_test * beta * z))),
        sp.simplify(expect(-_phi_test * sp.exp(_phi_test * beta * z))),
    )


@cache
def _t_step_bindings() -> tuple[dict, ...]:  # loss-independent: built once per process
    r"""One population-GD step from :math:`\Delta_t = \sum_j a_j\delta_j` (balanced, isotropic) for the
    test family :math:`\phi(h) = -e^{\lambda h}/\lambda` (:math:`-\phi' = e^{\lambda h}`): the head
    gradient by SymPy, its Gaussian expectation exactly (MGF), :math:`A_b, B_b` by ``sympy.stats``."""
    phi = -sp.exp(_phi_test * h) / _phi_test
    out = []
    for Kc in (2, 3):
        law = _balanced(Kc)
        dim = law["dim"]
        coefs = [sp.Symbol(f"a_{c}", real=True) for c in range(1, Kc + 1)]
        Dt = sum((cf * dv for cf, dv in zip(coefs, law["deltas"])), sp.zeros(dim, 1))
        W, R, g, grads = _head_gradient(phi, dim)
        W_t = {W[i, c]: R[i, c] + (e12(2) * Dt.T / 2)[i, c] for i in range(2) for c in range(dim)}
        total = sp.zeros(2, dim)
        for pb, mu_c, dv, s_b in zip(law["weights"], law["offsets"], law["deltas"], law["sigmas"]):
            for s in (1, -1):
                mean, cov = mu_c + s * dv / 2, s_b**2 * sp.eye(dim)
                grad = grads[s].xreplace(W_t)
                total += (
                    pb
                    * sp.Rational(1, 2)
                    * grad.applyfunc(lambda x, g=g, mean=mean, cov=cov: _expect_exp_linear(x, g, mean, cov))
                )
        nxt = Dt + _rows_to_direction(-eta * total)
        As, Bs = [], []
        A_mr, B_mr = _test_family_moments()
        for c in range(Kc):
            at = {_m: dot(Dt, law["deltas"][c]) / 2, _r: law["sigmas"][c] * norm(Dt)}
            As.append(A_mr.xreplace(at))
            Bs.append(B_mr.xreplace(at))
        out.append(
            {
                **_family_binding(law, Kc),
                Delta_t: Dt,
                Delta_next: nxt,
                a: lambda i, coefs=coefs: coefs[int(i) - 1],
                A: lambda i, As=As: As[int(i) - 1],
                B: lambda i, Bs=Bs: Bs[int(i) - 1],
            }
        )
    return tuple(out)


#: The meaning of :math:`\Delta` (also of the family :math:`\Delta_k` of accuracy-subexponential).
DIRECTION = (
    r"is the preference direction $\Delta = (e_1 - e_2)^\top(W - W_{\mathrm{ref}})$ "
    r"($\Delta_k$: after $k$ population gradient steps)"
)

#: Meanings of the display objects (shared with population-flow, priority and accuracy-subexponential,
#: :func:`shared_notation`: one meaning per symbol).
NOTATION: dict[Any, str] = {
    acc(
        Delta
    ): r"is the reward accuracy $\Pr(h > 0 \mid b)$ of behaviour $b$ at preference direction $\Delta$, $h = \beta "
    r"s\Delta^\top g$",
    pacc(
        Delta
    ): r"is the policy accuracy $\Pr(\log\pi_W(y_w\mid x) > \log\pi_W(y_l\mid x) \mid b)$ of behaviour $b$ at $W = "
    r"W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$",
    Delta: DIRECTION,
    w: r"is the reference head's logit-gap vector $w = (e_1 - e_2)^\top W_{\mathrm{ref}}$, so that "
    r"$\log\pi_{W_{\mathrm{ref}}}(1\mid x) - \log\pi_{W_{\mathrm{ref}}}(2\mid x) = w^\top g$",
    (mu_p, mu_m): r"are the class means $\mathbb{E}[g\mid b, s = \pm 1]$ of behaviour $b$",
    (S_p, S_m): r"are the class covariances of behaviour $b$",
    q: POSITIVE_FRACTION_MEANING,
    mgf: r"is the moment generating function of $\Delta^\top g$ given behaviour $b$ and $s = +1$",
    u: r"is a real argument of the moment generating function",
    a[j]: r"is the coefficient of $\delta_j$ in the preference direction",
    dl[j]: r"is the distinguishability vector $\mu_j^+ - \mu_j^-$ of behaviour $j$",
    delta_b: r"is the distinguishability vector $\mu_b^+ - \mu_b^-$ of behaviour $b$",
    G[j, k]: r"is the Gram matrix $\langle\delta_j, \delta_k\rangle$ of the distinguishability vectors",
    sig[b]: r"is the per-coordinate noise standard deviation of behaviour $b$ ($\Sigma_b^\pm = \sigma_b^2 I$)",
    p[j]: r"is the mixture weight of behaviour $j$",
    K: MEANINGS[K],
    b: MEANINGS[b],
    Delta_1: r"is the preference direction after one population gradient step from $W_{\mathrm{ref}}$ ($\Delta_0 = 0$)",
    Delta_t: r"is the preference direction after $t$ population gradient steps",
    Delta_next: r"is the preference direction after $t + 1$ population gradient steps",
    A[j]: r"is $\mathbb{E}[-\phi'(\beta z)]$ for $z \sim N(\Delta_t^\top\delta_j/2, \sigma_j^2\|\Delta_t\|^2)$",
    B[j]: r"is $\mathbb{E}[\phi''(\beta z)]$ for the same $z$ (Stein's form $\mathbb{E}[(z - \mathbb{E}z)\phi'(\beta "
    r"z)]/(\beta\sigma_j^2\|\Delta_t\|^2)$ when $\phi'$ jumps)",
}


def shared_notation(*keys: Any) -> dict[Any, str]:
    """The meanings of ``keys``, objects of :data:`NOTATION` that population-flow, priority and
    accuracy-subexponential print too (one meaning per object across the catalogue)."""
    return {key: NOTATION[key] for key in keys}


# ------------------------------------------------------------------ claims


def _claims(loss: Loss) -> tuple[list[Claim], list[str]]:
    value = loss.bind(loss.dphi_at_zero)
    sign = int(loss.dphi_at_zero_sign)
    gaussian = Instances(LAW_LABEL, _gaussian_laws)
    accuracy = chain(
        "accuracy",
        acc(Delta),
        [
            (
                "=",
                accuracy_display(Delta),
                (
                    r"$h = \beta s\Delta^\top g$ with $\beta > 0$ and $\Delta^\top g \mid (b, \pm) \sim "
                    r"N(\Delta^\top\mu_b^\pm, \Delta^\top\Sigma_b^\pm\Delta)$ (claim projection); standardise"
                ),
            )
        ],
        instances=gaussian,
    )
    policy = chain(
        "policy accuracy",
        pacc(Delta),
        [
            (
                "=",
                accuracy_display(Delta + w),
                (
                    r"$\log\pi_W(y_w\mid x) - \log\pi_W(y_l\mid x) = s\,(\Delta + w)^\top g$ for every vocabulary size "
                    r"(the softmax normaliser cancels); claim accuracy at $\Delta + w$"
                ),
            )
        ],
        instances=Instances(LAW_LABEL + "; a 3-way reference head with w > 0", _gaussian_laws),
        prose=r"With $W_{\mathrm{ref}} = 0$ ($w = 0$) the policy and the reward accuracy coincide.",
    )
    projection = chain(
        "projection",
        mgf,
        [
            (
                "=",
                sp.exp(u * bilinear(Delta, mu_p) + u**2 * quadratic_form(Delta, S_p) / 2),
                r"$g = \mu_b^+ + L\xi$, $\Sigma_b^+ = LL^\top$, $\xi \sim N(0, I)$; product of one-dimensional MGFs",
            )
        ],
        instances=Instances("d = 2, 3, general Sigma = L L^T, sympy.stats", _projection_laws),
        domain={u: (-0.3, 0.3)},  # keeps e^{...} moderate: the numeric refutation uses an absolute tolerance
        prose=r"for every real $u$, so $\Delta^\top g \mid (b, \pm) \sim N(\Delta^\top\mu_b^\pm, "
        r"\Delta^\top\Sigma_b^\pm\Delta)$ (the same for $-$).",
    )
    span_lemma = Instances(
        LAW_LABEL + "; K = 2, delta_j = e_j (claim accuracy)",
        _lemma(
            lambda law: {
                K: 2,
                a: lambda i, D=law[Delta]: D[int(i) - 1],
                dl: lambda i: sp.ImmutableMatrix(sp.eye(2)[:, int(i) - 1]),
            }
        ),
    )
    span_instances = Instances("K = 1, 2, 3 in R^(K+1), offsets orthogonal, every b", _span_bindings)
    span = chain(
        "span",
        acc(sp.Sum(a[j] * dl[j], (j, 1, K))),
        [
            ("=", accuracy_display(Delta), r"claim accuracy at $\Delta = \sum_j a_j\delta_j$", span_lemma),
            (
                "=",
                _span_display(Delta),
                (
                    r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$, $c_b \perp \Delta$, $\Sigma_b^\pm = "
                    r"\sigma_b^2 I$ (A3)"
                ),
            ),
            (
                "=",
                Phi(_gram_ratio(a)),
                r"$\Delta^\top\delta_b = \sum_j a_jG_{bj}$, $\|\Delta\|^2 = \sum_{j,k} a_ja_kG_{jk}$",
            ),
        ],
        instances=span_instances,
    )
    claims = [accuracy, policy, projection, span]
    notes = []
    first_label = "K = 1, 2, 3 in R^(K+1): Delta_1 = -eta (e_1 - e_2)^T E[grad_W phi] through a 2-way head, exact"
    if sign == 0:
        notes.append(
            rf"Claims first step and one step are omitted: $\phi'(0) = {sp.latex(value)}$ is 0. "
            r"With $\phi'(0) = 0$ the first population step from $W_{\mathrm{ref}}$ is $\Delta_1 = 0$, every margin "
            r"is $h = 0$, and the accuracy $\Pr(h > 0 \mid b)$ is $0$ under the strict convention (ties count as "
            r"errors), "
            r"so no one-step accuracy formula is stated."
        )
    else:
        first_instances = Instances(first_label, _first_step_bindings(loss))
        first = chain(
            "first step",
            Delta_1,
            [
                (
                    "=",
                    -value * eta * beta * sp.Sum(p[j] * dl[j], (j, 1, K)),
                    (
                        rf"$\nabla_W\phi = \phi'(h)\beta(e_{{y_w}} - e_{{y_l}})g^\top$ at $h = 0$ (dpo-gradient), "
                        rf"$\mathbb{{E}}[sg] = \frac12\sum_j p_j\delta_j$; $\phi'(0) = {sp.latex(value)}$"
                    ),
                )
            ],
            instances=first_instances,
        )
        one_lemma = Instances(LAW_LABEL + " (claim accuracy at Delta_1)", _gaussian_laws)
        links: list = [
            ("=", accuracy_display(Delta_1), r"claim accuracy at $\Delta = \Delta_1$", one_lemma),
            ("=", _span_display(Delta_1), r"balanced isotropic classes (A3), as in claim span"),
        ]
        if sign < 0:
            links.append(
                (
                    "=",
                    Phi(_gram_ratio(p)),
                    (
                        rf"claim first step: $\Delta_1 = \eta\beta(-\phi'(0))\sum_j p_j\delta_j$ with $-\phi'(0) = "
                        rf"{sp.latex(-value)} > 0$; the positive factor cancels"
                    ),
                )
            )
            prose = (
                r"The one-step accuracy does not depend on $\eta$, $\beta$ or the loss "
                r"(only on the sign of $\phi'(0)$)."
            )
        else:
            links.append(
                (
                    "=",
                    Phi(-_gram_ratio(p)),
                    (
                        rf"claim first step: $\Delta_1 = -\eta\beta\phi'(0)\sum_j p_j\delta_j$ points along $-\sum_j "
                        rf"p_j\delta_j$, since $\phi'(0) = {sp.latex(value)} > 0$"
                    ),
                )
            )
            links.append(("=", 1 - Phi(_gram_ratio(p)), r"$\Phi(-x) = 1 - \Phi(x)$"))
            prose = (
                rf"Here $\phi'(0) = {sp.latex(value)} > 0$: the first step moves every margin the wrong way, so a "
                rf"behaviour "
                r"aligned with the mixture ($\sum_j p_jG_{bj} > 0$) has one-step accuracy below $\frac12$."
            )
            notes.append(
                rf"For this loss $\phi'(0) = {sp.latex(value)} > 0$: gradient descent from $W_{{\mathrm{{ref}}}}$ "
                rf"first "
                r"decreases every margin, and the one-step accuracy is $1 - \Phi(\cdot)$ of the form for $\phi'(0) < "
                r"0$."
            )
        one_step = chain("one step", acc(Delta_1), links, instances=first_instances, prose=prose)
        claims += [first, one_step]
    shrink = 1 - 2 * eta * beta**2 * sp.Sum(p[k] * sig[k] ** 2 * B[k], (k, 1, K))
    t_steps = chain(
        "t steps",
        Delta_next,
        [
            (
                "=",
                sp.Sum((shrink * a[j] + eta * beta * p[j] * A[j]) * dl[j], (j, 1, K)),
                (
                    r"population GD $\Delta_{t+1} = \Delta_t + 2\eta\beta\,\mathbb{E}[-\phi'(h)sg]$ (dpo-gradient) "
                    r"and Stein's lemma (population-flow) at "
                    r"$\Delta_t = \sum_j a_j\delta_j$: given $(b, \pm)$, $z = s\Delta_t^\top g \sim "
                    r"N(\Delta_t^\top\delta_b/2, \sigma_b^2\|\Delta_t\|^2)$ for both classes (A3)"
                ),
            )
        ],
        instances=Instances(
            "K = 2, 3; test family -phi'(h) = exp(lambda h), lambda generic; exact Gaussian MGF", _t_step_bindings
        ),
        # moderate exponents e^{lambda beta m + lambda^2 beta^2 r^2 / 2}: the numeric refutation's tolerance is absolute
        domain={
            _phi_test: (-0.3, 0.3),
            beta: (0.1, 1.0),
            **{sp.Symbol(f"sigma_{c}", positive=True): (0.1, 1.0) for c in (1, 2, 3)},
        },
        prose=(
            r"at $\Delta_t = \sum_j a_j\delta_j$: the iterates stay in the span of the $\delta_j$, so "
            r"$\operatorname{Acc}_b$ after $t$ "
            r"steps is claim span at $a(t)$, with $a(0) = 0$ and "
            + rf"$a(1) = \left({sp.latex(-value)}\right)\eta\beta\,p$."
        ),
    )
    claims.append(t_steps)
    return claims, notes


def build(loss: Loss) -> Theorem:
    claims, notes = _claims(loss)
    value = loss.bind(loss.dphi_at_zero)
    notation = {**meanings(beta, eta), **loss_parameters(loss), **NOTATION}
    return Theorem(
        id="accuracy-gaussian",
        title="Exact reward and policy accuracy for Gaussian preference classes",
        assumptions=[
            Assumption(
                "head",
                r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$ (answer rows 1 and 2 of the pair), so $h = "
                r"\beta s\,\Delta^\top g$ with $\beta > 0$ and $s = +1$ when answer 1 is preferred.",
            ),
            Assumption(
                "gaussian classes",
                r"$g \mid (b, s = \pm 1) \sim N(\mu_b^\pm, \Sigma_b^\pm)$ with $\Delta^\top\Sigma_b^\pm\Delta > 0$ "
                r"(and $(\Delta + w)^\top\Sigma_b^\pm(\Delta + w) > 0$ for the policy accuracy); $\Pr(s = +1 \mid b) "
                r"= q_b$, and behaviour $b$ has mixture weight $p_b$.",
            ),
            Assumption(
                "balanced isotropic (claims span, first step, one step, t steps)",
                r"$q_b = \frac12$, $\mu_b^\pm = c_b \pm \frac12\delta_b$ with $c_b \perp \delta_j$ for all $j$, "
                r"$\Sigma_b^\pm = \sigma_b^2 I$.",
            ),
            Assumption(
                "training (claims first step, one step, t steps)",
                rf"population gradient descent on $\mathbb{{E}}\,\phi(h)$ with step $\eta > 0$ from $W_0 = "
                rf"W_{{\mathrm{{ref}}}}$ ($\Delta_0 = 0$); ${loss.latex()}$ with $\phi'(0) = {sp.latex(value)}$.",
            ),
        ],
        claims=claims,
        summary=r"Accuracies count strict wins (a tie $h = 0$ is an error); under (A2) ties have probability zero.",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"Im \& Li (2024) bound the accuracy for sub-Gaussian and $\alpha$-subexponential features (see "
            r"accuracy-subexponential) "
            r"and report the policy accuracy $\Pr(\log\pi_W(y_w\mid x) > \log\pi_W(y_l\mid x))$ in their experiments. "
            r"The exact Gaussian reward and policy accuracy, the span (Gram) form, the sign-aware first and one-step "
            r"results for a general $\phi$ "
            r"and the $t$-step recursion are prefdyn's, in the spirit of Im \& Li (2024)."
        ),
    )
