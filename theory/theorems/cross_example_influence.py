r"""``cross-example-influence``: how one preference step on :math:`x_u` moves :math:`\log\pi(y\mid x_o)`.

One gradient step on the pair :math:`(x_u, y_w, y_l)` moves the head to
:math:`W_\eta = W - \eta\nabla_W\phi(h_u)`. For any input :math:`x_o` (embedding :math:`g^o`, while
:math:`g^u` is that of :math:`x_u`) and answer :math:`y`, let :math:`f(\eta) = \log\pi_{W_\eta}(y\mid x_o)`.
Then

.. math:: f'(0) = -\beta\,\phi'(h_u)\,\big[(\mathbb 1[y = y_w] - \pi^o_{y_w})
          - (\mathbb 1[y = y_l] - \pi^o_{y_l})\big]\,
          \textstyle\sum_j g^o_j g^u_j,

the last-layer case of the :math:`A\cdot K\cdot G` decomposition of Ren & Sutherland (2024):
:math:`A` the softmax factor, :math:`K = \langle g^o, g^u\rangle` the empirical NTK, :math:`G` the
loss factor :math:`\phi'(h_u)`. Along the step the logits of :math:`x_o` move linearly with velocity
:math:`a = -\beta\phi'(h_u)K(e_{y_w} - e_{y_l})`, so :math:`f''(\eta) = -\operatorname{Var}_{\pi^\eta}(a)
\ge -\tfrac14(\max_i a_i - \min_i a_i)^2 = -(\beta\phi'(h_u)K)^2` (Popoviciu), and by Taylor's theorem

.. math:: \eta f'(0) - \tfrac12\eta^2\big(\beta\phi'(h_u)K\big)^2
          \le \log\pi_{W_\eta}(y\mid x_o) - \log\pi_W(y\mid x_o) \le \eta f'(0).

*Likelihood displacement*: with :math:`y = y_w` on :math:`x_o = x_u` the bracket is
:math:`1 - \pi_{y_w} + \pi_{y_l} > 0`, so the chosen answer gains to first order whenever
:math:`\phi'(h_u) < 0`; on an input with :math:`K < 0`, or for a :math:`y` outside the pair (bracket
:math:`\pi_{y_l} - \pi_{y_w}`), its likelihood can fall.

Every display is realised on concrete :math:`V`-way heads: the gradient
:math:`\nabla_W\phi(h_u)` is SymPy's derivative of :math:`\phi(\beta\rho_u)` through the
log-softmax (generic :math:`\phi`, with :math:`\phi'(h_u)` a free real number; and the loss itself
on the smallest head), :math:`f` is the exact log-softmax along the step.
"""

from __future__ import annotations

import random

import sympy as sp

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..functions import indicator
from ..losses import Loss
from ..model import vector
from ..symbols import beta, eta, h, meanings
from ._head import head, log_ratio_difference, log_softmax, softmax
from ._notation import MEANINGS, loss_derivative, loss_parameters, phi_generic, phi_prime

#: (V, d, y_w, y_l, y) of the concrete heads (0-based rows): y = y_w, y outside the pair, y = y_l.
INSTANCES = ((2, 1, 0, 1, 0), (3, 2, 0, 2, 1), (3, 2, 0, 2, 2), (4, 2, 3, 1, 3))
LABEL = (
    r"heads $V,d$ = 2,1; 3,2 ($y$ outside the pair, $y = y_l$); 4,2 ($y = y_w$); generic $\phi$ "
    r"($\phi'(h_u)$ a free real number)"
)

i, j = sp.symbols("i j", integer=True, positive=True)
V, d = sp.symbols("V d", integer=True, positive=True)
y, y_w, y_l = sp.symbols("y y_w y_l", integer=True, positive=True)
h_u = sp.Symbol("h_u", real=True)
grad_phi = sp.IndexedBase(r"[\nabla_W\phi(h_u)]")
score = sp.IndexedBase(r"[\nabla_W\log\pi_W(y\mid x_o)]")
pi_o = sp.IndexedBase(r"\pi^{o}")
pi_eta = sp.IndexedBase(r"\pi^{\eta}")
g_o, g_u = sp.IndexedBase(r"g^{o}"), sp.IndexedBase(r"g^{u}")
a = sp.IndexedBase("a")
slope0 = Atom("f'(0)")
curvature_eta = Atom(r"f''(\eta)")
log_after = sp.Symbol(r"\log\pi_{W_\eta}(y\mid x_o)")
log_before = sp.Symbol(r"\log\pi_{W}(y\mid x_o)")
a_max, a_min = sp.Symbol(r"\max_i a_i"), sp.Symbol(r"\min_i a_i")

#: :math:`K = \langle g^o, g^u\rangle`, the last-layer empirical NTK
KERNEL = sp.Sum(g_o[j] * g_u[j], (j, 1, d))
#: The displayed first-order influence :math:`f'(0)` (claim ``first-order influence``).
SLOPE = -beta * phi_prime(h_u) * ((indicator(y, y_w) - pi_o[y_w]) - (indicator(y, y_l) - pi_o[y_l])) * KERNEL
#: The displayed curvature bound :math:`(\beta\phi'(h_u)K)^2`.
CURVATURE = (beta * phi_prime(h_u) * KERNEL) ** 2

_t = sp.Symbol("t", real=True)
_c = sp.Symbol("c", real=True)  # phi'(h_u) of the generic instances


def _binding(V_: int, d_: int, w: int, l: int, target: int, loss: Loss | None) -> dict:
    r"""Every display object on one concrete head (0-based rows ``w, l, target``): the gradient of
    :math:`\phi(\beta\rho_u)` by SymPy (generic :math:`\phi` with :math:`\phi'(h_u) = c`, or
    ``loss``), :math:`f(t) = \log\operatorname{softmax}((W - tG)g^o)_y` and its derivatives."""
    W, R = head("W", V_, d_), head("R", V_, d_)
    go, gu = vector("o", d_), vector("u", d_)
    rho = log_ratio_difference(W, R, gu, w, l)
    if loss is None:
        G = sp.Matrix(
            V_,
            d_,
            lambda r, s: sp.diff(phi_generic(beta * rho), W[r, s]).replace(
                lambda e: isinstance(e, sp.Subs), lambda e: _c
            ),
        )
        derivative, margin = (lambda x: _c), sp.Integer(0)
    else:
        phi = loss.bind(loss.phi)
        G = sp.Matrix(V_, d_, lambda r, s: sp.diff(phi.subs(h, beta * rho), W[r, s]))
        derivative, margin = loss_derivative(loss), beta * rho
    f = log_softmax(W - _t * G, go, target)
    logits = (W - _t * G) * go
    velocity = [sp.diff(z, _t) for z in logits]
    return {
        V: V_,
        d: d_,
        y: target + 1,
        y_w: w + 1,
        y_l: l + 1,
        h_u: margin,
        phi_prime: derivative,
        grad_phi: lambda r, s: G[int(r) - 1, int(s) - 1],
        score: lambda r, s: sp.diff(log_softmax(W, go, target), W[int(r) - 1, int(s) - 1]),
        pi_o: lambda r: softmax(W, go, int(r) - 1),
        pi_eta: lambda r: softmax(W - eta * G, go, int(r) - 1),
        g_o: lambda s: go[int(s) - 1],
        g_u: lambda s: gu[int(s) - 1],
        a: lambda r: velocity[int(r) - 1],
        a_max: sp.Max(*velocity),
        a_min: sp.Min(*velocity),
        slope0: sp.diff(f, _t).subs(_t, 0),
        curvature_eta: sp.diff(f, _t, 2).subs(_t, eta),
        log_after: f.subs(_t, eta),
        log_before: f.subs(_t, 0),
    }


#: Seeded points per head at which the inequalities are evaluated (30 digits): entries of
#: :math:`W, W_{\rm ref}, g^o, g^u` and :math:`\phi'(h_u)` in :math:`[-2, 2]`, :math:`\beta \in [0.1, 3]`,
#: :math:`\eta \in [0.01, 5]`.
POINTS, DIGITS = 6, 30


def _numeric_instances() -> Instances:
    r"""The generic bindings at :data:`POINTS` seeded points of each head, every object a 30-digit
    number (SymPy cannot decide these inequalities between transcendental functions symbolically)."""

    def evaluate(value: object, point: dict) -> object:
        if callable(value) and not isinstance(value, sp.Basic):
            return lambda *args: evaluate(value(*args), point)
        if isinstance(value, sp.Basic) and value.free_symbols:
            return value.evalf(DIGITS, subs=point)
        return value

    def build() -> list[dict]:
        rng = random.Random(20240611)
        rational = lambda lo, hi: sp.Rational(round(rng.uniform(lo, hi) * 1000), 1000)
        out = []
        for case in INSTANCES:
            binding = _binding(*case, None)
            free = set().union(*(v.free_symbols for v in binding.values() if isinstance(v, sp.Basic)))
            free |= set().union(*(binding[f](*([1] * n)).free_symbols for f, n in ((grad_phi, 2), (score, 2), (a, 1))))
            for _ in range(POINTS):
                point = {x: rational(-2, 2) for x in sorted(free - {beta, eta}, key=str)}
                point.update({beta: rational(0.1, 3), eta: rational(0.01, 5)})
                out.append({k: evaluate(v, point) for k, v in binding.items()} | {beta: point[beta], eta: point[eta]})
        return out

    return Instances(
        rf"the heads above at {POINTS} seeded points each (entries, $\phi'(h_u)$, $\beta$ and "
        rf"$\eta \in [0.01, 5]$), evaluated to {DIGITS} digits",
        build,
    )


def _instances(loss: Loss | None = None) -> Instances:
    def build() -> list[dict]:
        out = [_binding(*case, None) for case in INSTANCES]
        if loss is not None:
            out.append(_binding(*INSTANCES[0], loss))
        return out

    return Instances(LABEL + (f"; and {loss.name} on the head 2,1" if loss is not None else ""), build)


def _claims(loss: Loss) -> list[Claim]:
    generic, numeric = _instances(), _numeric_instances()
    first_order = chain(
        "first-order influence",
        slope0,
        [
            (
                "=",
                -sp.Sum(sp.Sum(grad_phi[i, j] * score[i, j], (j, 1, d)), (i, 1, V)),
                r"chain rule along the step $W_\eta = W - \eta\nabla_W\phi(h_u)$",
            ),
            (
                "=",
                -sp.Sum(sp.Sum(grad_phi[i, j] * (indicator(i, y) - pi_o[i]) * g_o[j], (j, 1, d)), (i, 1, V)),
                r"$\partial_{W_{ij}}\log\operatorname{softmax}(Wg^o)_y = (\mathbb{1}[i = y] - \pi^o_i)\,g^o_j$",
            ),
            (
                "=",
                SLOPE,
                (
                    r"dpo-gradient: $[\nabla_W\phi(h_u)]_{ij} = \beta\phi'(h_u)(\mathbb{1}[i = y_w] - \mathbb{1}[i = "
                    r"y_l])\,g^u_j$ is rank one"
                ),
            ),
        ],
        instances=_instances(loss),
        prose=r"The factor $\sum_j g^o_j g^u_j$ is the last-layer empirical NTK: inputs whose embeddings point away "
        r"from $g^u$ move the other way.",
    )
    curvature = chain(
        "curvature",
        curvature_eta,
        [
            (
                "=",
                -(sp.Sum(pi_eta[i] * a[i] ** 2, (i, 1, V)) - sp.Sum(pi_eta[i] * a[i], (i, 1, V)) ** 2),
                (
                    r"the logits move linearly, $z_\eta = z_0 + \eta a$, "
                    r"and the Hessian of $\log\operatorname{softmax}$ is $-\operatorname{Cov}_\pi$"
                ),
            ),
            (
                ">=",
                -((a_max - a_min) ** 2) / 4,
                r"Popoviciu: a variance is at most a quarter of the squared range",
                numeric,
            ),
            (
                "=",
                -CURVATURE,
                (
                    r"$a_i = -\beta\phi'(h_u)\sum_j g^o_j g^u_j\,(\mathbb{1}[i = y_w] - \mathbb{1}[i = y_l])$ "
                    r"(dpo-gradient)"
                ),
            ),
        ],
        instances=generic,
    )
    upper = chain(
        "change upper bound",
        log_after - log_before,
        [
            (
                "<=",
                eta * slope0,
                r"$f$ is concave ($f'' \le 0$, claim curvature): it lies below its tangent at $0$",
                numeric,
            ),
            ("=", eta * SLOPE, r"claim first-order influence"),
        ],
        instances=generic,
        domain={eta: (0.0, 3.0)},
    )
    lower = chain(
        "change lower bound",
        log_after - log_before,
        [
            (
                ">=",
                eta * slope0 - eta**2 * (a_max - a_min) ** 2 / 8,
                (
                    r"Taylor: $f(\eta) = f(0) + \eta f'(0) + \int_0^\eta(\eta - t)f''(t)\,dt$ with $f'' \ge "
                    r"-\frac14(\max_i a_i - \min_i a_i)^2$"
                ),
                numeric,
            ),
            ("=", eta * SLOPE - eta**2 * CURVATURE / 2, r"claims first-order influence and curvature"),
        ],
        instances=generic,
        domain={eta: (0.0, 3.0)},
    )
    return [first_order, curvature, upper, lower]


def build(loss: Loss) -> Theorem:
    dphi = loss.bind(loss.dphi)
    return Theorem(
        id="cross-example-influence",
        title="How one preference step moves the likelihood of other answers (likelihood displacement)",
        assumptions=[
            Assumption(
                "softmax head",
                r"$\pi_W(y\mid x) = \operatorname{softmax}(Wg(x))_y$, $W\in\mathbb{R}^{V\times d}$, frozen embeddings "
                r"$g^o = g(x_o)$, $g^u = g(x_u)$.",
            ),
            Assumption(
                "one step",
                r"$W_\eta = W - \eta\nabla_W\phi(h_u)$, $\eta > 0$, on the pair $(x_u, y_w, y_l)$ with margin $h_u = "
                r"\beta\rho_u$; any answer $y$ and input $x_o$ ($x_o = x_u$ allowed).",
            ),
            Assumption("loss", rf"$\phi$ differentiable at $h_u$; here $\phi'(h) = {sp.latex(dphi)}$."),
        ],
        claims=_claims(loss),
        summary=r"Let $f(\eta) = \log\pi_{W_\eta}(y\mid x_o)$.",
        loss_name=loss.name,
        notation={
            **meanings(beta, eta),
            **loss_parameters(loss),
            slope0: r"is the derivative at $\eta = 0$ of $f(\eta) = \log\pi_{W_\eta}(y\mid x_o)$",
            curvature_eta: r"is the second derivative of $f(\eta) = \log\pi_{W_\eta}(y\mid x_o)$",
            (log_after, log_before): r"are the log-likelihoods of answer $y$ on input $x_o$ after and before the step",
            grad_phi[
                i, j
            ]: r"is entry $(i, j)$ of the gradient of the loss $\phi(h_u)$ of the trained pair with respect to $W$",
            score[i, j]: r"is entry $(i, j)$ of the gradient of $\log\pi_W(y\mid x_o)$ with respect to $W$",
            pi_o[i]: r"is $\pi_W(i\mid x_o)$, the probability of answer $i$ on input $x_o$ before the step",
            pi_eta[i]: r"is $\pi_{W_\eta}(i\mid x_o)$, the same after the step",
            (g_o[j], g_u[j]): r"are coordinate $j$ of the embeddings $g^o = g(x_o)$ and $g^u = g(x_u)$",
            a[i]: r"is the velocity $\frac{d}{d\eta}(W_\eta g^o)_i$ of logit $i$ of $x_o$ along the step",
            (a_max, a_min): r"are the largest and the smallest logit velocity",
            V: r"is the number of answers (rows of $W$)",
            d: r"is the embedding dimension, $g \in \mathbb{R}^d$",
            y: r"is any answer (a row of $W$)",
            (y_w, y_l): r"are the preferred and the rejected answer",
            h_u: r"is the margin $h_u = \beta\rho_u$ of the trained pair",
            phi_prime(h): MEANINGS[phi_prime(h)],
        },
        provenance=(
            r"The first-order form is the last-layer case of the $A\cdot K\cdot G$ decomposition of Ren \& Sutherland "
            r"(2024, Learning Dynamics of LLM Finetuning), with the softmax head of Im \& Li (2024); the exact "
            r"curvature identity and the two-sided bounds on the change are prefdyn's."
        ),
    )
