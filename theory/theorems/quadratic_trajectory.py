r"""``quadratic-trajectory``: the exact population-GD trajectory of a loss quadratic in the margin.

With :math:`h = \beta s\Delta^\top g` and population gradient descent
:math:`\Delta_{t+1} = \Delta_t + 2\eta\beta\,\mathbb E[-\phi'(h)\,s\,g]` (population-flow's
``recursion``), the Jacobian of one step is :math:`I - 2\eta\beta^2\,\mathbb E[\phi''(h)\,gg^\top]`
for every :math:`\phi \in C^2` with bounded :math:`\phi''`, and on a finite law (a training set) whose
margins avoid the points where :math:`\phi` is not twice differentiable (claim ``jacobian``; under a
continuous law a kink of :math:`\phi'` adds a density term). It is constant in :math:`\Delta`
exactly when :math:`\phi''` is: for :math:`\phi(h) = a_2h^2 + a_1h + a_0` with :math:`a_2 > 0`
(IPO: :math:`a_2 = 1/\beta^2`, :math:`a_1 = -1/\beta^2`) the step is affine,

.. math::
   \Delta_{t+1} = (I - \kappa M)\Delta_t - 2\eta\beta a_1\,\mathbb E[s g], \qquad
   \kappa = 4\eta\beta^2a_2, \quad M = \mathbb E[gg^\top],

with the fixed point :math:`\Delta^\star = -\frac{a_1}{2a_2\beta}M^+\mathbb E[sg]` (:math:`M^+` the
Moore--Penrose inverse; :math:`\mathbb E[sg] \in \operatorname{range}(M)` always, since
:math:`v^\top Mv = \mathbb E(v^\top g)^2 = 0` forces :math:`v^\top g = 0` almost surely), so

.. math::
   \Delta_t = \Delta^\star + (I - \kappa M)^t(\Delta_0 - \Delta^\star)
   \quad\text{exactly, singular } M \text{ included.}

With :math:`\Delta_\infty = \Delta^\star + (I - MM^+)(\Delta_0 - \Delta^\star)`,
:math:`\Delta_t - \Delta_\infty = (I - \kappa M)^t(\Delta_0 - \Delta_\infty)` and
:math:`\Delta_0 - \Delta_\infty \in \operatorname{range}(M)`, on which :math:`I - \kappa M` has the
eigenvalues :math:`1 - \kappa\lambda`, :math:`\lambda > 0` an eigenvalue of :math:`M`: the iterates
converge from every start iff :math:`\kappa\lambda_{\max}(M) < 2`, with
:math:`\|\Delta_t - \Delta_\infty\| \le r^t\|\Delta_0 - \Delta_\infty\|`,
:math:`r = \max_{\lambda > 0}|1 - \kappa\lambda|`. (With singular :math:`M` the spectral radius of
:math:`I - \kappa M` is 1, yet the iterates converge: the null directions do not move.) For Gaussian
classes the accuracy curve is accuracy-gaussian's exact accuracy at this :math:`\Delta_t`.

Losses that are not quadratic in :math:`h` (a polynomial of degree 2 with :math:`a_2 > 0`, decided
symbolically from the loss's own :math:`\phi`) get claim ``jacobian`` only, with a note.

How the claims are checked (every display realised, :mod:`prefdyn.theory.framework`):
``jacobian`` by SymPy differentiation of the step over a finite law with symbolic atoms for a
generic :math:`\phi`, then with the loss's :math:`\phi''`; ``affine step`` from the loss's
:math:`\phi'` over finite laws in :math:`d = 2` (:math:`M` invertible) and :math:`d = 3`
(:math:`M` singular); ``trajectory`` and ``accuracy curve`` against the loss's exact GD iterates
at :math:`t = 0, 1, 2, 4` (symbolic :math:`\eta, \beta, \Delta_0`); ``fixed point``, ``induction``
and ``limit`` for symbolic :math:`t` on the same laws (:math:`M` with rational eigenvalues, so
that SymPy forms :math:`(I - \kappa M)^t` exactly). Numerics:
:mod:`prefdyn.numerics.quadratic`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import sympy as sp

from ..catalogue import get_theorem
from ..framework import Assumption, Claim, Instances, Theorem, chain
from ..losses import Loss
from ..model import DIMENSION, FiniteLaw, vector
from ..symbols import beta, eta, h, meanings, t
from ._notation import generic_derivative, loss_parameters, phi_generic
from ._traj import dot
from .accuracy_gaussian import NOTATION as ACCURACY_NOTATION
from .accuracy_gaussian import (
    Delta,
    Delta_next,
    Delta_t,
    _head_gradient,
    _rows_to_direction,
    acc,
    accuracy_display,
    mu_m,
    mu_p,
    q,
    shared_notation,
)
from .accuracy_gaussian import S_m as Sigma_m
from .accuracy_gaussian import S_p as Sigma_p
from .population_flow import DIMENSION_MEANING, E_sg
from .stable_step_size import E_d2phi

d = DIMENSION
M = sp.MatrixSymbol("M", d, d)
M_pinv = sp.MatrixSymbol("M^{+}", d, d)
E_s_g = sp.MatrixSymbol(r"\mathbb{E}[s\,g]", d, 1)
Delta_0 = sp.MatrixSymbol(r"\Delta_0", d, 1)
Delta_star = sp.MatrixSymbol(r"\Delta^{\star}", d, 1)
Delta_inf = sp.MatrixSymbol(r"\Delta_{\infty}", d, 1)
jacobian = sp.MatrixSymbol(r"\partial\Delta_{t+1}/\partial\Delta_t", d, d)
a_2, a_1 = sp.Symbol("a_2", real=True), sp.Symbol("a_1", real=True)
#: The identity, a matrix symbol bound to the explicit identity of each instance.
I = sp.MatrixSymbol("I", d, d)

#: :math:`\kappa = 4\eta\beta^2a_2` and the step matrix :math:`I - \kappa M` (as printed).
KAPPA = 4 * eta * beta**2 * a_2
STEP = sp.MatAdd(I, sp.MatMul(-KAPPA, M))
#: The drift :math:`-2\eta\beta a_1\,\mathbb E[sg]` of the affine step.
DRIFT = sp.MatMul(-2 * eta * beta * a_1, E_s_g)


def closed_form(steps: sp.Expr) -> sp.MatrixExpr:
    r""":math:`\Delta^\star + (I - \kappa M)^{t}(\Delta_0 - \Delta^\star)` at ``steps`` (the display)."""
    return sp.MatAdd(Delta_star, sp.MatMul(sp.MatPow(STEP, steps), sp.MatAdd(Delta_0, -Delta_star)))


# --------------------------------------------------------------------------- the loss


def quadratic_coefficients(loss: Loss) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    r""":math:`(a_2, a_1, a_0)` of :math:`\phi(h) = a_2h^2 + a_1h + a_0` (defaults bound), or ``None``
    unless :math:`\phi` is a polynomial in :math:`h` with :math:`\phi''' \equiv 0` and :math:`a_2 > 0`
    (decided symbolically; IPO's :math:`\beta` stays inside :math:`a_2 = 1/\beta^2`)."""
    phi = sp.expand(loss.bind(loss.phi))
    if not phi.is_polynomial(h) or sp.expand(sp.diff(phi, h, 3)) != 0:
        return None
    poly = sp.Poly(phi, h)
    a2, a1, a0 = (sp.simplify(poly.coeff_monomial(h**k)) for k in (2, 1, 0))
    return (a2, a1, a0) if a2.is_positive else None


# --------------------------------------------------------------------------- concrete laws

#: Finite laws of :math:`(w, s, g)`: weight, sign, embedding. :math:`d = 2` with
#: :math:`M = \tfrac14uu^\top + \tfrac34vv^\top` (:math:`u = (1, 1)`, :math:`v = (1, -1)`; eigenvalues
#: 1/2, 3/2); :math:`d = 3` with :math:`M = \tfrac13uu^\top + \tfrac23vv^\top` (:math:`u = (1, 1, 1)`,
#: :math:`v = (1, -1, 0)`; eigenvalues 1, 4/3, 0: singular, null direction :math:`(1, 1, -2)`).
LAWS = (
    ((sp.Rational(1, 4), 1, (1, 1)), (sp.Rational(3, 8), -1, (1, -1)), (sp.Rational(3, 8), 1, (-1, 1))),
    ((sp.Rational(1, 3), 1, (1, 1, 1)), (sp.Rational(1, 3), -1, (1, -1, 0)), (sp.Rational(1, 3), 1, (-1, 1, 0))),
)
LAWS_LABEL = r"finite laws of $(s, g)$: $d = 2$ ($M$ invertible) and $d = 3$ ($M$ singular)"
#: The step counts at which the closed form is compared with the exact iterates.
STEPS = (0, 1, 2, 4)
#: The step counts of the accuracy-curve instances.
ACCURACY_STEPS = (1,)


def _moments(law: tuple) -> tuple[sp.Matrix, sp.Matrix]:
    r""":math:`(M, \mathbb E[sg])` of a finite law."""
    second = sp.Add(*(w * sp.Matrix(g) * sp.Matrix(g).T for w, _, g in law))
    signed = sp.Add(*(w * s * sp.Matrix(g) for w, s, g in law))
    return second, signed


def _gd_step(loss: Loss, law: tuple) -> Callable[[sp.Matrix], sp.Matrix]:
    r"""One population GD step of the loss over ``law``:
    :math:`D \mapsto D + 2\eta\beta\,\mathbb E[-\phi'(\beta sD^\top g)\,sg]`, with the loss's own :math:`\phi'`."""
    dphi = loss.bind(loss.dphi)

    def step(D: sp.Matrix) -> sp.Matrix:
        gradient = sp.Add(*(w * (-dphi.subs(h, beta * s * dot(D, g))) * s * sp.Matrix(g) for w, s, g in law))
        return (D + 2 * eta * beta * gradient).applyfunc(sp.expand)

    return step


@cache
def _law_bindings(loss: Loss) -> tuple[dict, ...]:
    r"""Per law of :data:`LAWS` (in order): :math:`M, M^+, \mathbb E[sg]`, :math:`a_2, a_1`, a symbolic start :math:`\Delta_0`,
    :math:`\Delta^\star = -\frac{a_1}{2a_2\beta}M^+\mathbb E[sg]` and :math:`\Delta_\infty`."""
    coefficients = quadratic_coefficients(loss)
    assert coefficients is not None
    a2, a1, _ = coefficients
    out = []
    for law in LAWS:
        second, signed = _moments(law)
        pinv = second.pinv()
        start = vector("D", second.rows)
        star = (-a1 / (2 * a2 * beta) * pinv * signed).applyfunc(sp.simplify)
        limit = star + (sp.eye(second.rows) - second * pinv) * (start - star)
        out.append(
            {
                I: sp.eye(second.rows),
                M: second,
                M_pinv: pinv,
                E_s_g: signed,
                a_2: a2,
                a_1: a1,
                Delta_0: start,
                Delta_star: star,
                Delta_inf: limit,
            }
        )
    return tuple(out)


def _law_instances(loss: Loss, label: str) -> Instances:
    return Instances(label, lambda: list(_law_bindings(loss)))


def _iterate_instances(loss: Loss, steps: Sequence[int], extra: Callable[[int], dict], label: str) -> Instances:
    r""":math:`\Delta_t` bound to the loss's exact GD iterates from :math:`\Delta_0` at each ``steps``
    (``extra(d)``: more bindings, which may fix :math:`\Delta_0`)."""

    def build() -> list[dict]:
        out = []
        for law, binding in zip(LAWS, _law_bindings(loss)):
            fixed = {**binding, **extra(binding[M].rows)}
            step, D = _gd_step(loss, law), fixed[Delta_0]
            for k in range(max(steps) + 1):
                if k in steps:
                    out.append({**fixed, t: sp.Integer(k), Delta_t: D})
                D = step(D)
        return out

    return Instances(label, build)


# --------------------------------------------------------------------------- claims


def _jacobian_generic() -> Instances:
    r"""One step :math:`D + 2\eta\beta\,\mathbb E[-\phi'(\beta sD^\top g)\,sg]` over a finite law with
    symbolic atoms (:math:`d = 2`), differentiated by SymPy, for a generic :math:`\phi`."""
    law = FiniteLaw(K=1, d=2, label_noise=False)
    D = vector("D", 2)

    def build() -> list[dict]:
        margin = lambda a: beta * a.sign * dot(D, a.embedding)
        after = D + 2 * eta * beta * law.expectation(lambda a: -generic_derivative(margin(a)) * a.sign * a.embedding)
        d2 = lambda a: sp.diff(phi_generic(h), h, 2).subs(h, margin(a))
        return [
            {
                I: sp.eye(2),
                jacobian: after.jacobian(D),
                E_d2phi: law.expectation(lambda a: d2(a) * a.embedding * a.embedding.T),
            }
        ]

    return Instances(
        r"$d = 2$, a finite law of $(s, g)$ with symbolic atoms, generic twice-differentiable $\phi$",
        build,
        generic=(phi_generic,),
    )


def _jacobian_claim(loss: Loss, quadratic: bool) -> Claim:
    links: list = [
        (
            "=",
            sp.MatAdd(I, sp.MatMul(-2 * eta * beta**2, E_d2phi)),
            (
                r"differentiate $\Delta_t + 2\eta\beta\,\mathbb{E}[-\phi'(\beta s\Delta_t^\top g)\,s\,g]$ "
                r"(population-flow's recursion) in $\Delta_t$; $s^2 = 1$"
            ),
            _jacobian_generic(),
        )
    ]
    if quadratic:
        d2phi = loss.bind(loss.d2phi)

        def build() -> list[dict]:
            out = []
            for law, binding in zip(LAWS, _law_bindings(loss)):
                expected = sp.Add(*(w * d2phi * sp.Matrix(g) * sp.Matrix(g).T for w, _, g in law))
                out.append({**binding, E_d2phi: expected})
            return out

        links.append(
            (
                "=",
                STEP,
                r"$\phi'' \equiv 2a_2$ (claim quadratic), $M = \mathbb{E}[gg^\top]$",
                Instances(LAWS_LABEL + r", the loss's own $\phi''$", build),
            )
        )
    return chain(
        "jacobian",
        jacobian,
        links,
        prose=(
            r"The step is affine in $\Delta_t$ (a constant Jacobian) because $\phi''$ is constant."
            if quadratic
            else r"The step is affine in $\Delta_t$ exactly when $\mathbb{E}[\phi''(h)\,gg^\top]$ does not depend on "
            r"$\Delta_t$, which holds for every law only when $\phi''$ is constant."
        ),
    )


def _quadratic_claim(loss: Loss, coefficients: tuple[sp.Expr, sp.Expr, sp.Expr]) -> Claim:
    a2, a1, a0 = coefficients
    return chain(
        "quadratic",
        loss.bind(loss.phi),
        [("=", a2 * h**2 + a1 * h + a0, r"expand $\phi$ in powers of $h$: $a_2 h^2 + a_1 h + a_0$")],
        prose=rf"So $a_2 = {sp.latex(a2)} > 0$ and $a_1 = {sp.latex(a1)}$.",
    )


def _head_step(loss: Loss, law: tuple, D: sp.Matrix) -> sp.Matrix:
    r""":math:`\Delta_{t+1}` of one population GD step :math:`W_{t+1} = W_t - \eta\,\mathbb E[\nabla_W\phi(h)]`
    of a 2-way softmax head at :math:`W_t = W_{\rm ref} + \frac12(e_1 - e_2)D^\top`, the loss's own
    :math:`\phi` differentiated by SymPy (accuracy-gaussian's head), its expectation exact over ``law``."""
    W, R, g, grads = _head_gradient(loss.bind(loss.phi), D.rows)
    at_t = {W[i, c]: R[i, c] + (D[c] if i == 0 else -D[c]) / 2 for i in range(2) for c in range(D.rows)}
    total = sp.zeros(2, D.rows)
    for w, s, x in law:
        total += w * grads[s].xreplace(at_t).xreplace(dict(zip(g, x)))
    return (D + _rows_to_direction(-eta * total)).applyfunc(sp.expand)


def _affine_step(loss: Loss) -> Claim:
    def build() -> list[dict]:
        out = []
        for law, binding in zip(LAWS, _law_bindings(loss)):
            D = vector("D", binding[M].rows)
            expected = (_gd_step(loss, law)(D) - D) / (2 * eta * beta)  # E[-phi'(h) s g] at Delta_t = D
            out.append(
                {
                    **binding,
                    Delta_t: D,
                    Delta_next: _head_step(loss, law, D),
                    E_sg: expected.applyfunc(sp.expand),
                }
            )
        return out

    return chain(
        "affine step",
        Delta_next,
        [
            (
                "=",
                sp.MatAdd(Delta_t, sp.MatMul(2 * eta * beta, E_sg)),
                (
                    r"population-flow's recursion: $\nabla_W\phi(h) = \phi'(h)\beta s(e_1 - e_2)g^\top$, "
                    r"$(e_1 - e_2)^\top(e_1 - e_2) = 2$"
                ),
            ),
            (
                "=",
                sp.MatAdd(sp.MatMul(STEP, Delta_t), DRIFT),
                r"$-\phi'(h)\,s\,g = -(2a_2\beta s\Delta_t^\top g + a_1)\,s\,g$ and $s^2 = 1$",
            ),
        ],
        instances=Instances(
            LAWS_LABEL + r"; a 2-way softmax head differentiated by SymPy, the loss's own $\phi$, symbolic $\Delta_t$",
            build,
        ),
        prose=r"with $\kappa = 4\eta\beta^2a_2$: one population GD step is the affine map "
        r"$\Delta \mapsto (I - \kappa M)\Delta - 2\eta\beta a_1\,\mathbb{E}[s\,g]$.",
    )


def _fixed_point(loss: Loss) -> Claim:
    return chain(
        "fixed point",
        Delta_star,
        [
            (
                "=",
                sp.MatAdd(Delta_star, sp.MatMul(-2 * eta * beta * a_1, sp.MatAdd(I, -sp.MatMul(M, M_pinv)), E_s_g)),
                (
                    r"$\mathbb{E}[s\,g] \in \operatorname{range}(M)$ ($v^\top Mv = \mathbb{E}(v^\top g)^2 = 0$ forces "
                    r"$v^\top g = 0$ a.s.) and $MM^{+}$ is the projection onto $\operatorname{range}(M)$"
                ),
            ),
            (
                "=",
                sp.MatAdd(sp.MatMul(STEP, Delta_star), DRIFT),
                (
                    r"$\Delta^{\star} = -\frac{a_1}{2a_2\beta}M^{+}\mathbb{E}[s\,g]$, so "
                    r"$4\eta\beta^2a_2M\Delta^{\star} = -2\eta\beta a_1MM^{+}\mathbb{E}[s\,g]$"
                ),
            ),
        ],
        instances=_law_instances(loss, LAWS_LABEL),
        prose=r"$\Delta^{\star}$ is a fixed point of the step (claim affine step), also when $M$ is singular (then "
        r"$M\Delta = -\frac{a_1}{2a_2\beta}\mathbb{E}[s\,g]$ has many solutions and $\Delta^{\star}$ is the one of "
        r"least norm).",
    )


def _induction(loss: Loss) -> Claim:
    return chain(
        "induction",
        sp.MatAdd(sp.MatMul(STEP, closed_form(t)), DRIFT),
        [
            (
                "=",
                sp.MatAdd(
                    sp.MatMul(STEP, Delta_star),
                    DRIFT,
                    sp.MatMul(sp.MatPow(STEP, t + 1), sp.MatAdd(Delta_0, -Delta_star)),
                ),
                r"distribute $I - \kappa M$",
            ),
            ("=", closed_form(t + 1), r"claim fixed point"),
        ],
        instances=_law_instances(loss, LAWS_LABEL + r", symbolic $t$, $\eta$, $\beta$, $\Delta_0$"),
        prose=r"The closed form at $t$, moved by one step (claim affine step), is the closed form at $t + 1$; "
        r"at $t = 0$ it is $\Delta_0$. By induction on $t$ it is the trajectory (claim trajectory).",
    )


def _trajectory(loss: Loss) -> Claim:
    return chain(
        "trajectory",
        Delta_t,
        [
            (
                "=",
                closed_form(t),
                r"claim affine step, then induction on $t$ (claim induction; $t = 0$: $\Delta_0$)",
            )
        ],
        instances=_iterate_instances(
            loss,
            STEPS,
            lambda dim: {},
            LAWS_LABEL + r", the loss's exact GD iterates at $t = 0, 1, 2, 4$, symbolic $\eta$, $\beta$, $\Delta_0$",
        ),
        prose=r"exactly, with $M$ singular or not and $M$ never inverted.",
    )


def _limit(loss: Loss) -> Claim:
    return chain(
        "limit",
        sp.MatAdd(closed_form(t), -Delta_inf),
        [
            (
                "=",
                sp.MatMul(sp.MatPow(STEP, t), sp.MatAdd(Delta_0, -Delta_inf)),
                (
                    r"$\Delta_{\infty} = \Delta^{\star} + (I - MM^{+})(\Delta_0 - \Delta^{\star})$ and "
                    r"$(I - \kappa M)(I - MM^{+}) = I - MM^{+}$"
                ),
            )
        ],
        instances=_law_instances(loss, LAWS_LABEL + r", symbolic $t$, $\eta$, $\beta$, $\Delta_0$"),
        prose=r"As $\Delta_0 - \Delta_{\infty} \in \operatorname{range}(M)$, where $I - \kappa M$ has the eigenvalues "
        r"$1 - \kappa\lambda$ ($\lambda > 0$ the nonzero eigenvalues of $M$), $\|\Delta_t - \Delta_{\infty}\| \le "
        r"r^t\|\Delta_0 - \Delta_{\infty}\|$ with $r = \max_{\lambda > 0}|1 - \kappa\lambda|$: GD converges from every "
        r"start iff $\kappa\lambda_{\max}(M) < 2$, to $\Delta_{\infty}$ ($= \Delta^{\star}$ when $M$ is invertible). "
        r"When $M$ is singular the spectral radius of $I - \kappa M$ is $1$, yet the iterates converge.",
    )


#: Class means and covariances of the accuracy-curve instances (any values: the step substitutes
#: :math:`\Delta_t`).
CLASS_MEANS = ((1, -2, 3), (-1, 1, 2))
CLASS_VARIANCES = ((1, 2, 3), (3, 1, 2))


def _accuracy_curve(loss: Loss, linear: sp.Expr) -> Claim:
    accuracy = get_theorem("accuracy-gaussian", loss).claim("accuracy")
    moves = linear != 0  # a_1 != 0: GD leaves Delta_0 = 0 (else the instances keep a symbolic start)

    def gaussian(dim: int) -> dict:
        return {
            acc: lambda arg: accuracy.rhs.xreplace({Delta: arg}),
            mu_p: sp.Matrix(CLASS_MEANS[0][:dim]),
            mu_m: sp.Matrix(CLASS_MEANS[1][:dim]),
            Sigma_p: sp.diag(*CLASS_VARIANCES[0][:dim]),
            Sigma_m: sp.diag(*CLASS_VARIANCES[1][:dim]),
            **({Delta_0: sp.zeros(dim, 1)} if moves else {}),
        }

    return chain(
        "accuracy curve",
        acc(Delta_t),
        [
            ("=", accuracy_display(Delta_t), r"accuracy-gaussian's claim accuracy at $\Delta = \Delta_t$"),
            ("=", accuracy_display(closed_form(t)), r"claim trajectory"),
        ],
        instances=_iterate_instances(
            loss,
            ACCURACY_STEPS,
            gaussian,
            LAWS_LABEL
            + r", the loss's exact GD iterates at $t = 1$ (from $\Delta_0 = 0$ when $a_1 \ne 0$); $\operatorname{Acc}_b$ is accuracy-gaussian's "
            r"verified claim accuracy; rational class means and diagonal covariances, not tied to the law of the "
            r"iterates (the step substitutes $\Delta_t$ into that formula)",
        ),
        prose=r"the exact accuracy curve of behaviour $b$ when its classes are Gaussian.",
    )


# --------------------------------------------------------------------------- theorem


def build(loss: Loss) -> Theorem:
    coefficients = quadratic_coefficients(loss)
    quadratic = coefficients is not None
    claims = [_jacobian_claim(loss, quadratic)]
    notes: list[str] = []
    notation: dict = {
        **meanings(beta, eta),
        **loss_parameters(loss),
        d: DIMENSION_MEANING,
        I: r"is the $d \times d$ identity matrix",
        jacobian: r"is the Jacobian of one population GD step $\Delta_t \mapsto \Delta_{t+1}$",
        E_d2phi: r"is the expectation of $\phi''(h)\,gg^\top$ under the law of $(s, g)$",
    }
    if coefficients is not None:
        a2, a1, _ = coefficients
        claims = [
            _quadratic_claim(loss, coefficients),
            *claims,
            _affine_step(loss),
            _fixed_point(loss),
            _induction(loss),
            _trajectory(loss),
            _limit(loss),
            _accuracy_curve(loss, a1),
        ]
        notation.update(
            {
                **meanings(h, t),
                **shared_notation(Delta_t, Delta_next, q, (mu_p, mu_m), (Sigma_p, Sigma_m)),
                acc(Delta): ACCURACY_NOTATION[acc(Delta)],
                E_sg: r"is the mean of $-\phi'(h)\,s\,g$ over the whole population (behaviours with weights $p_b$) at "
                r"$h = \beta s\Delta_t^\top g$",
                (a_2, a_1): rf"are the coefficients of $h^2$ and $h$ in $\phi$ (claim quadratic; here "
                rf"${sp.latex(a2)}$ and ${sp.latex(a1)}$)",
                M: r"is the second-moment matrix $\mathbb{E}[gg^\top]$ of the embeddings",
                M_pinv: r"is the Moore--Penrose inverse of $M$ ($M^{-1}$ when $M$ is invertible)",
                E_s_g: r"is the signed mean $\mathbb{E}[s\,g]$ of the embeddings",
                Delta_0: r"is the initial preference direction ($0$ from $W_{\mathrm{ref}}$)",
                Delta_star: r"is the fixed point $\Delta^{\star} = -\frac{a_1}{2a_2\beta}M^{+}\mathbb{E}[s\,g]$",
                Delta_inf: r"is the limit $\Delta_{\infty} = \Delta^{\star} + (I - MM^{+})(\Delta_0 - \Delta^{\star})$",
            }
        )
    else:
        notes.append(
            rf"For {loss.name}, $\phi$ is not a quadratic polynomial in $h$ with a positive leading coefficient "
            r"($\phi''' \not\equiv 0$, or $\phi$ is not a polynomial): the step is not affine in $\Delta_t$, so the "
            r"claims quadratic, affine step, fixed point, induction, trajectory, limit and accuracy curve (the closed "
            r"form) are omitted; claim jacobian holds under the loss assumption (for a $\phi'$ with a kink, such as "
            r"the hinge's, only on a finite law whose margins avoid the kink)."
        )
    assumptions = [
        Assumption(
            "head and training",
            r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$ with $\beta > 0$; "
            r"population (full-batch) gradient descent with step $\eta > 0$ on $\mathbb{E}\,\phi(h)$ over a law of "
            r"$(s, g)$ with $\mathbb{E}\|g\|^2 < \infty$, from $\Delta_0$.",
        ),
        Assumption(
            "loss",
            r"$\phi(h) = a_2h^2 + a_1h + a_0$ with $a_2 > 0$ (here " + rf"${loss.latex()}$)."
            if quadratic
            else r"either $\phi \in C^2$ with $L_2 = \sup_h|\phi''(h)| < \infty$, or the law of $g$ is finite (a "
            r"training set) and $\phi$ is twice differentiable at every margin $h$ it gives (claim jacobian; a kink of "
            r"$\phi'$ under a continuous law adds a density term the formula does not have; here "
            + rf"${loss.latex()}$).",
        ),
    ]
    if quadratic:
        assumptions.append(
            Assumption(
                "gaussian classes (claim accuracy curve)",
                r"$g \mid (b, s = \pm 1) \sim N(\mu_b^\pm, \Sigma_b^\pm)$ with $\Delta_t^\top\Sigma_b^\pm\Delta_t > 0$, "
                r"$\Pr(s = +1 \mid b) = q_b$.",
            )
        )
    return Theorem(
        id="quadratic-trajectory",
        title=(
            "Exact population-GD trajectory and accuracy curve for a quadratic loss"
            if quadratic
            else "Jacobian of a population-GD step (no closed-form trajectory for a non-quadratic loss)"
        ),
        assumptions=assumptions,
        claims=claims,
        summary=(
            r"For a loss quadratic in the margin, population GD on the preference direction is an affine map, "
            r"$\Delta_t = \Delta^{\star} + (I - 4\eta\beta^2a_2M)^t(\Delta_0 - \Delta^{\star})$ exactly, converging from "
            r"every start iff $4\eta\beta^2a_2\lambda_{\max}(M) < 2$."
            if quadratic
            else r"The Jacobian of a population-GD step depends on $\Delta_t$ through $\phi''(h)$; the closed form needs "
            r"a quadratic loss."
        ),
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"The closed-form trajectory of gradient descent on a quadratic objective (linear regression) is "
            r"classical; neural-tangents' gradient\_descent\_mse (Lee et al., 2019) evaluates the same closed form "
            r"through an eigendecomposition. Its specialisation to the preference direction of a softmax head under "
            r"IPO and other quadratic losses in the setting of Im \& Li (2024), with the fixed point for singular $M$, "
            r"the convergence condition and the exact Gaussian accuracy curve, is prefdyn's."
        ),
    )
