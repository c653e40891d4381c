r"""``dpo-gradient``: the gradient of any margin loss through a softmax head is rank one.

For a :math:`V`-way head :math:`\pi_W(y\mid x) = \operatorname{softmax}(Wg)_y` and the margin
:math:`h = \beta\rho`,

.. math:: \frac{\partial \phi(h)}{\partial W_{ij}} = \phi'(h)\,\beta\,(\delta_{i y_w} - \delta_{i y_l})\, g_j,
   \qquad\text{i.e.}\qquad \nabla_W \phi = \phi'(h)\,\beta\,(e_{y_w} - e_{y_l})\, g^\top .

Only rows :math:`y_w, y_l` move, for any :math:`V`: the softmax normaliser cancels in
:math:`\rho` (Im & Li 2024, Sec. 3; the last-layer case of Ren & Sutherland's decomposition).
Each step is checked elementwise by SymPy on concrete heads (general :math:`\phi`, and the chosen
loss); the test-suite checks it against torch autograd for :math:`V \in \{2, 7, 50\}`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Form, Theorem, chain
from ..losses import Loss
from ..symbols import beta, h
from ._head import head, log_ratio_difference, log_softmax, softmax, vector

#: (V, d, y_w, y_l) of the concrete heads the derivation is instantiated on.
INSTANCES = ((2, 1, 0, 1), (3, 2, 0, 2), (4, 2, 3, 1))
LABEL = "V,d = 2,1; 3,2; 4,2"

i, j = sp.symbols("i j", integer=True, nonnegative=True)
y_w, y_l = sp.symbols("y_w y_l", integer=True, nonnegative=True)
g_j = sp.Symbol("g_j", real=True)
pi_i = sp.Symbol(r"\pi_i", positive=True)
phi_prime = sp.Function(r"\phi'")
phi = sp.Function(r"phi")


def _elementwise(build: Callable[..., sp.Expr]) -> Callable[[], list[sp.Expr]]:
    """Concrete builder: ``build(W, W_ref, g, w, l, i, j)`` over every instance and entry."""

    def concrete() -> list[sp.Expr]:
        out = []
        for V, d, w, l in INSTANCES:
            W, W_ref, g = head("W", V, d), head("R", V, d), vector("g", d)
            for a, b in itertools.product(range(V), range(d)):
                out.append(build(W, W_ref, g, w, l, a, b))
        return out

    return concrete


def _phi_prime_at(W: sp.Matrix, R: sp.Matrix, g: sp.Matrix, w: int, l: int) -> sp.Expr:
    r""":math:`\phi'(\beta\rho)` for the generic :math:`\phi` on a concrete head."""
    return sp.Subs(sp.Derivative(phi(h), h), h, beta * log_ratio_difference(W, R, g, w, l)).doit()


def build(loss: Loss) -> Theorem:
    """The theorem for a generic :math:`\\phi` (claim 1) and for ``loss`` (claim 2)."""
    rho = log_ratio_difference
    kron = sp.KroneckerDelta
    generic = chain(
        "gradient",
        Form(
            sp.Symbol(r"\frac{\partial \phi(h)}{\partial W_{ij}}"),
            _elementwise(lambda W, R, g, w, l, a, b: sp.diff(phi(beta * rho(W, R, g, w, l)), W[a, b])),
        ),
        [
            ("=", Form(
                phi_prime(h) * beta * sp.Symbol(r"\frac{\partial \rho}{\partial W_{ij}}"),
                _elementwise(lambda W, R, g, w, l, a, b: _phi_prime_at(W, R, g, w, l) * beta * sp.diff(rho(W, R, g, w, l), W[a, b])),
            ), r"chain rule, $h = \beta\rho$"),
            ("=", Form(
                phi_prime(h) * beta * (sp.Symbol(r"\partial_{W_{ij}} \log\pi_W(y_w)") - sp.Symbol(r"\partial_{W_{ij}} \log\pi_W(y_l)")),
                _elementwise(lambda W, R, g, w, l, a, b: _phi_prime_at(W, R, g, w, l) * beta * (sp.diff(log_softmax(W, g, w), W[a, b]) - sp.diff(log_softmax(W, g, l), W[a, b]))),
            ), r"the reference terms do not depend on $W$"),
            ("=", Form(
                phi_prime(h) * beta * ((kron(i, y_w) - pi_i) * g_j - (kron(i, y_l) - pi_i) * g_j),
                _elementwise(lambda W, R, g, w, l, a, b: _phi_prime_at(W, R, g, w, l) * beta * ((kron(a, w) - softmax(W, g, a)) * g[b] - (kron(a, l) - softmax(W, g, a)) * g[b])),
            ), r"$\partial_{W_{ij}} \log\operatorname{softmax}(Wg)_y = (\delta_{iy} - \pi_i)\, g_j$"),
            ("=", Form(
                phi_prime(h) * beta * (kron(i, y_w) - kron(i, y_l)) * g_j,
                _elementwise(lambda W, R, g, w, l, a, b: _phi_prime_at(W, R, g, w, l) * beta * (kron(a, w) - kron(a, l)) * g[b]),
            ), r"the normaliser term $\pi_i g_j$ cancels"),
        ],
        instances=LABEL,
        prose=r"Equivalently $\nabla_W \phi = \phi'(h)\,\beta\,(e_{y_w} - e_{y_l})\,g^\top$: rank one, and only rows $y_w, y_l$ move.",
    )
    dphi = loss.bind(loss.dphi)
    specific = chain(
        f"gradient for {loss.name}",
        Form(
            sp.Symbol(rf"\frac{{\partial \phi_{{\mathrm{{{loss.name}}}}}(h)}}{{\partial W_{{ij}}}}"),
            _elementwise(lambda W, R, g, w, l, a, b: sp.diff(loss.bind(loss.phi).subs(h, beta * rho(W, R, g, w, l)), W[a, b])),
        ),
        [
            ("=", Form(
                dphi * beta * (kron(i, y_w) - kron(i, y_l)) * g_j,
                _elementwise(lambda W, R, g, w, l, a, b: dphi.subs(h, beta * rho(W, R, g, w, l)) * beta * (kron(a, w) - kron(a, l)) * g[b]),
            ), rf"claim 1 with $\phi'(h) = {sp.latex(dphi)}$"),
        ],
        instances=LABEL,
    )
    return Theorem(
        id="dpo-gradient",
        title="Rank-one gradient of a margin loss through a softmax head",
        assumptions=[
            Assumption("softmax head", r"$\pi_W(y\mid x) = \operatorname{softmax}(W g)_y$ with $W \in \mathbb{R}^{V\times d}$ and a frozen embedding $g = g(x)\in\mathbb{R}^d$."),
            Assumption("margin", r"$h = \beta\rho$, $\rho = \log\frac{\pi_W(y_w\mid x)}{\pi_{W_{\mathrm{ref}}}(y_w\mid x)} - \log\frac{\pi_W(y_l\mid x)}{\pi_{W_{\mathrm{ref}}}(y_l\mid x)}$, $\beta > 0$."),
            Assumption("loss", rf"$\phi$ is differentiable at $h$ (here ${loss.latex()}$)."),
        ],
        claims=[generic, specific],
        summary="",
        loss_name=loss.name,
    )
