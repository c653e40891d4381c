r"""``update-rate``: the first gradient step from the reference, for any margin loss.

For a :math:`K`-behaviour mixture (weights :math:`p_b`, positive fractions :math:`q_b`, label-flip
rates :math:`\epsilon_b`, class means :math:`\mu_b^\pm`) and one GD step of size :math:`\eta` on
:math:`\mathbb E\,\phi(h)` from :math:`W = W_{\rm ref}` (where :math:`h = 0`),

.. math::
   \mathbb E[\Delta W_1] = -\eta\beta\phi'(0)\,(e_1 - e_2)\sum_b p_b\,m_b^\top,\qquad
   m_b = \mathbb E[s g\mid b] = (1-2\epsilon_b)\,(q_b\mu_b^+ - (1-q_b)\mu_b^-).

The mean margin of behaviour :math:`b` then grows by
:math:`-2\eta\beta^2\phi'(0)\sum_{b'} p_{b'}\langle m_{b'}, m_b\rangle`
(plus the self-term :math:`(S_b - \|m_b\|^2)/n`, :math:`S_b = \mathbb E[\|g\|^2\mid b]`, on a
stratified training set of size :math:`n`); for balanced, orthogonal, offset-free behaviours this
is :math:`-\tfrac12\eta\beta^2\phi'(0)\,p_b\|\delta_b\|^2` (DPO: :math:`\tfrac14\eta\beta^2 p_b\|\delta_b\|^2`,
Im & Li 2024, Thm. 4.1). Finite-sample versions with explicit concentration terms
(sub-Gaussian: Chernoff; :math:`\alpha`-subexponential: Chebyshev with the
:math:`\psi_\alpha` variance bound) close the theorem.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import cache

import sympy as sp

from ..framework import Assumption, Claim, Form, Instances, Theorem, chain
from ..functions import std_normal_cdf
from ..losses import Loss
from ..model import FiniteLaw, PreferenceModel
from ..symbols import beta, eta, h, n
from ._head import head, log_ratio_difference, vector

V_CONCRETE, D_CONCRETE = 3, 2
KS = (1, 2)
LABEL = f"V={V_CONCRETE}, d={D_CONCRETE}, K in {KS}, two-point noise"

b_, j_, i_ = sp.Idx("b"), sp.Symbol("j", integer=True), sp.Symbol("i", integer=True)
K = sp.Symbol("K", positive=True, integer=True)
p, q, eps = sp.IndexedBase("p"), sp.IndexedBase("q"), sp.IndexedBase(r"\epsilon")
mu_p, mu_m = sp.IndexedBase(r"\mu^{+}"), sp.IndexedBase(r"\mu^{-}")
Gamma, S = sp.IndexedBase(r"\Gamma"), sp.IndexedBase("S")
bp = sp.Symbol("b'", integer=True)
delta_conf = sp.Symbol(r"\delta", positive=True)  # confidence level
sigma_psi, K_psi, alpha = sp.symbols(r"\sigma_{\psi} K_{\psi} alpha", positive=True)
x = sp.Symbol("x", positive=True)


def _gradient_matrix(loss: Loss) -> Callable[[sp.Matrix, int], sp.Matrix]:
    """Per-sample :math:`\\nabla_W \\phi(\\beta\\rho)` at :math:`W = W_{\\rm ref}` on a concrete
    :math:`V\\times d` head, by SymPy differentiation through the log-softmax."""
    W, R, g = head("W", V_CONCRETE, D_CONCRETE), head("R", V_CONCRETE, D_CONCRETE), vector("g", D_CONCRETE)
    phi = loss.bind(loss.phi)
    at_ref = {W[a, c]: R[a, c] for a, c in itertools.product(range(V_CONCRETE), range(D_CONCRETE))}
    grads = {}
    for sign, (w, l) in ((1, (0, 1)), (-1, (1, 0))):
        rho = log_ratio_difference(W, R, g, w, l)
        grads[sign] = sp.Matrix(V_CONCRETE, D_CONCRETE, lambda a, c, rho=rho: sp.diff(phi.subs(h, beta * rho), W[a, c]).subs(at_ref))

    def gradient(embedding: sp.Matrix, sign: int) -> sp.Matrix:
        return grads[sign].subs(dict(zip(g, embedding)))

    return gradient


def _e12() -> sp.Matrix:
    e = sp.zeros(V_CONCRETE, 1)
    e[0], e[1] = 1, -1
    return e


def _first_step_forms(loss: Loss) -> list[Callable[[], list[sp.Matrix]]]:
    dphi0 = loss.bind(loss.dphi_at_zero)
    dphi = loss.bind(loss.dphi)

    @cache
    def gradient() -> Callable[[sp.Matrix, int], sp.Matrix]:
        return _gradient_matrix(loss)

    def per_law(f: Callable[[FiniteLaw], sp.Matrix]) -> Callable[[], list[sp.Matrix]]:
        return lambda: [f(FiniteLaw(k, D_CONCRETE)) for k in KS]

    def e_w_minus_e_l(sign: int) -> sp.Matrix:
        return sign * _e12()

    return [
        per_law(lambda law: -eta * law.expectation(lambda a: gradient()(a.embedding, a.sign))),
        per_law(lambda law: -eta * beta * law.expectation(lambda a: dphi.subs(h, 0) * e_w_minus_e_l(a.sign) * a.embedding.T)),
        per_law(lambda law: -eta * beta * dphi0 * _e12() * law.expectation(lambda a: a.sign * a.embedding).T),
        per_law(lambda law: -eta * beta * dphi0 * _e12() * sum((law.weights[c] * law.signed_mean(c) for c in range(law.K)), sp.zeros(D_CONCRETE, 1)).T),
    ]


def _first_step(loss: Loss) -> Claim:
    dphi0 = loss.bind(loss.dphi_at_zero)
    c0, c1, c2, c3 = _first_step_forms(loss)
    kron = sp.KroneckerDelta
    m_bj = (1 - 2 * eps[b_]) * (q[b_] * mu_p[b_, j_] - (1 - q[b_]) * mu_m[b_, j_])
    return chain(
        "first step",
        Form(sp.Symbol(r"\mathbb{E}[\Delta W_1]_{ij}"), c0),
        [
            ("=", Form(-eta * beta * sp.Symbol(r"\mathbb{E}[\phi'(h)(\delta_{i y_w} - \delta_{i y_l}) g_j]"), c1),
             r"GD step $W_1 = W_{\rm ref} - \eta\nabla_W\mathbb{E}\phi(h)$ and dpo-gradient"),
            ("=", Form(-eta * beta * dphi0 * (kron(i_, 1) - kron(i_, 2)) * sp.Symbol(r"\mathbb{E}[s g_j]"), c2),
             r"$h = 0$ at $W_{\rm ref}$; $e_{y_w} - e_{y_l} = s(e_1 - e_2)$"),
            ("=", Form(-eta * beta * dphi0 * (kron(i_, 1) - kron(i_, 2)) * sp.Sum(p[b_] * m_bj, (b_, 1, K)), c3),
             r"tower rule over behaviour, true label and label flip"),
        ],
        instances=LABEL,
        prose=r"Only rows 1 and 2 move; the step is rank one along $\sum_b p_b m_b$.",
    )


def _margin_growth(loss: Loss) -> Claim:
    """Mean margin of a fresh sample of behaviour b after the population step (V = 2 head)."""
    dphi0 = loss.bind(loss.dphi_at_zero)
    first = _first_step_forms(loss)[0]

    def delta1(law: FiniteLaw, step: sp.Matrix) -> sp.Matrix:
        return (_e12().T * step).T  # (e_1 - e_2)^T E[dW_1], as a column

    def forms() -> tuple[list, list, list]:
        lhs, mid, rhs = [], [], []
        for law, step in zip((FiniteLaw(k, D_CONCRETE) for k in KS), first()):
            d1 = delta1(law, step)
            for b in range(law.K):
                atoms = [a for a in law.atoms() if a.behaviour == b]
                cond = sum((a.probability * beta * a.sign * (d1.T * a.embedding)[0] for a in atoms), sp.Integer(0)) / law.weights[b]
                lhs.append(cond)
                mid.append(beta * (d1.T * law.signed_mean(b))[0])
                rhs.append(-2 * eta * beta**2 * dphi0 * sum(law.weights[c] * (law.signed_mean(c).T * law.signed_mean(b))[0] for c in range(law.K)))
        return lhs, mid, rhs

    cached = cache(forms)
    return chain(
        "margin growth",
        Form(sp.Symbol(r"\mathbb{E}[h_1 \mid b]"), lambda: cached()[0]),
        [
            ("=", Form(beta * sp.Symbol(r"\Delta_1^\top m_b"), lambda: cached()[1]),
             r"$h = \beta s\,\Delta_1^\top g$ and $m_b = \mathbb{E}[s g \mid b]$"),
            ("=", Form(-2 * eta * beta**2 * dphi0 * sp.Sum(p[bp] * Gamma[bp, b_], (bp, 1, K)), lambda: cached()[2]),
             r"$\Delta_1 = (e_1 - e_2)^\top\mathbb{E}[\Delta W_1]$ (claim 1), $\Gamma_{b'b} = \langle m_{b'}, m_b\rangle$"),
        ],
        instances=LABEL,
    )


def _finite_n(loss: Loss) -> Claim:
    """Full-batch GD on a stratified training set: counts (2, 1), n = 3, d = 1, exact joint law."""
    dphi0 = loss.bind(loss.dphi_at_zero)
    counts = (2, 1)
    law = FiniteLaw(len(counts), 1, label_noise=False)
    size = sum(counts)
    members = [b for b, c in enumerate(counts) for _ in range(c)]

    @cache
    def forms() -> tuple[list, list]:
        per_sample = [[a for a in law.atoms() if a.behaviour == b] for b in members]
        lhs, rhs = [], []
        weights = [sp.Rational(c, size) for c in counts]
        for b in range(len(counts)):
            total = sp.Integer(0)
            for combo in itertools.product(*per_sample):
                prob = sp.Mul(*(a.probability / law.weights[a.behaviour] for a in combo))
                step = -2 * eta * beta * dphi0 * sum((a.sign * a.embedding for a in combo), sp.zeros(1, 1)) / size
                mean = sum(beta * a.sign * (step.T * a.embedding)[0] for a in combo if a.behaviour == b) / counts[b]
                total += prob * mean
            lhs.append(total)
            m = [law.signed_mean(c) for c in range(len(counts))]
            s_b = sum(
                (law.positive_fractions[b] if t > 0 else 1 - law.positive_fractions[b])
                * (law.mean(b, t).T * law.mean(b, t) + law._noise(b, t).T * law._noise(b, t))[0]
                for t in (1, -1)
            )
            gram = sum(weights[c] * (m[c].T * m[b])[0] for c in range(len(counts)))
            rhs.append(-2 * eta * beta**2 * dphi0 * (gram + (s_b - (m[b].T * m[b])[0]) / size))
        return lhs, rhs

    return chain(
        "finite-n self-term",
        Form(sp.Symbol(r"\mathbb{E}[\bar h_b(1)]"), lambda: forms()[0]),
        [
            ("=", Form(-2 * eta * beta**2 * dphi0 * (sp.Sum(p[bp] * Gamma[bp, b_], (bp, 1, K)) + (S[b_] - Gamma[b_, b_]) / n), lambda: forms()[1]),
             r"expand $\frac{1}{n_b}\sum_{i\in b}\beta s_i\Delta_1^\top g_i$, $\Delta_1 = -\frac{2\eta\beta\phi'(0)}{n}\sum_j s_j g_j$; the $j = i$ terms give $S_b = \mathbb{E}[\|g\|^2\mid b]$"),
        ],
        instances="stratified counts (2, 1), n = 3, d = 1, exact joint law",
        prose=r"$\bar h_b(1)$ is the mean margin over behaviour $b$'s $n_b = p_b n$ training samples after one full-batch GD step.",
    )


def _orthogonal(loss: Loss) -> Claim:
    dphi0 = loss.bind(loss.dphi_at_zero)
    model = PreferenceModel(3)
    balanced = {**{qq: sp.Rational(1, 2) for qq in model.positive_fractions},
                **{e: 0 for e in model.label_noise},
                **{c: 0 for c in model.offset_gram}}
    orthogonal = {model.gram[a, c]: 0 for a in range(3) for c in range(3) if a != c}
    w = model.weights
    norm2 = sp.IndexedBase(r"\|\delta\|^2")

    def generic(b: int) -> sp.Expr:
        return -eta * beta**2 * dphi0 / 2 * sum(w[c] * model.gram[c, b] for c in range(3))

    def growth(b: int) -> sp.Expr:
        return -2 * eta * beta**2 * dphi0 * sum(w[c] * model.inner(model.signed_mean(c), model.signed_mean(b)) for c in range(3))

    return chain(
        "orthogonal balanced",
        Form(sp.Symbol(r"\mathbb{E}[h_1 \mid b]"), lambda: [growth(b).subs(balanced) for b in range(3)]),
        [
            ("=", Form(-eta * beta**2 * dphi0 / 2 * sp.Sum(p[bp] * sp.Symbol(r"\langle\delta_{b'},\delta_b\rangle"), (bp, 1, K)),
                       lambda: [generic(b) for b in range(3)]),
             r"claim 2 with $q_b = \frac12$, $\epsilon_b = 0$, $c_b = 0$: $m_b = \delta_b/2$ (Gram view)"),
            ("=", Form(-eta * beta**2 * dphi0 / 2 * p[b_] * norm2[b_]),
             r"orthogonal behaviours: $\langle\delta_{b'},\delta_b\rangle = 0$ for $b' \neq b$",
             Instances("K = 3, Gram-matrix view, off-diagonal G = 0", lambda: [
                 (generic(b).subs(orthogonal), -eta * beta**2 * dphi0 / 2 * w[b] * model.gram[b, b])
                 for b in range(3)])),
        ],
        instances="K = 3, Gram-matrix view",
    )


def _concentration(loss: Loss) -> list[Claim]:
    dphi0 = loss.bind(loss.dphi_at_zero)
    C = 2 * eta * beta**2 * sp.Abs(dphi0) * sp.Symbol(r"\|m_b\|", positive=True)
    event = sp.Symbol(r"|\hat{\mathbb{E}}[h_1\mid b] - \mathbb{E}[h_1\mid b]|", nonnegative=True)
    ybar = sp.Symbol(r"|\bar Y|", nonnegative=True)
    P = sp.Function("P")

    def same_event() -> tuple[list, list]:
        g_hat, m_bar, m_b = vector("gh", 2), vector("mbar", 2), vector("mb", 2)
        dev = -2 * eta * beta**2 * dphi0 * ((g_hat - m_bar).T * m_b)[0]
        y = ((g_hat - m_bar).T * m_b)[0] / sp.sqrt((m_b.T * m_b)[0])
        c = 2 * eta * beta**2 * sp.Abs(dphi0) * sp.sqrt((m_b.T * m_b)[0])
        return [dev**2], [c**2 * y**2]

    events = Instances("concrete vectors in R^2 (squared)", lambda: zip(*same_event()))
    x_sg = sigma_psi * sp.sqrt(2 * sp.log(2 / delta_conf) / n)
    chernoff = Instances(
        "Gaussian extremal case",
        lambda: [(2 * (1 - std_normal_cdf(x * sp.sqrt(n) / sigma_psi)), 2 * sp.exp(-n * x**2 / (2 * sigma_psi**2)))],
    )
    sub_gaussian = chain(
        "sub-Gaussian concentration",
        Form(P(event >= C * x_sg)),
        [
            ("=", Form(P(ybar >= x_sg)),
             r"$\hat{\mathbb{E}} - \mathbb{E} = -2\eta\beta^2\phi'(0)\langle\hat g - \bar m, m_b\rangle$ and $\bar Y = \langle \hat g - \bar m, m_b/\|m_b\|\rangle$", events),
            ("<=", Form(2 * sp.exp(-n * x_sg**2 / (2 * sigma_psi**2))),
             r"Chernoff bound for a mean of $n$ independent $\sigma_\psi^2$-sub-Gaussian terms", chernoff),
            ("=", Form(delta_conf), r"definition of the radius $x_\delta$"),
        ],
        domain={delta_conf: (1e-6, 0.99), n: (1, 10_000), x: (0.01, 3)},
    )
    x_se = K_psi * sp.sqrt(2 * sp.gamma(1 + 2 / alpha) / (n * delta_conf))
    t_ = sp.Symbol("t", positive=True)
    b_lap = sp.Symbol("b_L", positive=True)
    chebyshev = Instances("Gaussian case", lambda: [(2 * (1 - std_normal_cdf(x / sigma_psi)), sigma_psi**2 / x**2)])
    laplace = Instances(
        r"Laplace(b), K = 2b, alpha = 1",
        lambda: [(2 * b_lap**2, sp.integrate(4 * t_ * sp.exp(-t_ / (2 * b_lap)), (t_, 0, sp.oo)))],
    )
    var_y = sp.Symbol(r"\operatorname{Var}(Y)", positive=True)
    sub_exponential = chain(
        "alpha-subexponential concentration",
        Form(P(event >= C * x_se)),
        [
            ("=", Form(P(ybar >= x_se)), "the same events as above", events),
            ("<=", Form(var_y / (n * x_se**2)), "Chebyshev's inequality for a mean of $n$ independent terms", chebyshev),
            ("<=", Form(sp.Integral(4 * t_ * sp.exp(-(t_ / K_psi) ** alpha), (t_, 0, sp.oo)) / (n * x_se**2)),
             r"$\mathbb{E}Y^2 = \int_0^\infty 2t\,P(|Y|>t)\,dt$ and $P(|Y|>t)\le 2e^{-(t/K_\psi)^\alpha}$", laplace),
            ("=", Form(2 * sp.gamma(1 + 2 / alpha) * K_psi**2 / (n * x_se**2)), "SymPy integrates"),
            ("=", Form(delta_conf), r"definition of the radius $x'_\delta$"),
        ],
        domain={delta_conf: (1e-6, 0.99), n: (1, 10_000), alpha: (0.2, 3), x: (0.01, 3)},
    )
    return [sub_gaussian, sub_exponential]


def build(loss: Loss) -> Theorem:
    return Theorem(
        id="update-rate",
        title="Update rate of the first step from the reference",
        assumptions=[
            Assumption("mixture", r"$(b, s, g)$: behaviour $b$ w.p. $p_b$; preferred answer first ($s = +1$) w.p. $q_b$, then flipped w.p. $\epsilon_b$; $\mathbb{E}[g \mid b, \text{true label} \pm] = \mu_b^\pm$."),
            Assumption("start", r"$W_0 = W_{\rm ref}$, one (full-batch or expected minibatch) GD step of size $\eta$ on $\mathbb{E}\,\phi(h)$."),
            Assumption("two responses", r"responses are tokens $1$ and $2$ of a $V$-way softmax head."),
            Assumption("tails", r"for a unit $u$, $Y = \langle s g - m_b, u\rangle$ is $\sigma_\psi^2$-sub-Gaussian, or $\|Y\|_{\psi_\alpha} \le K_\psi$ ($\mathbb{E}e^{(|Y|/K_\psi)^\alpha} \le 2$)."),
        ],
        claims=[_first_step(loss), _margin_growth(loss), _finite_n(loss), _orthogonal(loss), *_concentration(loss)],
        summary=rf"Let $\phi'(0) = {sp.latex(loss.bind(loss.dphi_at_zero))}$ (loss {loss.name}), $m_b = (1-2\epsilon_b)(q_b\mu_b^+ - (1-q_b)\mu_b^-)$ and $\Gamma_{{bb'}} = \langle m_b, m_{{b'}}\rangle$.",
        loss_name=loss.name,
    )
