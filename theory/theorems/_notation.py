r"""Display objects and notation shared by several theorems: one object, one meaning.

* :data:`phi_prime` is :math:`\phi'` in a display (instances bind it to the loss's derivative,
  :func:`loss_derivative`, or to :func:`generic_derivative`); :data:`phi_generic` is a generic
  differentiable :math:`\phi`, left abstract by the instances that use it, so that their identity
  holds for every :math:`\phi`.
* :data:`K`, :data:`b`, :data:`b_prime`, :data:`p`, :data:`Omega`: the behaviours of a mixture,
  their weights and the Gram matrix of the signed class means; :data:`MEANINGS` gives each shared
  object its one meaning, :func:`loss_parameters` the loss's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..losses import Loss
from ..symbols import h

phi_prime = sp.Function(r"\phi'")
phi_generic = sp.Function("phi")

K = sp.Symbol("K", positive=True, integer=True)
b = sp.Symbol("b", positive=True, integer=True)
b_prime = sp.Symbol("b'", positive=True, integer=True)
p = sp.IndexedBase("p")
Omega = sp.IndexedBase(r"\Omega")

#: The meaning of every shared object (the where-clause entry of each theorem printing it).
MEANINGS: dict[sp.Basic, str] = {
    phi_prime(h): r"is the derivative of the loss at the margin",
    K: r"is the number of behaviours",
    b: r"is a behaviour",
    p[b]: r"is the mixture weight of behaviour $b$",
    Omega[b_prime, b]: (
        r"is the Gram matrix $\Omega_{b'b} = \langle m_{b'}, m_b\rangle$ of the signed class means "
        r"$m_b = \mathbb{E}[s g \mid b] = (1 - 2\epsilon_b)(q_b\mu_b^+ - (1 - q_b)\mu_b^-)$"
    ),
}

#: Meanings shared by symbols that differ between theorems but print alike.
STEP_INDEX_MEANING = r"indexes the GD steps"
TAIL_EXPONENT_MEANING = r"is the tail exponent of the $\psi_\alpha$ condition ($\alpha$-subexponential tails)"
EUCLIDEAN_NORM_MEANING = r"is the Euclidean norm"
POSITIVE_FRACTION_MEANING = (
    r"is the fraction of behaviour $b$'s pairs whose preferred answer is response $1$, before label flips"
)


def loss_derivative(loss: Loss) -> Callable[[sp.Expr], sp.Expr]:
    r""":math:`x \mapsto \phi'(x)` of ``loss``, its parameters bound to their defaults."""
    dphi = loss.bind(loss.dphi)
    return lambda x: dphi.subs(h, x)


def generic_derivative(x: sp.Expr) -> sp.Expr:
    r""":math:`\phi'(x)` of the generic :data:`phi_generic` (an unevaluated derivative at ``x``)."""
    return sp.Subs(sp.Derivative(phi_generic(h), h), h, x).doit()


def loss_parameters(loss: Loss) -> dict[sp.Basic, str]:
    """Meanings of the loss's own parameters (e.g. cDPO's label smoothing), with their values."""
    return {
        s: rf"is a parameter of $\phi_{{\mathrm{{{loss.name}}}}}$ (here ${sp.latex(v)}$)"
        for s, v in loss.params.items()
    }
