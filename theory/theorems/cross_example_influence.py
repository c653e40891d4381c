r"""``cross-example-influence``: how one preference step on :math:`x_u` moves :math:`\log\pi(y\mid x_o)`.

One gradient step on the pair :math:`(x_u, y_w, y_l)` moves the head to
:math:`W_\eta = W - \eta\nabla_W\phi(h_u)`. For any other input :math:`x_o` (embedding
:math:`g_o`) and answer :math:`y`, let :math:`f(\eta) = \log\pi_{W_\eta}(y\mid x_o)`. Then

.. math:: f'(0) = -\beta\,\phi'(h_u)\,\big[(\delta_{y y_w} - \pi_{y_w}(x_o)) - (\delta_{y y_l} - \pi_{y_l}(x_o))\big]\,
          \langle g_o, g_u\rangle,

the last-layer case of the :math:`A\cdot K\cdot G` decomposition of Ren & Sutherland (2024):
:math:`A` the softmax factor, :math:`K = \langle g_o, g_u\rangle` the empirical NTK, :math:`G` the
loss factor (for DPO :math:`-\phi'(h_u) = \sigma(-h_u)`). Along the step the logits move linearly,
:math:`z_\eta = z_0 + \eta a` with :math:`a = -\beta\phi'(h_u)\langle g_o, g_u\rangle(e_{y_w} - e_{y_l})`,
so :math:`f''(\eta) = -\operatorname{Var}_{\pi_\eta}(a) \in [-(\beta\phi'(h_u)\langle g_o, g_u\rangle)^2, 0]`
(Popoviciu: a variance is at most a quarter of the squared range), and by Taylor's theorem

.. math:: \eta f'(0) - \tfrac12\eta^2\big(\beta\phi'(h_u)\langle g_o, g_u\rangle\big)^2
          \le \Delta\log\pi(y\mid x_o) \le \eta f'(0).

*Likelihood displacement*: with :math:`y = y_w` on :math:`x_o = x_u` the bracket is
:math:`1 - \pi_{y_w} + \pi_{y_l} > 0`, so the chosen answer gains to first order whenever
:math:`\phi'(h_u) < 0` (always for DPO; IPO or cDPO past their stationary margin push it down); on another input
with :math:`\langle g_o, g_u\rangle < 0`, or for a :math:`y` outside the pair (bracket
:math:`\pi_{y_l} - \pi_{y_w}`), its likelihood can fall. Steps are checked by SymPy on concrete
heads; the bounds, which SymPy cannot decide in general, at random points of those heads.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Form, Theorem, chain
from ..losses import Loss
from ..symbols import beta, eta
from ._head import head, log_softmax, softmax, vector

#: (V, d, y_w, y_l, y) of the concrete heads the derivation is instantiated on.
INSTANCES = ((2, 1, 0, 1, 0), (3, 2, 0, 2, 1), (3, 2, 0, 2, 2), (4, 2, 3, 1, 3))
LABEL = "V,d = 2,1; 3,2 (y outside the pair, y = y_l); 4,2"

c = sp.Symbol(r"\phi'(h_u)", real=True)
kernel = sp.Symbol(r"\langle g_o, g_u\rangle", real=True)
y, y_w, y_l = sp.symbols("y y_w y_l", integer=True, nonnegative=True)
pi_w, pi_l = sp.Symbol(r"\pi_{y_w}(x_o)", positive=True), sp.Symbol(r"\pi_{y_l}(x_o)", positive=True)
_t = sp.Symbol("t", real=True)


def _concrete(build: Callable[..., sp.Expr]) -> Callable[[], list[sp.Expr]]:
    """``build(W, g_o, g_u, G, w, l, y)`` over every instance, ``G = c beta (e_w - e_l) g_u^T``."""

    def instances() -> list[sp.Expr]:
        out = []
        for V, d, w, l, target in INSTANCES:
            W, g_o, g_u = head("W", V, d), vector("o", d), vector("u", d)
            G = c * beta * (sp.eye(V)[:, w] - sp.eye(V)[:, l]) * g_u.T
            out.append(build(W, g_o, g_u, G, w, l, target))
        return out

    return instances


def _f(W: sp.Matrix, g_o: sp.Matrix, G: sp.Matrix, target: int, step: sp.Expr) -> sp.Expr:
    r""":math:`f(\text{step}) = \log\pi_{W - \text{step}\,G}(y\mid x_o)`."""
    return log_softmax(W - step * G, g_o, target)


SLOPE = -beta * c * ((sp.KroneckerDelta(y, y_w) - pi_w) - (sp.KroneckerDelta(y, y_l) - pi_l)) * kernel
CURVATURE = (beta * c * kernel) ** 2


def _on_head(expr: sp.Expr, W: sp.Matrix, g_o: sp.Matrix, g_u: sp.Matrix, w: int, l: int, target: int) -> sp.Expr:
    """A displayed expression (:data:`SLOPE`, :data:`CURVATURE`) on a concrete head: the claim's
    own formula, so the derivation checks exactly what the statement says."""
    return expr.subs({y: target, y_w: w, y_l: l, pi_w: softmax(W, g_o, w), pi_l: softmax(W, g_o, l),
                      kernel: (g_o.T * g_u)[0]})


def _claims() -> list:
    first_order = chain(
        "first-order influence",
        Form(sp.Symbol(r"f'(0)"), _concrete(lambda W, o, u, G, w, l, y_: sp.diff(_f(W, o, G, y_, _t), _t).subs(_t, 0))),
        [
            ("=", Form(sp.Symbol(r"-\sum_{ij}[\nabla_W\phi(h_u)]_{ij}\,\partial_{W_{ij}}\log\pi_W(y\mid x_o)"),
                       _concrete(lambda W, o, u, G, w, l, y_: -sum(G[a, b] * sp.diff(log_softmax(W, o, y_), W[a, b])
                                                                  for a in range(W.rows) for b in range(W.cols)))),
             r"chain rule along the step $W_\eta = W - \eta\nabla_W\phi(h_u)$"),
            ("=", Form(sp.Symbol(r"-\sum_{ij}[\nabla_W\phi(h_u)]_{ij}\,(\delta_{iy} - \pi_i(x_o))\,g_{o,j}"),
                       _concrete(lambda W, o, u, G, w, l, y_: -sum(G[a, b] * (int(a == y_) - softmax(W, o, a)) * o[b]
                                                                  for a in range(W.rows) for b in range(W.cols)))),
             r"$\partial_{W_{ij}}\log\operatorname{softmax}(Wg_o)_y = (\delta_{iy} - \pi_i)\,g_{o,j}$"),
            ("=", Form(SLOPE, _concrete(lambda W, o, u, G, w, l, y_: _on_head(SLOPE, W, o, u, w, l, y_))),
             r"dpo-gradient: $\nabla_W\phi(h_u) = \phi'(h_u)\beta(e_{y_w} - e_{y_l})g_u^\top$ is rank one"),
        ],
        instances=LABEL,
        prose=r"The factor $\langle g_o, g_u\rangle$ is the last-layer empirical NTK: inputs whose embeddings point away from $g_u$ move the other way.",
    )

    def variance(W: sp.Matrix, o: sp.Matrix, G: sp.Matrix) -> sp.Expr:
        a, moved = -G * o, W - _t * G  # a: d/d eta of the logits (W - eta G) g_o
        p = [softmax(moved, o, k) for k in range(W.rows)]
        mean = sum(pk * ak for pk, ak in zip(p, a))
        return sum(pk * ak**2 for pk, ak in zip(p, a)) - mean**2

    curvature = chain(
        "curvature",
        Form(sp.Symbol(r"f''(\eta)"), _concrete(lambda W, o, u, G, w, l, y_: sp.diff(_f(W, o, G, y_, _t), _t, 2))),
        [
            ("=", Form(sp.Symbol(r"-\operatorname{Var}_{\pi_{W_\eta}(x_o)}(a)"),
                       _concrete(lambda W, o, u, G, w, l, y_: -variance(W, o, G))),
             r"the logits move linearly, $z_\eta = z_0 + \eta a$: the Hessian of $\log\operatorname{softmax}$ is $-\operatorname{Cov}_\pi$"),
            (">=", Form(-CURVATURE, _concrete(lambda W, o, u, G, w, l, y_: -_on_head(CURVATURE, W, o, u, w, l, y_))),
             r"Popoviciu: $\operatorname{Var}(a) \le \frac14(\max a - \min a)^2$, and $a = -\beta\phi'(h_u)\langle g_o, g_u\rangle(e_{y_w} - e_{y_l})$"),
        ],
        instances=LABEL,
    )

    def change(W: sp.Matrix, o: sp.Matrix, G: sp.Matrix, y_: int) -> sp.Expr:
        return _f(W, o, G, y_, eta) - _f(W, o, G, y_, 0)

    upper = chain(
        "change upper bound",
        Form(sp.Symbol(r"\Delta\log\pi(y\mid x_o)"), _concrete(lambda W, o, u, G, w, l, y_: change(W, o, G, y_))),
        [
            ("<=", Form(eta * SLOPE, _concrete(lambda W, o, u, G, w, l, y_: eta * _on_head(SLOPE, W, o, u, w, l, y_))),
             r"$f$ is concave ($f'' \le 0$, claim curvature), so it lies below its tangent at $0$"),
        ],
        instances=LABEL,
        domain={eta: (0.0, 3.0)},
    )
    lower = chain(
        "change lower bound",
        Form(sp.Symbol(r"\Delta\log\pi(y\mid x_o)"), _concrete(lambda W, o, u, G, w, l, y_: change(W, o, G, y_))),
        [
            (">=", Form(eta * SLOPE - eta**2 * CURVATURE / 2,
                        _concrete(lambda W, o, u, G, w, l, y_: _on_head(eta * SLOPE - eta**2 * CURVATURE / 2,
                                                                       W, o, u, w, l, y_))),
             r"Taylor: $f(\eta) = f(0) + \eta f'(0) + \int_0^\eta(\eta - t)f''(t)\,dt$ with $f'' \ge -(\beta\phi'(h_u)\langle g_o, g_u\rangle)^2$"),
        ],
        instances=LABEL,
        domain={eta: (0.0, 3.0)},
    )
    return [first_order, curvature, upper, lower]


def build(loss: Loss) -> Theorem:
    dphi = loss.bind(loss.dphi)
    return Theorem(
        id="cross-example-influence",
        title="How one preference step moves the likelihood of other answers (likelihood displacement)",
        assumptions=[
            Assumption("softmax head", r"$\pi_W(y\mid x) = \operatorname{softmax}(Wg(x))_y$, $W\in\mathbb{R}^{V\times d}$, frozen embeddings $g_o = g(x_o)$, $g_u = g(x_u)$."),
            Assumption("one step", r"$W_\eta = W - \eta\nabla_W\phi(h_u)$, $\eta \ge 0$, on the pair $(x_u, y_w, y_l)$ with margin $h_u = \beta\rho_u$; any answer $y$."),
            Assumption("loss", rf"$\phi$ differentiable at $h_u$; here $\phi'(h) = {sp.latex(dphi)}$."),
        ],
        claims=_claims(),
        summary=r"Ren \& Sutherland (2024), learning dynamics of LLM fine-tuning: the last-layer $A\cdot K\cdot G$ form; likelihood displacement when the bracket or $\langle g_o, g_u\rangle$ is negative.",
        loss_name=loss.name,
    )
