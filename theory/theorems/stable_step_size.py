r"""``stable-step-size``: the largest learning rate for which population GD decreases the loss.

The population loss :math:`L(\Delta) = \mathbb E\,\phi(\beta s\Delta^\top g)` has gradient
:math:`\nabla L = \beta\,\mathbb E[\phi'(h)\,s\,g]` and Hessian
:math:`\nabla^2 L = \beta^2\,\mathbb E[\phi''(h)\,g g^\top] \preceq M I`,
:math:`M = \beta^2 L_2\,\lambda_{\max}(\mathbb E[gg^\top])`, :math:`L_2 = \sup_h|\phi''(h)|`
(:math:`\tfrac14` for DPO). Gradient descent on the head with learning rate :math:`\eta` moves
:math:`\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)` (population-flow), so by the descent lemma

.. math::
   L(\Delta_{t+1}) - L(\Delta_t) \le -2\eta(1 - \eta M)\,\|\nabla L(\Delta_t)\|^2 \le 0
   \quad\text{for}\quad \eta \le \eta_{\max} = \frac{1}{\beta^2 L_2\,\lambda_{\max}(\mathbb E[gg^\top])},

the analogue of neural-tangents' ``max_learning_rate`` (there :math:`2/\lambda_{\max}` of the NTK
for MSE). The constant is sharp for quadratic :math:`\phi` (IPO: :math:`\phi'' = 2/\beta^2`, the
loss increases along the top eigenvector for :math:`\eta > \eta_{\max}`); for DPO it is
sufficient. Piecewise-linear losses (hinge) have no finite :math:`L_2` and no such guarantee.
Numerics: :func:`prefdyn.numerics.population.max_learning_rate`.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from ..framework import Assumption, Form, Theorem, chain
from ..losses import Loss, get_loss
from ..model import FiniteLaw
from ..symbols import beta, eta, h
from ._traj import vector

theta = sp.Symbol(r"\theta", positive=True)
x0 = sp.Symbol("x", real=True)
pw, ya, yb = sp.Symbol("p", positive=True), sp.Symbol("y_a", positive=True), sp.Symbol("y_b", positive=True)
phi_f = sp.Function("phi")


def smoothness(loss: Loss) -> sp.Expr:
    r""":math:`L_2 = \sup_h|\phi''(h)|` (``oo`` for piecewise losses, whose :math:`\phi'` jumps)."""
    if loss.phi.has(sp.Piecewise, sp.Max, sp.Abs, sp.Heaviside):
        return sp.oo
    return loss.sup_abs_d2phi


def _hessian(kind: str) -> Callable[[], list[sp.Matrix]]:
    law = FiniteLaw(K=1, d=2, label_noise=False)
    D = vector("D", 2)

    def margin(atom: object) -> sp.Expr:
        return beta * atom.sign * (D.T * atom.embedding)[0, 0]  # type: ignore[attr-defined]

    def build() -> list[sp.Matrix]:
        if kind == "lhs":
            loss_value = law.expectation(lambda a: phi_f(margin(a)))
            return [sp.hessian(loss_value, list(D))]
        d2 = lambda a: sp.diff(phi_f(h), h, 2).subs(h, margin(a))
        return [law.expectation(lambda a: beta**2 * d2(a) * a.embedding * a.embedding.T)]

    return build


def _descent(loss: Loss, L2: sp.Expr, kind: str) -> Callable[[], list[sp.Expr]]:
    r"""One-dimensional instance: :math:`y = sg` is :math:`y_a` w.p. :math:`p`, :math:`-y_b` else;
    :math:`\eta = \theta/M`, :math:`\theta \in (0, 1]`."""
    phi = loss.bind(loss.phi)
    f = lambda z: pw * phi.subs(h, beta * z * ya) + (1 - pw) * phi.subs(h, -beta * z * yb)
    M = beta**2 * L2 * (pw * ya**2 + (1 - pw) * yb**2)
    lr = theta / M

    def build() -> list[sp.Expr]:
        z = sp.Symbol("z", real=True)
        grad = sp.diff(f(z), z).subs(z, x0)
        if kind == "change":
            return [f(x0 - 2 * lr * grad) - f(x0)]
        if kind == "bound":
            return [-2 * lr * (1 - lr * M) * grad**2]
        return [sp.Integer(0)]

    return build


def build(loss: Loss) -> Theorem:
    L2 = smoothness(loss)
    instance_loss = loss if L2.is_finite else get_loss("dpo")
    L2_instance = L2 if L2.is_finite else smoothness(instance_loss)
    M = sp.Symbol("M", positive=True)
    lam = sp.Symbol(r"\lambda_{\max}(\mathbb{E}[gg^\top])", positive=True)
    grad2 = sp.Symbol(r"\|\nabla L(\Delta_t)\|^2", nonnegative=True)
    hessian = chain(
        "hessian",
        Form(sp.Symbol(r"\nabla^2_\Delta L"), _hessian("lhs")),
        [("=", Form(beta**2 * sp.Symbol(r"\mathbb{E}[\phi''(h)\,gg^\top]"), _hessian("rhs")), r"chain rule, $s^2 = 1$")],
        instances="d = 2, finite law, generic phi",
        prose=rf"$\preceq \beta^2 L_2\,\mathbb{{E}}[gg^\top]$ with $L_2 = \sup|\phi''| = {sp.latex(L2)}$ for {loss.name}, so $M = \beta^2 L_2\lambda_{{\max}}(\mathbb{{E}}[gg^\top])$.",
    )
    descent = chain(
        "descent",
        Form(sp.Symbol(r"L(\Delta_{t+1}) - L(\Delta_t)"), _descent(instance_loss, L2_instance, "change")),
        [
            ("<=", Form(-2 * eta * (1 - eta * M) * grad2, _descent(instance_loss, L2_instance, "bound")),
             r"descent lemma, $\nabla^2 L \preceq MI$, step $2\eta\nabla L$"),
            ("<=", Form(sp.Integer(0), _descent(instance_loss, L2_instance, "zero")),
             r"$\eta = \theta/M$ with $\theta \in (0, 1]$"),
        ],
        instances=f"one-dimensional two-atom law, {instance_loss.name}",
        domain={theta: (0.01, 1.0), x0: (-4.0, 4.0), pw: (0.05, 0.95), ya: (0.1, 3.0), yb: (0.1, 3.0), beta: (0.1, 3.0)},
    )
    eta_max = chain(
        "max step",
        Form(sp.Symbol(r"\eta_{\max}"), lambda: [1 / M]),
        [("=", Form(1 / (beta**2 * L2 * lam), lambda: [1 / M]), r"$M = \beta^2 L_2 \lambda_{\max}(\mathbb{E}[gg^\top])$")],
        instances="definition",
    )
    return Theorem(
        id="stable-step-size",
        title="Largest step size for monotone population-loss decrease",
        assumptions=[
            Assumption("head", r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$; full-batch (population) gradient descent with learning rate $\eta$."),
            Assumption("smooth loss", rf"$L_2 = \sup_h|\phi''(h)| < \infty$ (here $L_2 = {sp.latex(L2)}$); $\mathbb{{E}}\|g\|^2 < \infty$."),
        ],
        claims=[descent, hessian, eta_max],
        summary=r"$L(\Delta) = \mathbb{E}\,\phi(\beta s\Delta^\top g)$.",
        loss_name=loss.name,
        notes=([] if L2.is_finite else [rf"{loss.name} is not smooth ($L_2 = \infty$); the descent instance uses DPO."]),
    )
