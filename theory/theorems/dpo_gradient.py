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

import sympy as sp

from ..framework import Assumption, Atom, Instances, Theorem, chain
from ..functions import indicator
from ..losses import Loss
from ..model import vector
from ..symbols import beta, h, meanings, rho
from ._head import head, log_ratio_difference, log_softmax, softmax
from ._notation import MEANINGS, generic_derivative, loss_parameters, phi_generic, phi_prime

#: (V, d, y_w, y_l) of the concrete heads the derivation is instantiated on (0-based rows).
INSTANCES = ((2, 1, 0, 1), (3, 2, 0, 2), (4, 2, 3, 1))
LABEL = "V,d = 2,1; 3,2; 4,2; every entry (i, j)"

i, j = sp.symbols("i j", integer=True, positive=True)
y_w, y_l = sp.symbols("y_w y_l", integer=True, positive=True)
g = sp.IndexedBase("g")
pi = sp.IndexedBase(r"\pi")
d_phi = Atom(r"\frac{\partial \phi(h)}{\partial W_{ij}}")
d_rho = Atom(r"\frac{\partial \rho}{\partial W_{ij}}")
d_log_w = Atom(r"\frac{\partial \log\pi_W(y_w\mid x)}{\partial W_{ij}}")
d_log_l = Atom(r"\frac{\partial \log\pi_W(y_l\mid x)}{\partial W_{ij}}")


def _bindings(loss: Loss) -> Instances:
    r"""Every entry :math:`(i, j)` of every concrete head: the displays' objects computed from
    first principles (SymPy differentiation through the log-softmax), the loss's :math:`\phi` and
    a generic :math:`\phi` (left abstract, so claim 1 holds for every differentiable loss)."""
    phi_loss = loss.bind(loss.phi)
    d_phi_loss = loss_atom(loss)

    def build() -> list[dict]:
        out = []
        for V, d, w, l in INSTANCES:
            W, R, gv = head("W", V, d), head("R", V, d), vector("g", d)
            r = log_ratio_difference(W, R, gv, w, l)
            for a, b in itertools.product(range(V), range(d)):
                out.append(
                    {
                        d_phi: sp.diff(phi_generic(beta * r), W[a, b]),
                        d_phi_loss: sp.diff(phi_loss.subs(h, beta * r), W[a, b]),
                        d_rho: sp.diff(r, W[a, b]),
                        d_log_w: sp.diff(log_softmax(W, gv, w), W[a, b]),
                        d_log_l: sp.diff(log_softmax(W, gv, l), W[a, b]),
                        phi_prime: generic_derivative,
                        h: beta * r,
                        i: a + 1,
                        j: b + 1,
                        y_w: w + 1,
                        y_l: l + 1,
                        g: lambda k, gv=gv: gv[int(k) - 1],
                        pi: lambda k, W=W, gv=gv: softmax(W, gv, int(k) - 1),
                    }
                )
        return out

    return Instances(LABEL, build, generic=(phi_generic,))


def loss_atom(loss: Loss) -> Atom:
    r""":math:`\partial\phi_{\rm loss}(h)/\partial W_{ij}` as a display atom."""
    return Atom(rf"\frac{{\partial \phi_{{\mathrm{{{loss.name}}}}}(h)}}{{\partial W_{{ij}}}}")


def build(loss: Loss) -> Theorem:
    """The theorem for a generic :math:`\\phi` (claim 1) and for ``loss`` (claim 2)."""
    instances = _bindings(loss)
    one = indicator
    generic = chain(
        "gradient",
        d_phi,
        [
            ("=", phi_prime(h) * beta * d_rho, r"chain rule, $h = \beta\rho$"),
            ("=", phi_prime(h) * beta * (d_log_w - d_log_l), r"the reference terms do not depend on $W$"),
            (
                "=",
                phi_prime(h) * beta * ((one(i, y_w) - pi[i]) * g[j] - (one(i, y_l) - pi[i]) * g[j]),
                r"$\partial_{W_{ij}} \log\operatorname{softmax}(Wg)_y = (\mathbb{1}[i = y] - \pi_i)\, g_j$",
            ),
            ("=", phi_prime(h) * beta * (one(i, y_w) - one(i, y_l)) * g[j], r"the normaliser term $\pi_i g_j$ cancels"),
        ],
        instances=instances,
        prose=r"Equivalently $\nabla_W \phi = \phi'(h)\,\beta\,(e_{y_w} - e_{y_l})\,g^\top$: rank one, and only rows "
        r"$y_w, y_l$ move.",
    )
    dphi = loss.bind(loss.dphi)
    specific = chain(
        f"gradient for {loss.name}",
        loss_atom(loss),
        [("=", dphi * beta * (one(i, y_w) - one(i, y_l)) * g[j], rf"claim 1 with $\phi'(h) = {sp.latex(dphi)}$")],
        instances=instances,
    )
    return Theorem(
        id="dpo-gradient",
        title="Rank-one gradient of a margin loss through a softmax head",
        assumptions=[
            Assumption(
                "softmax head",
                r"$\pi_W(y\mid x) = \operatorname{softmax}(W g)_y$ with $W \in \mathbb{R}^{V\times d}$ and a frozen "
                r"embedding $g = g(x)\in\mathbb{R}^d$.",
            ),
            Assumption("margin", r"$h = \beta\rho$ with $\beta > 0$."),
            Assumption("loss", rf"$\phi$ is differentiable at $h$ (here ${loss.latex()}$)."),
        ],
        claims=[generic, specific],
        loss_name=loss.name,
        notation={
            **meanings(h, beta, rho),
            **loss_parameters(loss),
            d_phi: r"is the partial derivative of the loss $\phi(h)$ with respect to the entry $W_{ij}$ of the head",
            loss_atom(loss): rf"is the same for $\phi = \phi_{{\mathrm{{{loss.name}}}}}$",
            d_rho: r"is the partial derivative of $\rho$ with respect to $W_{ij}$",
            (d_log_w, d_log_l): r"are the partial derivatives of the log-probabilities of the two answers",
            (i, j): r"index the rows (answers) and columns of $W$",
            (y_w, y_l): r"are the preferred and the rejected answer",
            g[j]: r"is coordinate $j$ of the embedding $g$",
            pi[i]: r"is $\pi_W(i \mid x)$, the softmax probability of answer $i$",
            phi_prime(h): MEANINGS[phi_prime(h)],
        },
        provenance=r"Im \& Li (2024), Sec.~3, for DPO; the general-$\phi$ form and the check on concrete $V$-way "
        r"heads are prefdyn's.",
    )
