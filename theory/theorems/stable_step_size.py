r"""``stable-step-size``: the largest learning rate for which population GD decreases the loss.

The population loss :math:`L(\Delta) = \mathbb E\,\phi(\beta s\Delta^\top g)` has gradient
:math:`\nabla L = \beta\,\mathbb E[\phi'(h)\,s\,g]` and Hessian
:math:`\nabla^2 L = \beta^2\,\mathbb E[\phi''(h)\,g g^\top] \preceq \beta^2 L_2\lambda_{\max} I`,
:math:`L_2 = \sup_h|\phi''(h)|`, :math:`\lambda_{\max}` the largest eigenvalue of
:math:`\mathbb E[gg^\top]`. Gradient descent on the head moves
:math:`\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)` (population-flow), so by the descent lemma

.. math::
   L(\Delta_{t+1}) - L(\Delta_t) \le -2\eta(1 - \eta\beta^2L_2\lambda_{\max})\,\|\nabla L(\Delta_t)\|^2 \le 0
   \quad\text{for}\quad \eta \le \eta_{\max} = \frac{1}{\beta^2 L_2\,\lambda_{\max}},

the analogue of neural-tangents' ``max_learning_rate`` (there :math:`2/\lambda_{\max}` of the NTK
for MSE). :math:`\eta_{\max}` is sharp: it is the exact stability threshold of GD on the extremal
loss :math:`\phi(h) = L_2h^2/2` that (A2) allows (claim ``max step``), and the descent lemma is an
equality for that loss along the top eigenvector. Losses whose :math:`\phi'` jumps (hinge) have
:math:`L_2 = \infty`: the descent and step-size claims are omitted with a note.

:math:`L_2` is the loss's certified :attr:`~prefdyn.theory.losses.Loss.smoothness`. Numerics:
:func:`prefdyn.numerics.population.max_learning_rate`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import lru_cache, partial

import mpmath
import sympy as sp

from ..framework import Assumption, Claim, Instances, Theorem, chain
from ..functions import to_elementary
from ..losses import Loss
from ..model import FiniteLaw
from ..symbols import beta, eta, h, meanings
from ._notation import loss_parameters, phi_generic
from ._traj import dot, value_and_gradient

d = sp.Symbol("d", integer=True, positive=True)
loss_next = sp.Symbol(r"L(\Delta_{t+1})")
loss_now = sp.Symbol(r"L(\Delta_t)")
grad_sq = sp.Symbol(r"\|\nabla L(\Delta_t)\|^2")
lam = sp.Symbol(r"\lambda_{\max}")
eta_max = sp.Symbol(r"\eta_{\max}")
hessian_L = sp.MatrixSymbol(r"\nabla^2 L(\Delta)", d, d)
E_d2phi = sp.MatrixSymbol(r"\mathbb{E}[\phi''(h)\,gg^\top]", d, d)

theta = sp.Symbol("theta", positive=True)  # eta = theta * eta_max, theta in (0, 1]
r = sp.Symbol("r", real=True)  # position along the top eigenvector (extremal instances)


# --------------------------------------------------------------------------- concrete laws

#: Finite laws of :math:`x = sg \in \mathbb R^2` (atoms, weights): a non-separable law with
#: :math:`\mathbb E[xx^\top] = \operatorname{diag}(1, 2/5)` and a separable one with
#: :math:`\mathbb E[xx^\top] = \begin{pmatrix}5/2 & 2\\ 2 & 5/2\end{pmatrix}`.
LAWS = (
    (((1, 0), (-1, 1), (-1, -1)), (sp.Rational(3, 5), sp.Rational(1, 5), sp.Rational(1, 5))),
    (((2, 1), (1, 2)), (sp.Rational(1, 2), sp.Rational(1, 2))),
)
#: The laws of claim descent: also one atom :math:`x = e_1`, whose margins at the starts below
#: include :math:`h = 0` and :math:`\beta/40` (where DiscoPOP's :math:`|\phi''|` peaks).
DESCENT_LAWS = (*LAWS, (((1, 0),), (sp.Integer(1),)))


def _second_moment(law: tuple) -> sp.Matrix:
    atoms, weights = law
    return sp.Add(*(w * sp.Matrix(x) * sp.Matrix(x).T for x, w in zip(atoms, weights)))


def _top(law: tuple) -> tuple[sp.Expr, sp.Matrix]:
    r""":math:`(\lambda_{\max}, v)` of :math:`\mathbb E[xx^\top]`, :math:`\|v\| = 1`."""
    value, _, vectors = max(_second_moment(law).eigenvects(), key=lambda e: float(e[0]))
    v = vectors[0]
    return value, v / sp.sqrt(dot(v, v))


def _population(phi: Callable[[sp.Expr], sp.Expr], law: tuple) -> Callable[[Sequence[sp.Expr]], sp.Expr]:
    atoms, weights = law
    return lambda D: sp.Add(*(w * phi(beta * dot(D, x)) for x, w in zip(atoms, weights)))


def _substituted(expr: sp.Expr, symbol: sp.Symbol, value: sp.Expr) -> sp.Expr:
    """``expr`` with ``symbol`` replaced by ``value``."""
    return expr.subs(symbol, value)


def _at_beta(population: Callable[[Sequence[sp.Expr]], sp.Expr], beta_value: sp.Expr, D: Sequence[sp.Expr]) -> sp.Expr:
    r"""The population loss at :math:`\Delta` = ``D`` with :math:`\beta` = ``beta_value``."""
    return population(D).subs(beta, beta_value)


def _extremal_quadratic(L2: sp.Expr, offset: sp.Expr, x: sp.Expr) -> sp.Expr:
    r""":math:`\phi(x) = L_2(x^2 - c)/2`, the quadratic attaining the smoothness bound."""
    return L2 * (x**2 - offset) / 2


def _gd_binding(
    L: Callable[[Sequence[sp.Expr]], sp.Expr], start: Sequence[sp.Expr], step: sp.Expr, top: sp.Expr
) -> dict:
    r"""The displays' objects at one GD step of size ``step`` from ``start``: the population loss,
    its SymPy gradient, :math:`\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)`."""
    value, grad = value_and_gradient(L, start)
    after = [s - 2 * step * g for s, g in zip(start, grad)]
    return {loss_now: value, loss_next: L(after), grad_sq: dot(grad, grad), lam: top, eta: step}


#: Grid of the loss's own instances: :math:`\Delta_t`, :math:`\beta`, :math:`\theta = \eta/\eta_{\max}`.
STARTS = ((-2, 1), (0, 0), (sp.Rational(1, 40), 1), (sp.Rational(1, 2), -1), (3, 2), (-1, -3))
BETAS = (sp.Rational(1, 2), 2)
THETAS = (sp.Rational(1, 10), sp.Rational(1, 2), 1)
#: Digits of the loss's own instances (their exact values are evaluated once, then compared).
DIGITS = 30


@lru_cache(maxsize=64)
def _population_functions(
    phi: sp.Expr, law: tuple, beta_value: sp.Expr
) -> tuple[Callable[..., mpmath.mpf], Callable[..., list[mpmath.mpf]]]:
    r"""mpmath functions of :math:`\Delta`: the population loss
    :math:`L(\Delta) = \mathbb E\,\phi(\beta\Delta^\top x)` of ``law`` at :math:`\beta` =
    ``beta_value`` and its SymPy gradient (built once per loss, law and :math:`\beta`; every start and
    step size of :func:`_numeric_gd` evaluates the same two functions)."""
    D = sp.symbols(f"_D1:{len(law[0][0]) + 1}", real=True)
    value = to_elementary(_population(lambda x: phi.subs(h, x), law)(list(D)).subs(beta, beta_value))
    return sp.lambdify(D, value, "mpmath"), sp.lambdify(D, [sp.diff(value, x) for x in D], "mpmath")


def _numeric_gd(
    phi: sp.Expr, law: tuple, start: Sequence[sp.Expr], beta_value: sp.Expr, step: sp.Expr, top: sp.Expr
) -> dict:
    r""":func:`_gd_binding` evaluated to :data:`DIGITS` digits (mpmath): the loss values and the squared
    gradient norm are numbers, :math:`\eta` and :math:`\lambda_{\max}` stay exact."""
    loss_at, grad_at = _population_functions(phi, law, beta_value)
    with mpmath.workdps(DIGITS + 10):
        point = [mpmath.mpf(sp.Rational(c).p) / sp.Rational(c).q for c in start]
        grad = grad_at(*point)
        rate = mpmath.mpf(sp.N(2 * step, DIGITS + 10))
        after = [x - rate * g for x, g in zip(point, grad)]
        number = lambda z: sp.Float(mpmath.nstr(z, DIGITS + 5), DIGITS)
        return {
            beta: beta_value,
            eta: step,
            lam: top,
            loss_now: number(loss_at(*point)),
            loss_next: number(loss_at(*after)),
            grad_sq: number(sum(g * g for g in grad)),
        }


def _descent_instances(loss: Loss, L2: sp.Expr) -> Instances:
    phi = loss.bind(loss.phi)
    exact = phi.is_polynomial(h)

    def build() -> list[dict]:
        out = []
        for law in DESCENT_LAWS:
            top, v = _top(law)
            for start, b_, t_ in itertools.product(STARTS, BETAS, THETAS):
                step = (t_ / (beta**2 * L2 * top)).subs(beta, b_)
                if exact:  # polynomial phi (IPO): exact values, the lemma may hold with equality
                    at_beta = phi.subs(beta, b_)
                    population = _population(partial(_substituted, at_beta, h), law)
                    at = [sp.Integer(c) for c in start]
                    loss_at_beta = partial(_at_beta, population, b_)
                    out.append({beta: b_, **_gd_binding(loss_at_beta, at, step, top)})
                else:
                    out.append(_numeric_gd(phi, law, start, b_, step, top))
            step = theta / (beta**2 * L2 * top)  # eta = theta eta_max
            for offset in (0, 10 * top):  # extremal: phi = L2 (h^2 - c) / 2 on the top eigenvector
                quadratic = partial(_extremal_quadratic, L2, offset)
                out.append(_gd_binding(_population(quadratic, law), [r * c / beta for c in v], step, top))
        return out

    return Instances(
        rf"{loss.name} on three laws of $sg$ in $\mathbb{{R}}^2$, {len(STARTS)} starts $\Delta_t$, $\beta \in "
        rf"\{{1/2, 2\}}$, "
        r"$\eta = \theta\eta_{\max}$ with $\theta \in \{0.1, 0.5, 1\}$ (exact for polynomial $\phi$, else to 30 "
        r"digits); and the extremal case of (A2), "
        r"$\phi(h) = L_2(h^2 - c)/2$ with $c \in \{0, 10\lambda_{\max}\}$, along the top eigenvector (the descent "
        r"lemma holds "
        r"with equality), every $\theta \in (0, 1]$",
        build,
    )


def _threshold(L2: sp.Expr, law: tuple) -> sp.Expr:
    r"""The stability threshold of GD on :math:`\phi(h) = L_2h^2/2`: the largest :math:`\eta` at which
    no eigen-direction of :math:`\mathbb E[xx^\top]` increases the loss (the positive roots of
    :math:`L(\Delta_1) - L(\Delta_0)` in :math:`\eta`, minimised)."""
    L = _population(lambda x: L2 * x**2 / 2, law)
    step = sp.Symbol("s", positive=True)
    roots = []
    for _, _, vectors in _second_moment(law).eigenvects():
        for v in vectors:
            binding = _gd_binding(L, list(v), step, sp.Integer(1))
            change = sp.factor(sp.expand(binding[loss_next] - binding[loss_now]))
            roots += [x for x in sp.solve(change, step) if x.is_positive]
    return sp.Min(*roots)


# --------------------------------------------------------------------------- claims


def _descent(loss: Loss, L2: sp.Expr) -> Claim:
    return chain(
        "descent",
        loss_next - loss_now,
        [
            (
                "<=",
                -2 * eta * (1 - eta * beta**2 * L2 * lam) * grad_sq,
                (
                    r"descent lemma along the step $-2\eta\nabla L(\Delta_t)$, with $\nabla^2 L \preceq \beta^2 "
                    r"L_2\lambda_{\max} I$ (claim hessian, A2)"
                ),
            ),
            ("<=", sp.Integer(0), r"$\eta \le \eta_{\max} = 1/(\beta^2 L_2\lambda_{\max})$ (A3)"),
        ],
        instances=_descent_instances(loss, L2),
        domain={theta: (0.01, 1.0), beta: (0.1, 3.0), r: (-3.0, 3.0)},
        prose=r"Population GD does not increase the loss at any step while $\eta \le \eta_{\max}$.",
    )


def _hessian(finite: bool) -> Claim:
    law = FiniteLaw(K=1, d=2, label_noise=False)
    D = sp.Matrix(sp.symbols("D_1 D_2", real=True))

    def margin(atom: object) -> sp.Expr:
        return beta * atom.sign * (D.T * atom.embedding)[0, 0]  # type: ignore[attr-defined]

    def build() -> list[dict]:
        value = law.expectation(lambda a: phi_generic(margin(a)))
        d2 = lambda a: sp.diff(phi_generic(h), h, 2).subs(h, margin(a))
        return [
            {
                hessian_L: sp.hessian(value, list(D)),
                E_d2phi: law.expectation(lambda a: d2(a) * a.embedding * a.embedding.T),
            }
        ]

    return chain(
        "hessian",
        hessian_L,
        [("=", beta**2 * E_d2phi, r"chain rule twice, $s^2 = 1$")],
        instances=Instances(
            r"$d = 2$, a finite law of $(s, g)$ with symbolic atoms, generic twice-differentiable $\phi$",
            build,
            generic=(phi_generic,),
        ),
        prose=(
            r"Hence $\nabla^2 L \preceq \beta^2 L_2\,\mathbb{E}[gg^\top] \preceq \beta^2 L_2\lambda_{\max} I$ by (A2)."
            if finite
            else ""
        ),
    )


def _max_step(L2: sp.Expr) -> Claim:
    def build() -> list[dict]:
        return [{eta_max: _threshold(L2, law), lam: _top(law)[0]} for law in LAWS]

    return chain(
        "max step",
        eta_max,
        [
            (
                "=",
                1 / (beta**2 * L2 * lam),
                (
                    r"GD on $\phi = L_2h^2/2$ multiplies the component of $\Delta$ along an eigenvector of "
                    r"$\mathbb{E}[gg^\top]$ "
                    r"with eigenvalue $\lambda$ by $1 - 2\eta\beta^2L_2\lambda$; the loss does not increase iff "
                    r"$|1 - 2\eta\beta^2 L_2\lambda| \le 1$"
                ),
            )
        ],
        instances=Instances(
            r"two laws of $sg$, with $\mathbb{E}[xx^\top] = \operatorname{diag}(1, 2/5)$ and with eigenvalues $9/2, "
            r"1/2$; both eigen-directions",
            build,
        ),
        prose=r"The bound is sharp: for a larger $\eta$ the extremal loss allowed by (A2) increases along the top "
        r"eigenvector.",
    )


def build(loss: Loss) -> Theorem:
    L2 = loss.smoothness
    finite = bool(L2.is_finite) and L2 != 0
    claims: list[Claim] = []
    notes: list[str] = []
    if finite:
        claims += [_descent(loss, L2), _hessian(True), _max_step(L2)]
    else:
        claims.append(_hessian(False))
        if L2 == 0:
            notes.append(
                rf"For {loss.name}, $\phi'' \equiv 0$ ($L_2 = 0$): every $\eta$ gives descent, there is no finite "
                r"$\eta_{\max}$; the claims descent and max step are omitted."
            )
        else:
            notes.append(
                rf"For {loss.name}, $\phi'$ is not Lipschitz ($L_2 = \sup_h|\phi''(h)| = \infty$, e.g. a kink): the "
                r"descent lemma gives no step size, so the claims descent and max step are omitted; claim hessian is "
                r"the formula for twice-differentiable $\phi$ and does not apply at a kink."
            )
    assumptions = [
        Assumption(
            "head and training",
            r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$; full-batch "
            r"(population) GD $\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)$ on $L(\Delta) = "
            r"\mathbb{E}\,\phi(h)$; $\mathbb{E}\|g\|^2 < \infty$.",
        ),
        Assumption(
            "smooth loss",
            rf"$\phi$ is twice differentiable with $L_2 = \sup_h|\phi''(h)| < \infty$ (here $L_2 = {sp.latex(L2)}$)."
            if finite
            else rf"$\phi$ is twice differentiable at the margins (for claim hessian); {loss.name} has "
            rf"$L_2 = \sup_h|\phi''(h)| = {sp.latex(L2)}$, so no step size is claimed.",
        ),
    ]
    if finite:
        assumptions.append(Assumption("step size", r"$\eta \le \eta_{\max}$ (for claim descent)."))
    notation = {
        **meanings(beta, eta, h),
        **loss_parameters(loss),
        hessian_L: r"is the Hessian of the population loss $L(\Delta) = \mathbb{E}\,\phi(\beta s\Delta^\top g)$",
        E_d2phi: r"is the expectation of $\phi''(h)\,gg^\top$ under the law of $(s, g)$",
    }
    if finite:
        notation.update(
            {
                (
                    loss_next,
                    loss_now,
                ): r"are the population loss $L(\Delta) = \mathbb{E}\,\phi(\beta s\Delta^\top g)$ at two consecutive "
                r"GD iterates",
                grad_sq: r"is the squared Euclidean norm of the population gradient at $\Delta_t$",
                lam: r"is the largest eigenvalue of the second moment $\mathbb{E}[gg^\top]$ of the embeddings",
                eta_max: r"is the stability threshold: the largest $\eta$ for which GD cannot increase the loss from "
                r"any start when $\phi(h) = L_2h^2/2$, the extremal loss with $\sup_h|\phi''(h)| = L_2$",
            }
        )
    return Theorem(
        id="stable-step-size",
        title=(
            "Largest step size for monotone population-loss decrease"
            if finite
            else "Population Hessian (no stable step size for a non-smooth loss)"
        ),
        assumptions=assumptions,
        claims=claims,
        summary=rf"Loss {loss.name}: ${loss.latex()}$, $L_2 = \sup_h|\phi''(h)| = {sp.latex(L2)}$.",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"prefdyn's: the descent lemma for an $L$-smooth objective (classical) applied to the population "
            r"preference loss, with the sharp constant $\eta_{\max}$ (the analogue of neural-tangents' "
            r"max\_learning\_rate); not a result of Im \& Li (2024)."
        ),
    )
