r"""``implicit-bias``: full-batch GD on linearly separable data, classified by the tail of :math:`-\phi'`.

Setting: a training set :math:`\{(s_i, g_i)\}_{i=1}^n` with :math:`z_i = s_i g_i` *linearly
separable through the origin*: :math:`\gamma = \max_{\|w\| = 1}\min_i z_i^\top w > 0`, attained at
:math:`\gamma\hat w`, where :math:`\hat w = \arg\min\{\|w\| : z_i^\top w \ge 1\ \forall i\}` is the
hard-margin SVM vector (:math:`\|\hat w\| = 1/\gamma`, :math:`\min_i z_i^\top\hat w = 1`). This is the
generic case when :math:`n \le d` (real use: about 900 statements in :math:`d = 4096`, or about 120
per behaviour in MiniLM's :math:`d = 384`). Full-batch GD on the head moves
:math:`\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)`, :math:`L(\Delta) = \frac1n\sum_i\phi(h_i)`,
:math:`h_i = \beta z_i^\top\Delta`, from :math:`\Delta_0 = 0`. What happens depends on the loss,
classified from its own :math:`\phi'` (:func:`classify`):

* **exponential tail** (:math:`h^\star = \infty`, i.e. :math:`-\phi' > 0` everywhere, with
  :math:`-\phi'(h) \sim c\,e^{-ah}`; DPO): :math:`L` has no minimiser, :math:`\|\Delta_t\| \to \infty`
  and the direction converges to the SVM direction (Soudry et al. 2018, cited). prefdyn checks the
  cited theorem's hypotheses (claim ``tail``: the exact form
  :math:`-\phi'(h)e^{ah} = c(1 + \varepsilon(h))`; claim ``tail rate``: :math:`\varepsilon(h) \to 0`
  exponentially, the *tight* exponential tail; the certified smoothness :math:`L_2`; claim
  ``step size``: the cited step-size condition in prefdyn's units is :math:`\eta < \eta_{\max}` of
  ``stable-step-size``) and derives the consequences of the cited asymptotics (claims ``margin
  rate`` and ``norm rate``: :math:`\min_i h_i(t)/\log t \to 1/a`,
  :math:`\beta\gamma\|\Delta_t\|/\log t \to 1/a`);
* **finite stationary margin** (:math:`h^\star < \infty`: IPO, cDPO, EXO, DiscoPOP, hinge): a
  :math:`\Delta` with every :math:`h_i = h^\star` is a stationary point of :math:`L` (claim
  ``stationary margin``: :math:`\phi'(h^\star) = 0`), and there is one when the :math:`z_i` are
  linearly independent, so the cited theorem (no stationary point, divergence) does not apply;
  GD converges to a minimiser for the convex smooth ones with :math:`\eta < \eta_{\max}` (IPO, cDPO;
  classical, cited in a note). DiscoPOP's :math:`h^\star` is only a local minimum of :math:`\phi`
  (:math:`\phi > 0` with infimum 0 at :math:`+\infty`), so divergence from other starts is not excluded.
  For the hinge, GD stops for good after at most
  :math:`n(1/(\eta\beta^2) + R^2)/\gamma^2` moving steps (claim ``finite stop``, a margin-perceptron
  argument), with every margin :math:`\ge 1`;
* **linear tail** (:math:`h^\star = \infty`, :math:`-\phi' \to \ell > 0`: rDPO): every step moves
  :math:`\gamma\hat w^\top\Delta` by at least :math:`2\eta\beta\gamma\ell` (claim ``linear growth``), so
  :math:`\|\Delta_t\|` grows linearly; the direction is *not* the SVM one in general.

The asymptotic theorem itself is cited, not re-proved: its conclusion (the iterates are
:math:`\beta\Delta_t = \hat w\log(t)/a + r(t)` with :math:`\|r(t)\| = o(\log t)`) is the input
of the instances of claims ``margin rate`` and ``norm rate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import mpmath
import sympy as sp

from prefdyn.errors import PrefdynError

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..functions import to_elementary
from ..losses import Loss
from ..symbols import NOTATION, beta, eta, h, meanings, n, t
from ._notation import STEP_INDEX_MEANING, loss_parameters
from ._traj import dot, norm

#: Tail classes of :func:`classify`.
EXPONENTIAL, STATIONARY, LINEAR = "exponential tail", "finite stationary margin", "linear tail"

a = sp.Symbol("a", positive=True)
mu = sp.Symbol("mu", positive=True)
gamma = sp.Symbol("gamma", positive=True)
R = sp.Symbol("R", positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)

lim_tail_error = Atom(r"\lim_{h\to\infty}\frac{\log|\varepsilon(h)|}{h}")
lim_margin = Atom(r"\lim_{t\to\infty}\frac{\min_i h_i(t)}{\log t}")
lim_norm = Atom(r"\lim_{t\to\infty}\frac{\beta\gamma\|\Delta_t\|}{\log t}")
eta_S = Atom(r"\eta_S")
sigma_sq = Atom(r"\sigma_{\max}^2(Z)")
lam = Atom(r"\lambda_{\max}")
moves = Atom(r"T_{\mathrm{move}}")
active = Atom(r"\textstyle\sum_{k < T_{\mathrm{move}}} |A_k|")
progress = Atom(r"\gamma\hat w^\top\Delta_t")
h_star = sp.Symbol(r"h^\star", real=True)


@dataclass(frozen=True)
class TailClass:
    r"""The class of a loss's tail and its constants (defaults bound).

    ``kind`` is :data:`EXPONENTIAL` (:math:`-\phi'(h)e^{ah} = c(1 + \varepsilon(h))`,
    :math:`\log|\varepsilon(h)|/h \to -\mu`; ``mu`` is ``None`` when :math:`\varepsilon \equiv 0`),
    :data:`STATIONARY` (``hstar`` finite) or :data:`LINEAR` (:math:`-\phi' \downarrow \ell > 0`).
    """

    kind: str
    hstar: sp.Expr
    a: sp.Expr | None = None
    c: sp.Expr | None = None
    error: sp.Expr | None = None
    mu: sp.Expr | None = None
    ell: sp.Expr | None = None


def _positive_finite(value: sp.Expr) -> bool:
    return bool(value.is_finite) and bool(value.is_positive)


@cache
def classify(loss: Loss) -> TailClass:
    r"""Classify ``loss`` by SymPy limits of its own :math:`-\phi'` as :math:`h \to +\infty` and its
    certified :math:`h^\star` and sign of :math:`\phi'(0)`.

    * :math:`h^\star < \infty`: :data:`STATIONARY`;
    * else :math:`\phi'(0) < 0` and :math:`\phi'` has no root, so :math:`-\phi' > 0` everywhere; then
      :math:`\ell = \lim -\phi' > 0` with :math:`\phi'' \ge 0` proved symbolically (so
      :math:`-\phi' \ge \ell`): :data:`LINEAR`; :math:`\ell = 0` with
      :math:`a = \lim -\log(-\phi')/h \in (0, \infty)`, :math:`c = \lim -\phi' e^{ah} \in (0, \infty)`
      and :math:`\lim_{h\to-\infty} -\phi'(h) > 0`:
      :data:`EXPONENTIAL`.

    Anything else (a polynomial tail, a limit SymPy cannot take) is a
    :class:`~prefdyn.errors.PrefdynError`: no statement is made.

    >>> from prefdyn.theory.losses import get_loss
    >>> classify(get_loss("dpo")).kind, classify(get_loss("rdpo")).kind
    ('exponential tail', 'linear tail')
    """
    hstar = loss.stationary_margin
    if hstar != sp.oo:
        return TailClass(STATIONARY, hstar)
    if loss.dphi_at_zero_sign != -1:
        raise PrefdynError(f"implicit-bias: loss {loss.name}: phi' has no root but phi'(0) >= 0; no statement")
    slope = to_elementary(-loss.bind(loss.dphi))
    try:
        limit = sp.limit(slope, h, sp.oo)
        if _positive_finite(limit):
            from ..framework import verify_relation

            convex = verify_relation(to_elementary(loss.bind(loss.d2phi)), ">=", sp.Integer(0), {h: (-40.0, 40.0)})
            if convex.verified and convex.method == "symbolic":
                return TailClass(LINEAR, hstar, ell=limit)
        elif limit == 0:
            rate = sp.limit(-sp.log(slope) / h, h, sp.oo)
            if _positive_finite(rate) and sp.limit(slope, h, -sp.oo).is_positive:
                constant = sp.limit(slope * sp.exp(rate * h), h, sp.oo)
                if _positive_finite(constant):
                    error = sp.simplify(slope * sp.exp(rate * h) / constant - 1)
                    decay = None if error == 0 else -sp.limit(sp.log(sp.Abs(error)) / h, h, sp.oo)
                    if decay is None or _positive_finite(decay):
                        return TailClass(EXPONENTIAL, hstar, rate, constant, error, decay)
    except (NotImplementedError, ValueError, TypeError) as err:
        raise PrefdynError(f"implicit-bias: loss {loss.name}: cannot take the tail limits of phi' ({err})") from None
    raise PrefdynError(
        f"implicit-bias: loss {loss.name}: the tail of -phi' is neither exponential (tight) nor linear with "
        "phi'' >= 0; no statement"
    )


# --------------------------------------------------------------------------- separable data sets

#: Separable data sets :math:`z_i` (rows) with their SVM vector :math:`\hat w` and dual weights
#: :math:`\alpha` (:math:`\hat w = \sum_i\alpha_i z_i`, :math:`\alpha \ge 0`, :math:`z_i^\top\hat w \ge 1`
#: with equality where :math:`\alpha_i > 0`: the KKT conditions, verified by :func:`_svm`).
DATA_SETS = (
    (((1, 1), (1, -1), (2, 0)), (1, 0), (sp.Rational(1, 2), sp.Rational(1, 2), 0)),
    (((2, 1), (1, 2)), (sp.Rational(1, 3), sp.Rational(1, 3)), (sp.Rational(1, 9), sp.Rational(1, 9))),
    (((1, 0, 0), (0, 1, 0), (1, 1, 1)), (1, 1, 0), (1, 1, 0)),
)


def _svm(index: int) -> tuple[list[sp.Matrix], sp.Matrix, sp.Expr]:
    r"""``(z, w_hat, gamma)`` of data set ``index``, after checking the KKT conditions of the hard-margin
    SVM :math:`\min\frac12\|w\|^2` s.t. :math:`z_i^\top w \ge 1` (sufficient for a convex problem)."""
    rows, w, alpha = DATA_SETS[index]
    z = [sp.Matrix(r) for r in rows]
    w_hat = sp.Matrix(w)
    margins = [dot(x, w_hat) for x in z]
    combination = sp.zeros(len(w), 1)
    for weight, x in zip(alpha, z):
        combination += weight * x
    ok = combination == w_hat and all(m >= 1 for m in margins) and all(al >= 0 for al in alpha)
    if not ok or any(al * (m - 1) != 0 for al, m in zip(alpha, margins)):
        raise PrefdynError(f"implicit-bias: data set {index} is not a hard-margin SVM solution")
    return z, w_hat, 1 / norm(w_hat)


def _residual(index: int, dim: int) -> sp.Matrix:
    r"""The residual :math:`r(t) = o(\log t)` of data set ``index`` in the rate claims' instances: a
    bounded one on the first set, one growing like :math:`\log\log t` (the growth the cited theorem
    allows on degenerate data) on the others."""
    if index == 0:
        return sp.Matrix([sp.Rational(3 * (j + 1), 2) * (-1) ** j for j in range(dim)])
    return sp.Matrix([sp.log(1 + sp.log(t)) * (j + 1) - sp.atan(sp.log(t)) for j in range(dim)])


# --------------------------------------------------------------------------- claims: exponential tail


def _tail(tail: TailClass, loss: Loss) -> Claim:
    slope = -loss.bind(loss.dphi)
    epsilon = sp.Function(r"\varepsilon")
    return chain(
        "tail",
        slope * sp.exp(tail.a * h),
        [
            (
                "=",
                tail.c * (1 + tail.error),
                (
                    r"defines $\varepsilon$, with $a = \lim -\log(-\phi'(h))/h$ and $c = \lim -\phi'(h)e^{ah}$ "
                    r"(SymPy limits, not interval-certified)"
                ),
            )
        ],
        prose=rf"so $-\phi'(h)e^{{ah}} = c(1 + \varepsilon(h))$ with $a = {sp.latex(tail.a)}$, "
        rf"$c = {sp.latex(tail.c)}$ and ${sp.latex(epsilon(h))} = {sp.latex(tail.error)}$.",
    )


def _tail_rate(tail: TailClass) -> Claim:
    def build() -> list[dict]:
        value = sp.limit(sp.log(sp.Abs(tail.error)) / h, h, sp.oo)
        return [{lim_tail_error: value, mu: tail.mu}]

    return chain(
        "tail rate",
        lim_tail_error,
        [("=", -mu, r"SymPy limit of the printed $\varepsilon(h)$ (not interval-certified)")],
        instances=Instances(rf"the loss's $\varepsilon(h)$, $\mu = {sp.latex(tail.mu)}$", build),
        prose=r"Hence $|\varepsilon(h)| \le e^{-\mu' h}$ for every $\mu' < \mu$ and large $h$: the tail is "
        r"tight (two-sided $c(1 \pm e^{-\mu' h})e^{-ah}$), as the cited theorem requires.",
    )


def _step_size(L2: sp.Expr) -> Claim:
    def build() -> list[dict]:
        out = []
        for index in range(len(DATA_SETS)):
            z, _, _ = _svm(index)
            Z = sp.Matrix.hstack(*z).T  # n x d
            gram = Z.T * Z
            top = max(gram.eigenvals(), key=lambda v: float(v))
            size = len(z)
            out.append({eta_S: 2 * eta * beta**2 / size, sigma_sq: top, lam: top / size})
        return out

    return chain(
        "step size",
        eta_S * L2 * sigma_sq / 2,
        [
            (
                "=",
                eta * beta**2 * L2 * lam,
                (
                    r"$w = \beta\Delta$ turns prefdyn's step into GD on $\sum_i\phi(z_i^\top w)$ with step "
                    r"$\eta_S = 2\eta\beta^2/n$; $\sigma_{\max}^2(Z) = n\lambda_{\max}$"
                ),
            )
        ],
        instances=Instances("the data sets of the rate claims (n = 3, 2, 3; d = 2, 2, 3)", build),
        prose=r"So the cited condition $\eta_S < 2/(L_2\sigma_{\max}^2(Z))$ is $\eta < 1/(\beta^2L_2\lambda_{\max}) = "
        r"\eta_{\max}$ of stable-step-size.",
    )


def _rate_instances(
    label: str,
    value: Callable[[list[sp.Matrix], sp.Matrix, sp.Expr, sp.Matrix, sp.Expr], sp.Expr],
    atom: Atom,
    tail: TailClass,
) -> Instances:
    r"""The rate claims' instances: each data set with its residual, :math:`\beta\Delta_t = \hat w\log(t)/a + r(t)`."""

    def build() -> list[dict]:
        out = []
        for index in range(len(DATA_SETS)):
            z, w_hat, margin = _svm(index)
            rho = _residual(index, len(w_hat))
            out.append({atom: value(z, w_hat, margin, rho, tail.a), a: tail.a, gamma: margin})
        return out

    return Instances(label, build)


def _limit_in_log(expr: sp.Expr) -> sp.Expr:
    r""":math:`\lim_{t\to\infty}` of ``expr``, taken in :math:`u = \log t \to \infty` (every instance
    depends on :math:`t` through :math:`\log t` only)."""
    u = sp.Dummy("u", positive=True)
    return sp.limit(expr.subs(t, sp.exp(u)), u, sp.oo)


def _margin_limit(z: list[sp.Matrix], w_hat: sp.Matrix, margin: sp.Expr, rho: sp.Matrix, rate: sp.Expr) -> sp.Expr:
    r""":math:`\lim\min_i h_i(t)/\log t` as the minimum of the :math:`n` limits (finitely many, each
    convergent), :math:`h_i = z_i^\top(\hat w\log(t)/a + r(t))`."""
    w_t = w_hat * sp.log(t) / rate + rho
    return sp.Min(*(_limit_in_log(dot(x, w_t) / sp.log(t)) for x in z))


def _norm_limit(z: list[sp.Matrix], w_hat: sp.Matrix, margin: sp.Expr, rho: sp.Matrix, rate: sp.Expr) -> sp.Expr:
    r""":math:`\lim\gamma\|\beta\Delta_t\|/\log t` for :math:`\beta\Delta_t = \hat w\log(t)/a + r(t)`."""
    w_t = w_hat * sp.log(t) / rate + rho
    return _limit_in_log(margin * norm(w_t) / sp.log(t))


def _rates(tail: TailClass) -> list[Claim]:
    label = (
        r"the three separable data sets of claim step size with their SVM vectors (KKT verified), "
        r"$\beta\Delta_t = \hat w\log(t)/a + r(t)$ with a bounded $r$ (first set) or one growing like $\log\log t$"
    )
    margin = chain(
        "margin rate",
        lim_margin,
        [
            (
                "=",
                1 / a,
                (
                    r"$h_i(t) = z_i^\top\hat w\,\log(t)/a + z_i^\top r(t)$ with $r(t) = o(\log t)$ (cited), and "
                    r"$\min_i z_i^\top\hat w = 1$ (SVM)"
                ),
            )
        ],
        instances=_rate_instances(label, _margin_limit, lim_margin, tail),
        prose=r"The smallest margin grows like $\log(t)/a$: training accuracy reaches 1 and the loss tends to 0, "
        r"while $\Delta_t$ never converges.",
    )
    growth = chain(
        "norm rate",
        lim_norm,
        [("=", 1 / a, r"$\beta\|\Delta_t\| = \|\hat w\|\log(t)/a + o(\log t)$ and $\|\hat w\| = 1/\gamma$ (SVM)")],
        instances=_rate_instances(label, _norm_limit, lim_norm, tail),
        prose=r"$\|\Delta_t\| \sim \log(t)/(a\beta\gamma)$.",
    )
    return [margin, growth]


# --------------------------------------------------------------------------- claims: stationary margin


def _stationary(tail: TailClass, loss: Loss) -> Claim:
    dphi = loss.bind(loss.dphi)
    return chain(
        "stationary margin",
        dphi.subs(h, h_star),
        [("=", sp.Integer(0), r"$h^\star$ is the certified smallest root of $\phi'$ (interval root isolation)")],
        instances=Instances(rf"$h^\star = {sp.latex(tail.hstar)}$", lambda: [{h_star: tail.hstar}]),
        prose=r"Hence every $\Delta$ with $\beta z_i^\top\Delta = h^\star$ for all $i$ has $\nabla L(\Delta) = 0$.",
    )


#: Hinge runs of claim finite stop: (data set, eta, beta).
HINGE_RUNS = tuple(
    (index, sp.Rational(e), sp.Rational(b_))
    for index in range(len(DATA_SETS))
    for e, b_ in (("1/2", "1"), ("1/10", "2"), ("2", "1/2"), ("1/50", "1"))
)


def _hinge_run(index: int, step: sp.Expr, temperature: sp.Expr) -> tuple[int, int]:
    r"""``(T_move, sum_k |A_k|)`` of exact hinge GD from :math:`\Delta_0 = 0`:
    :math:`\Delta_{k+1} = \Delta_k + \frac{2\eta\beta}{n}\sum_{i \in A_k} z_i`,
    :math:`A_k = \{i : \beta z_i^\top\Delta_k < 1\}`, until :math:`A_k` is empty."""
    z, _, _ = _svm(index)
    delta = sp.zeros(len(z[0]), 1)
    count = total = 0
    while True:
        act = [x for x in z if temperature * dot(x, delta) < 1]
        if not act:
            return count, total
        delta = delta + 2 * step * temperature / len(z) * sum(act, sp.zeros(len(z[0]), 1))
        count, total = count + 1, total + len(act)


def _finite_stop() -> Claim:
    def build() -> list[dict]:
        out = []
        for index, step, temperature in HINGE_RUNS:
            z, _, margin = _svm(index)
            count, total = _hinge_run(index, step, temperature)
            radius = max(norm(x) for x in z)
            out.append(
                {
                    moves: sp.Integer(count),
                    active: sp.Integer(total),
                    eta: step,
                    beta: temperature,
                    n: sp.Integer(len(z)),
                    gamma: margin,
                    R: radius,
                }
            )
        return out

    rate = 2 * eta * beta / n
    return chain(
        "finite stop",
        moves,
        [
            ("<=", active, r"every moving step has an active sample, $|A_k| \ge 1$"),
            (
                "<=",
                (2 / beta + rate * n * R**2) / (rate * gamma**2),
                (
                    r"with $u = \gamma\hat w$, $c = 2\eta\beta/n$ and $m = \sum_k|A_k|$: $u^\top\Delta_T \ge c\gamma m$ "
                    r"($z_i^\top u \ge \gamma$) and $\|\Delta_T\|^2 \le 2cm/\beta + c^2nR^2m$ ($\beta z_i^\top\Delta_k < 1$ "
                    r"on $A_k$, $|A_k| \le n$); Cauchy--Schwarz"
                ),
            ),
            ("=", n / (eta * beta**2 * gamma**2) + n * R**2 / gamma**2, r"$c = 2\eta\beta/n$"),
        ],
        instances=Instances(
            r"exact hinge GD on the three separable data sets, $(\eta, \beta) \in \{(1/2, 1), (1/10, 2), (2, 1/2), "
            r"(1/50, 1)\}$",
            build,
        ),
        prose=r"After $T_{\mathrm{move}}$ steps every $h_i \ge 1$, $\phi' = 0$ on every sample and GD never moves "
        r"again: training accuracy 1, loss 0, for any $\eta > 0$.",
    )


# --------------------------------------------------------------------------- claims: linear tail

#: Runs of claim linear growth: (data set, eta, beta, steps), evaluated to 30 digits.
LINEAR_RUNS = ((0, sp.Rational(1, 2), sp.Integer(1), 3), (1, sp.Rational(1, 5), sp.Integer(2), 2))
DIGITS = 30


def _linear_growth(tail: TailClass, loss: Loss) -> Claim:
    slope = sp.lambdify(h, to_elementary(-loss.bind(loss.dphi)), "mpmath")

    def build() -> list[dict]:
        out = []
        for index, step, temperature, steps in LINEAR_RUNS:
            z, w_hat, margin = _svm(index)
            with mpmath.workdps(DIGITS + 10):
                Z = [[mpmath.mpf(sp.Rational(v).p) / sp.Rational(v).q for v in x] for x in z]
                u = [mpmath.mpf(sp.N(margin * v, DIGITS + 10)) for v in w_hat]
                b_ = mpmath.mpf(sp.N(temperature, DIGITS + 10))
                scale = 2 * mpmath.mpf(sp.N(step, DIGITS + 10)) * b_ / len(Z)
                delta = [mpmath.mpf(0)] * len(u)
                for count in range(1, steps + 1):
                    weights = [slope(b_ * sum(p * q for p, q in zip(x, delta))) for x in Z]
                    delta = [d_ + scale * sum(w * x[j] for w, x in zip(weights, Z)) for j, d_ in enumerate(delta)]
                    value = sp.Float(mpmath.nstr(sum(p * q for p, q in zip(u, delta)), DIGITS + 5), DIGITS)
                    out.append({progress: value, eta: step, beta: temperature, gamma: margin, t: count})
        return out

    return chain(
        "linear growth",
        progress,
        [
            (
                ">=",
                sp.Sum(2 * eta * beta * gamma * tail.ell, (k, 0, t - 1)),
                (
                    rf"each step adds $\frac{{2\eta\beta}}{{n}}\sum_i(-\phi'(h_i))z_i^\top u$ with $z_i^\top u \ge \gamma$ and "
                    rf"$-\phi' \ge \ell = {sp.latex(tail.ell)}$ ($\phi'' \ge 0$, so $-\phi'$ decreases to $\ell$)"
                ),
            ),
            ("=", 2 * eta * beta * gamma * tail.ell * t, r"$t$ equal terms"),
        ],
        instances=Instances(r"GD on two separable data sets, 30-digit trajectories, $t \le 3$", build),
        prose=r"So $\|\Delta_t\| \ge \gamma\hat w^\top\Delta_t$ grows at least linearly (and at most linearly, "
        r"weight-growth): no finite limit and, in general, no convergence to the SVM direction.",
    )


def _convex_and_coercive(loss: Loss) -> bool:
    r"""Whether :math:`\phi \to \infty` as :math:`h \to \pm\infty` (SymPy limits) and :math:`\phi'' \ge 0`
    is proved symbolically: then the empirical loss attains its minimum on any data."""
    from ..framework import verify_relation

    phi = to_elementary(loss.bind(loss.phi))
    try:
        coercive = sp.limit(phi, h, sp.oo) == sp.oo and sp.limit(phi, h, -sp.oo) == sp.oo
    except (NotImplementedError, ValueError, TypeError):
        return False
    if not coercive:
        return False
    convex = verify_relation(to_elementary(loss.bind(loss.d2phi)), ">=", sp.Integer(0), {h: (-40.0, 40.0)})
    return convex.verified and convex.method == "symbolic"


# --------------------------------------------------------------------------- theorem

_SEPARABLE = Assumption(
    "separable data",
    r"$z_i = s_ig_i$, $i = 1, \dots, n$, are linearly separable through the origin: "
    r"$\gamma = \max_{\|w\| = 1}\min_i z_i^\top w > 0$, attained at $\gamma\hat w$ with $\hat w$ the hard-margin SVM "
    r"vector; generic when $n \le d$.",
)
_GD = Assumption(
    "full-batch GD",
    r"$\Delta_0 = 0$, $\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)$ with $L(\Delta) = \frac1n\sum_i\phi(h_i)$, "
    r"$h_i = \beta z_i^\top\Delta$ (the head $W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$).",
)


def build(loss: Loss) -> Theorem:
    tail = classify(loss)
    L2 = loss.smoothness
    notes: list[str] = []
    assumptions = [_SEPARABLE, _GD]
    notation: dict = {
        **meanings(beta, eta, h),
        **loss_parameters(loss),
        gamma: r"is the hard-margin SVM margin $\max_{\|w\|=1}\min_i z_i^\top w$ of the training set",
    }
    if tail.kind == EXPONENTIAL:
        claims = [_tail(tail, loss)]
        if tail.mu is not None:
            claims.append(_tail_rate(tail))
            notation.update(
                {
                    lim_tail_error: r"is the exponential decay rate of the relative tail error $\varepsilon(h)$",
                    mu: rf"is that rate (here ${sp.latex(tail.mu)}$)",
                }
            )
        smooth = bool(L2.is_finite)
        if smooth:
            claims += [_step_size(L2), *_rates(tail)]
            assumptions += [
                Assumption(
                    "exponential tail",
                    rf"$-\phi'(h) > 0$ for every $h$ (certified: $\phi'(0) < 0$ and $\phi'$ has no root) and "
                    rf"$\lim_{{h\to-\infty}}-\phi'(h) > 0$, $-\phi'(h) \sim c\,e^{{-ah}}$, tight (claims tail, tail rate); $\phi'$ is $L_2$-Lipschitz with the "
                    rf"certified $L_2 = {sp.latex(L2)}$.",
                ),
                Assumption(
                    "step size",
                    r"$\eta < \eta_{\max} = 1/(\beta^2L_2\lambda_{\max})$, $\lambda_{\max}$ the top eigenvalue of "
                    r"$\mathbb{E}[gg^\top]$ over the training set, $\frac1n\sum_iz_iz_i^\top$ (claim step size: the cited "
                    r"$\eta_S < 2/(L_2\sigma_{\max}^2(Z))$).",
                ),
                Assumption(
                    "cited asymptotics (claims margin rate, norm rate)",
                    r"Under the hypotheses above, $\beta\Delta_t = \hat w\log(t)/a + r(t)$ with $\|r(t)\| = "
                    r"o(\log t)$ (Soudry et al. 2018, Theorem 3, there with $a = 1$; rescale $h \mapsto ah$), so "
                    r"$\Delta_t/\|\Delta_t\| \to \gamma\hat w$.",
                ),
            ]
            notation.update(
                {
                    a: rf"is the tail exponent, $-\phi'(h) \sim c\,e^{{-ah}}$ (here ${sp.latex(tail.a)}$)",
                    eta_S: r"is the step of the same GD written on $w = \beta\Delta$ and the summed loss "
                    r"$\sum_i\phi(z_i^\top w)$",
                    sigma_sq: r"is the squared largest singular value of the $n\times d$ matrix $Z$ of rows $z_i$",
                    lam: r"is the largest eigenvalue of the second moment $\mathbb{E}[gg^\top]$ of the embeddings",
                    lim_margin: r"is the limiting ratio of the smallest margin $\min_i h_i(t)$ to $\log t$",
                    lim_norm: r"is the limiting ratio of $\beta\gamma\|\Delta_t\|$ to $\log t$",
                    t: NOTATION[t],
                }
            )
            notes += [
                (
                    r"Cited, not checked by prefdyn: the asymptotic form $\beta\Delta_t = \hat w\log(t)/a + r(t)$ and "
                    r"the direction $\Delta_t/\|\Delta_t\| \to \gamma\hat w$ (Soudry, Hoffer, Nacson, Gunasekar \& Srebro "
                    r"2018, JMLR 19(70), Theorem 3; rates: $\|\Delta_t/\|\Delta_t\| - \gamma\hat w\| = O(\log\log t/\log t)$, "
                    r"$O(1/\log t)$ for almost every data set, in the same paper). "
                    r"Checked: the hypotheses (tail form and tightness, sign of $\phi'$, certified $L_2$, the step-size "
                    r"translation) and the consequences derived from the cited form (margin and norm rates)."
                ),
                (
                    r"On separable data the empirical loss has no stationary point: the stationary-point hypothesis of "
                    r"accuracy-gaussian's and misalignment-rate's fixed points fails for the training set, training "
                    r"accuracy tends to 1 and $\|\Delta_t\| \to \infty$ (slowly, like $\log t$); their population "
                    r"statements still describe the population (infinite-sample) flow, not this regime."
                ),
            ]
        else:
            notes.append(
                rf"$\phi'$ is not Lipschitz ($L_2 = {sp.latex(L2)}$): the cited theorem needs a smooth loss, so no "
                r"rate is claimed."
            )
        title = "Implicit bias of GD on separable data: SVM direction, logarithmic growth"
    elif tail.kind == STATIONARY:
        hinge = not bool(L2.is_finite)
        claims = [] if hinge else [_stationary(tail, loss)]
        notation[h_star] = (
            rf"is the certified stationary margin $\inf\{{h : \phi'(h) = 0\}}$ (here ${sp.latex(tail.hstar)}$)"
        )
        if hinge:
            claims.append(_finite_stop())
            notation.update(
                {
                    n: r"is the training-set size",
                    R: r"is $\max_i\|z_i\|$",
                    moves: r"is the number of steps at which GD moves ($A_k \ne \emptyset$)",
                    active: r"is the total number of active samples $A_k = \{i : h_i(k) < 1\}$ over those steps",
                    k: STEP_INDEX_MEANING,
                }
            )
            notation.pop(h_star)
            assumptions.append(
                Assumption(
                    "hinge", r"$\phi'(h) = -1$ for $h < 1$ and $0$ for $h \ge 1$ (prefdyn's one-sided derivative)."
                )
            )
        notes += [
            (
                rf"{loss.name} has a finite stationary margin $h^\star = {sp.latex(tail.hstar)}$ (certified): any $\Delta$ with "
                r"$\beta z_i^\top\Delta = h^\star$ for all $i$ is a stationary point of the empirical loss (one exists when "
                r"the $z_i$ are linearly independent, generic for $n \le d$), so the cited implicit-bias theorem (no "
                r"stationary point, divergence along the SVM direction) does not apply, whatever the tail of $\phi$."
            ),
        ]
        if not hinge and _convex_and_coercive(loss):
            notes.append(
                r"This loss is convex ($\phi'' \ge 0$, proved by SymPy) and $\phi \to \infty$ on both sides, so the empirical loss attains its "
                r"minimum on any data, and GD with $\eta < \eta_{\max}$ (stable-step-size; at $\eta = \eta_{\max}$ a quadratic "
                r"$\phi$ can oscillate) converges to a minimiser "
                r"(classical for convex smooth objectives; cited, not checked here)."
            )
        if loss.dphi_at_zero_sign == 1:
            notes.append(
                r"Here $\phi'(0) > 0$: $\phi$ is not decreasing, so the cited implicit-bias theorem does not apply; "
                r"the first GD step from $\Delta_0 = 0$ lowers the mean margin "
                r"($\sum_i h_i(1) = -\frac{2\eta\beta^2}{n}\phi'(0)\|\sum_i z_i\|^2$), though not necessarily every margin."
            )
        title = "GD on separable data: a finite stationary margin, stationary points exist"
    else:
        claims = [_linear_growth(tail, loss)]
        assumptions.append(
            Assumption(
                "linear tail (claim linear growth)",
                rf"$\phi'' \ge 0$ and $-\phi'(h)$ decreases to $\ell = {sp.latex(tail.ell)} > 0$ as $h \to \infty$.",
            )
        )
        notation.update(
            {
                progress: r"is the component of $\Delta_t$ along the unit SVM direction $\gamma\hat w$",
                k: STEP_INDEX_MEANING,
                t: NOTATION[t],
            }
        )
        notes.append(
            rf"{loss.name} has a linear tail: $-\phi'(h) \to \ell = {sp.latex(tail.ell)} > 0$, so $\|\Delta_t\|$ grows "
            r"linearly and the limit direction is in general not the SVM direction (every sample keeps a slope of at "
            r"least $\ell$, not only the support vectors); the exponential-tail theorem does not apply."
        )
        title = "GD on separable data with a linear tail: linear growth"
    notes.insert(0, f"Tail class of {loss.name}: {tail.kind}.")
    return Theorem(
        id="implicit-bias",
        title=title,
        assumptions=assumptions,
        claims=claims,
        summary=rf"Loss {loss.name} ({tail.kind}): ${loss.latex()}$.",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"The directional convergence to the hard-margin SVM and the $\log t$ growth for exponential-tailed, "
            r"smooth, strictly decreasing losses are Soudry, Hoffer, Nacson, Gunasekar \& Srebro (2018, JMLR, "
            r"Theorem 3, and the rates there); cited, not re-proved (Ji \& Telgarsky 2019 treat non-separable data). "
            r"prefdyn's: the "
            r"classification of each loss by the tail of its own $\phi'$, the check of the cited hypotheses "
            r"(tail form and tightness, sign, certified smoothness, the step size in prefdyn's units), the margin "
            r"and norm rates derived from the cited form, the finite stop of hinge GD (a margin-perceptron "
            r"argument), the linear growth for a linear tail, and the stationary margin of the others."
        ),
    )
