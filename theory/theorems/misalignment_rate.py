r"""``misalignment-rate``: the first flipped-label step from a stationary point.

Population GD moves :math:`\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)`,
:math:`L(\Delta) = \mathbb E\,\phi(h)`, :math:`h = \beta s\Delta^\top g`. Let :math:`\Delta^\star` be a
finite stationary point for the original labels, :math:`\mathbb E[\phi'(h)\,s\,g] = 0`. Flipping the
labels (:math:`s \to -s`, so :math:`h \to -h`) gives the first step
:math:`\Delta^{\rm flip} = 2\eta\beta\,\mathbb E[\phi'(-h)\,s\,g]`, while the first alignment step
from :math:`W_{\rm ref}` (:math:`h = 0`) was :math:`\Delta^{\rm align} = -2\eta\beta\phi'(0)\,\bar m`,
:math:`\bar m = \mathbb E[sg]`. With :math:`\omega(h) = 2\phi'(0) - \phi'(h) - \phi'(-h)`, for every
loss,

.. math:: \Delta^{\rm flip} = -2\,\Delta^{\rm align} - 2\eta\beta\,\mathbb E[\omega(h)\,s\,g].

When :math:`\phi'(h) + \phi'(-h) = 2\phi'(0)` for every :math:`h` (:math:`\omega \equiv 0`: DPO by
:math:`\sigma(h) + \sigma(-h) = 1`, IPO, cDPO, rDPO), the flipped step is exactly :math:`-2` times the
alignment step, and if the signed class means at the flip are :math:`\kappa` times those at the
start, the mean margin of behaviour :math:`b` moves :math:`-2\kappa^2` times as far as in the first
alignment step. For the other losses (hinge, EXO, DiscoPOP, user losses) :math:`\omega \not\equiv 0`:
the theorem prints the identity with the correction and :math:`\omega` of the loss, and omits the
factor-2 and :math:`\kappa^2` statements with a note.

Every display is checked by realising it on concrete finite laws: stationary laws are built by
solving the stationarity condition for the atom weights (ratio) or for the label-flip rate
(:math:`\kappa` law); the steps :math:`\Delta^{\rm flip}, \Delta^{\rm align}` are computed as
:math:`-2\eta` times the SymPy gradient of the exact population loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import mpmath
import sympy as sp

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain
from ..functions import sigmoid, to_elementary
from ..losses import Loss
from ..symbols import beta, eta, h, meanings
from ._notation import (
    MEANINGS,
    K,
    Omega,
    b,
    generic_derivative,
    loss_derivative,
    loss_parameters,
    p,
    phi_generic,
    phi_prime,
)
from ._notation import b_prime as bp
from ._traj import dot, value_and_gradient

# --------------------------------------------------------------------------- display objects

ell = sp.Symbol(r"\ell", integer=True, positive=True)  # coordinate of a vector in R^d
kappa = sp.Symbol(r"\kappa", positive=True)
omega = sp.Function(r"\omega")
step_flip = sp.IndexedBase(r"\Delta^{\mathrm{flip}}")
step_align = sp.IndexedBase(r"\Delta^{\mathrm{align}}")
m_bar = sp.IndexedBase(r"\bar m")
E_flip = sp.IndexedBase(r"\mathbb{E}[\phi'(-h)\,s\,g]")
E_dphi = sp.IndexedBase(r"\mathbb{E}[\phi'(h)\,s\,g]")
E_omega = sp.IndexedBase(r"\mathbb{E}[\omega(h)\,s\,g]")
margin_flip = Atom(r"\bar h^{\star}_b(\Delta^\star + \Delta^{\mathrm{flip}})")
margin_star = Atom(r"\bar h^{\star}_b(\Delta^\star)")
margin_align = Atom(r"\bar h_b(\Delta^{\mathrm{align}})")
margin_zero = Atom(r"\bar h_b(0)")

# --------------------------------------------------------------------------- the loss

Derivative = Callable[[sp.Expr], sp.Expr]


def _numeric(expr: sp.Expr) -> mpmath.mpf:
    """``expr`` at 50 digits (parameters bound, :math:`\\beta = 1`)."""
    with mpmath.workdps(50):
        return mpmath.mpf(sp.N(to_elementary(expr).subs(beta, 1), 50))


#: margins at which :math:`\omega` is evaluated to decide whether it vanishes identically
_WITNESS_MARGINS = tuple(sp.Rational(k, 7) for k in (1, 3, 5, 9, 13, 20, 31))


@cache
def omega_vanishes(loss: Loss) -> tuple[bool, sp.Expr | None]:
    r"""``(True, None)`` when :math:`\phi'(h) + \phi'(-h) = 2\phi'(0)` for every :math:`h` (exact
    simplification, else 50-digit evaluation at seven margins), else ``(False, h_0)`` with a
    margin :math:`h_0` where :math:`\omega(h_0) \neq 0`."""
    dphi = loss_derivative(loss)
    w = 2 * dphi(sp.Integer(0)) - dphi(h) - dphi(-h)
    if not w.has(sp.Piecewise):
        try:
            if sp.simplify(to_elementary(w)) == 0:
                return True, None
        except (TypeError, ValueError, NotImplementedError):
            pass
    for x in _WITNESS_MARGINS:
        if abs(_numeric(w.subs(h, x))) > mpmath.mpf(10) ** -30:
            return False, x
    return True, None


# --------------------------------------------------------------------------- finite laws


#: Stationary laws of :math:`x = sg` for claim ``ratio``: atoms (columns), a positive null vector
#: ``n`` of the atom matrix (so :math:`0` is inside their convex hull) and :math:`\beta\Delta^\star`.
#: Margins :math:`h_k = \beta x_k^\top\Delta^\star`: (1/4, 1/4, -5/4) and (3/8, -1/4, 1/8, -1/4).
RATIO_LAWS = (
    (((1, 0), (-1, 1), (-1, -2)), (3, 2, 1), (sp.Rational(1, 4), sp.Rational(1, 2))),
    (
        ((1, 0, 0), (0, 1, 0), (0, 0, 1), (-1, -1, -1)),
        (1, 1, 1, 1),
        (sp.Rational(3, 8), sp.Rational(-1, 4), sp.Rational(1, 8)),
    ),
)
RATIO_LABEL = (
    "stationary laws of $sg$ with 3 atoms in $\\mathbb{R}^2$ and 4 atoms in $\\mathbb{R}^3$ "
    "(weights solved from $\\mathbb{E}[\\phi'(h)sg] = 0$), every coordinate $\\ell$"
)


#: Digits of the loss's own ratio instances: its :math:`\phi'` at the atoms' margins is evaluated
#: once (exact expressions that cancel, such as :math:`\sigma(h) + \sigma(-h) - 1`, make every later
#: numeric evaluation slow), so stationarity and :math:`\omega \equiv 0` hold to ~50 digits.
DIGITS = 50


def _ratio_binding(
    phi: Callable[[sp.Expr], sp.Expr], dphi: Derivative, law: tuple, coordinate: int, numeric: bool
) -> dict:
    atoms, null, scaled = law
    d = len(atoms[0])
    value = (lambda e: sp.N(e, DIGITS)) if numeric else (lambda e: e)
    slope = lambda x: value(dphi(x))
    X = [[sp.Integer(c) for c in x] for x in atoms]
    star = [c / beta for c in scaled]  # Delta^star
    margins = [beta * dot(x, star) for x in X]  # h_k = beta x_k^T Delta^star (numbers)
    raw = [n / slope(hk) for n, hk in zip(null, margins)]
    total = sp.Add(*raw)
    w = [r / total for r in raw]  # sum_k w_k phi'(h_k) x_k = (sum_k n_k x_k) / total = 0

    def E(f: Callable[[sp.Expr], sp.Expr]) -> list[sp.Expr]:
        return [sp.Add(*(wk * f(hk) * x[c] for wk, hk, x in zip(w, margins, X))) for c in range(d)]

    loss = lambda D: sp.Add(*(wk * phi(beta * dot(D, x)) for wk, x in zip(w, X)))
    flipped = lambda D: sp.Add(*(wk * phi(-beta * dot(D, x)) for wk, x in zip(w, X)))
    zero = [sp.Integer(0)] * d
    flip = [-2 * eta * value(g) for g in value_and_gradient(flipped, star)[1]]
    align = [-2 * eta * value(g) for g in value_and_gradient(loss, zero)[1]]
    dphi0 = slope(sp.Integer(0))
    omega_of = lambda x: 2 * dphi0 - slope(x) - slope(-x)
    vectors = {
        step_flip: flip,
        step_align: align,
        m_bar: [sp.Add(*(wk * x[c] for wk, x in zip(w, X))) for c in range(d)],
        E_flip: E(lambda x: slope(-x)),
        E_dphi: E(slope),
        E_omega: E(omega_of),
    }
    return {ell: coordinate, phi_prime: slope, **{base: (lambda k, v=v: v[int(k) - 1]) for base, v in vectors.items()}}


def _ratio_instances(loss: Loss, generic: bool) -> Instances:
    phi_loss = loss.bind(loss.phi)
    cases: list[tuple[Callable, Derivative, bool]] = [(lambda x: phi_loss.subs(h, x), loss_derivative(loss), True)]
    if generic:
        cases.insert(0, (phi_generic, generic_derivative, False))

    def build() -> list[dict]:
        return [
            _ratio_binding(phi, dphi, law, c, numeric)
            for phi, dphi, numeric in cases
            for law in RATIO_LAWS
            for c in range(1, len(law[0][0]) + 1)
        ]

    name = f"{loss.name} (its $\\phi'$ at the atoms to {DIGITS} digits)"
    label = RATIO_LABEL + (f"; generic $\\phi$ and {name}" if generic else f"; {name}")
    return Instances(label, build, generic=(phi_generic,))


# --------------------------------------------------------------------------- the kappa law

#: (delta_b, c_b) of the two behaviours (coordinates 1-2: distinguishability, 3-4: offsets)
KAPPA_BEHAVIOURS = (((2, 0, 0, 0), (0, 0, 1, 0)), ((1, 1, 0, 0), (0, 0, 0, 1)))
#: :math:`\beta\kappa\Delta^\star`: margins :math:`\pm u` on every class mean
KAPPA_DIRECTION = (1, 1, 0, 0)


def _kappa_margin(loss: Loss) -> sp.Expr:
    r"""A margin :math:`u > 0` whose stationary flip rate :math:`\epsilon = \phi'(u)/(2\phi'(0))`
    lies in :math:`(0, \tfrac12)` (a valid law)."""
    dphi = loss_derivative(loss)
    for u in (sp.Integer(1), sp.Rational(1, 4), sp.Rational(1, 16)):
        eps = _numeric(dphi(u) / (dphi(u) + dphi(-u)))
        if 0 < eps < mpmath.mpf(1) / 2:
            return u
    return sp.Integer(1)


def _kappa_instances(loss: Loss) -> Instances:
    phi_loss, dphi = loss.bind(loss.phi), loss_derivative(loss)
    k, p1 = sp.Symbol("k", positive=True), sp.Symbol("p_1", positive=True)
    weights = (p1, 1 - p1)

    def build() -> list[dict]:
        u = _kappa_margin(loss)
        eps = dphi(u) / (dphi(u) + dphi(-u))  # (1 - eps) phi'(u) = eps phi'(-u): stationary
        atoms = []  # (probability, behaviour, s, g at the start)
        for c, (delta, offset) in enumerate(KAPPA_BEHAVIOURS):
            for t in (1, -1):
                mean = [sp.Integer(o) + t * sp.Rational(dd, 2) for o, dd in zip(offset, delta)]
                for s, prob in ((t, 1 - eps), (-t, eps)):
                    atoms.append((weights[c] * prob / 2, c, s, mean))
        d = len(KAPPA_DIRECTION)
        star = [u * e / (beta * k) for e in KAPPA_DIRECTION]

        def population(scale: sp.Expr, sign: int) -> Callable[[list[sp.Expr]], sp.Expr]:
            return lambda D: sp.Add(
                *(pr * phi_loss.subs(h, sign * beta * s * scale * dot(D, g)) for pr, _, s, g in atoms)
            )

        def mean_margin(c: int, scale: sp.Expr, D: Sequence[sp.Expr]) -> sp.Expr:
            return sp.Add(*(pr * beta * s * scale * dot(D, g) for pr, cc, s, g in atoms if cc == c)) / weights[c]

        def signed_mean(c: int) -> list[sp.Expr]:
            return [sp.Add(*(pr * s * g[x] for pr, cc, s, g in atoms if cc == c)) / weights[c] for x in range(d)]

        flip = [-2 * eta * g for g in value_and_gradient(population(k, -1), star)[1]]
        align = [-2 * eta * g for g in value_and_gradient(population(1, 1), [0] * d)[1]]
        after = [a + f for a, f in zip(star, flip)]
        means = [signed_mean(c) for c in range(len(KAPPA_BEHAVIOURS))]
        out = []
        for c in range(len(KAPPA_BEHAVIOURS)):
            out.append(
                {
                    margin_flip: mean_margin(c, k, after),
                    margin_star: mean_margin(c, k, star),
                    margin_align: mean_margin(c, 1, align),
                    margin_zero: mean_margin(c, 1, [0] * d),
                    kappa: k,
                    K: len(KAPPA_BEHAVIOURS),
                    b: c + 1,
                    p: lambda x: weights[int(x) - 1],
                    Omega: lambda x, y: dot(means[int(x) - 1], means[int(y) - 1]),
                }
            )
        return out

    return Instances(
        "K = 2 behaviours in $\\mathbb{R}^4$ (offsets orthogonal to $\\delta$), balanced, features "
        "$\\kappa g$ at the flip, $\\Delta^\\star$ stationary by the label-flip rate "
        "$\\epsilon = \\phi'(u)/(2\\phi'(0))$; symbolic $\\kappa$, $p_1$",
        build,
    )


# --------------------------------------------------------------------------- claims


def _ratio(loss: Loss, symmetric: bool) -> Claim:
    both, own = _ratio_instances(loss, generic=True), _ratio_instances(loss, generic=False)
    links: list = [
        (
            "=",
            2 * eta * beta * E_flip[ell],
            (
                r"flipped labels: $s \to -s$, $h \to -h$, and $\Delta^{\mathrm{flip}} = -2\eta\nabla "
                r"L_{\mathrm{flip}}(\Delta^\star)$"
            ),
        ),
        (
            "=",
            2 * eta * beta * (2 * phi_prime(0) * m_bar[ell] - E_dphi[ell] - E_omega[ell]),
            r"$\phi'(-h) = 2\phi'(0) - \phi'(h) - \omega(h)$ (definition of $\omega$)",
        ),
        (
            "=",
            2 * eta * beta * (2 * phi_prime(0) * m_bar[ell] - E_omega[ell]),
            r"stationarity (A2): $\mathbb{E}[\phi'(h)\,s\,g] = 0$",
        ),
        (
            "=",
            -2 * step_align[ell] - 2 * eta * beta * E_omega[ell],
            r"first alignment step at $h = 0$: $\Delta^{\mathrm{align}} = -2\eta\beta\phi'(0)\,\bar m$",
        ),
    ]
    if symmetric:
        links.append(("=", -2 * step_align[ell], rf"$\omega \equiv 0$ for {loss.name} (A4, claim symmetry)", own))
    return chain(
        "ratio",
        step_flip[ell],
        links,
        instances=both,
        prose=(
            r"The flipped step is exactly $-2$ times the first alignment step: misalignment from a "
            r"stationary point moves twice as fast as alignment did, in the opposite direction."
            if symmetric
            else r"Here $\omega \not\equiv 0$ (claim omega): the flipped step is $-2\Delta^{\mathrm{align}}$ "
            r"only up to the correction $-2\eta\beta\,\mathbb{E}[\omega(h)\,s\,g]$."
        ),
    )


def _symmetry_reason(dphi: sp.Expr) -> str:
    if dphi.has(sigmoid):
        return r"$\sigma(h) + \sigma(-h) = 1$"
    if dphi.is_polynomial(h) and sp.degree(dphi, h) <= 1:
        return r"$\phi'$ is affine"
    return "algebra"


def _symmetry(loss: Loss) -> Claim:
    dphi = loss_derivative(loss)
    instances = Instances(f"{loss.name}, every real $h$", lambda: [{phi_prime: dphi}])
    return chain(
        "symmetry",
        phi_prime(h) + phi_prime(-h),
        [
            ("=", dphi(h) + dphi(-h), rf"$\phi'(h) = {sp.latex(dphi(h))}$"),
            ("=", 2 * dphi(sp.Integer(0)), _symmetry_reason(dphi(h))),
        ],
        instances=instances,
        prose=r"i.e. $\omega(h) = 2\phi'(0) - \phi'(h) - \phi'(-h) = 0$ for every $h$.",
    )


def _omega_claim(loss: Loss) -> Claim:
    dphi = loss_derivative(loss)
    explicit = 2 * dphi(sp.Integer(0)) - dphi(h) - dphi(-h)
    if explicit.has(sp.Piecewise):  # one Piecewise; its last branch as "otherwise" (checked below)
        explicit = sp.simplify(sp.piecewise_fold(explicit))
        if isinstance(explicit, sp.Piecewise):
            explicit = sp.Piecewise(*explicit.args[:-1], (explicit.args[-1].expr, True))
    instances = Instances(
        f"{loss.name}, every real $h$",
        lambda: [{phi_prime: dphi, omega: lambda x: 2 * dphi(sp.Integer(0)) - dphi(x) - dphi(-x)}],
    )
    return chain(
        f"omega for {loss.name}",
        omega(h),
        [
            ("=", 2 * phi_prime(0) - phi_prime(h) - phi_prime(-h), r"definition of $\omega$"),
            ("=", explicit, rf"$\phi'(h) = {sp.latex(dphi(h))}$"),
        ],
        instances=instances,
    )


def _kappa(loss: Loss) -> Claim:
    dphi0 = loss.bind(loss.dphi_at_zero)
    return chain(
        "kappa law",
        margin_flip - margin_star,
        [
            (
                "=",
                -2 * kappa**2 * (margin_align - margin_zero),
                (
                    r"the margin is linear in $\Delta$: $\bar h^\star_b(\Delta^\star + \Delta^{\mathrm{flip}}) - \bar "
                    r"h^\star_b(\Delta^\star) "
                    r"= \beta\langle\Delta^{\mathrm{flip}}, m^\star_b\rangle$; claim ratio ($\Delta^{\mathrm{flip}} = "
                    r"-2\Delta^{\mathrm{align}\star}$) "
                    r"and $m^\star_b = \kappa m_b$"
                ),
            ),
            (
                "=",
                4 * kappa**2 * eta * beta**2 * dphi0 * sp.Sum(p[bp] * Omega[bp, b], (bp, 1, K)),
                (
                    r"first alignment step (update-rate): $\bar h_b(\Delta^{\mathrm{align}}) = "
                    r"-2\eta\beta^2\phi'(0)\sum_{b'} p_{b'}\Omega_{b'b}$"
                ),
            ),
        ],
        instances=_kappa_instances(loss),
        prose=(
            rf"With $\phi'(0) = {sp.latex(dphi0)}$: after features grew by $\kappa$, the first misaligning step "
            r"moves each behaviour's mean margin $-2\kappa^2$ times as far as the first aligning step did."
        ),
    )


def build(loss: Loss) -> Theorem:
    symmetric, witness = omega_vanishes(loss)
    dphi = loss_derivative(loss)
    dphi0 = loss.bind(loss.dphi_at_zero)
    claims = [_ratio(loss, symmetric)]
    notes: list[str] = []
    if symmetric:
        claims += [_symmetry(loss), _kappa(loss)]
    else:
        assert witness is not None  # omega_vanishes names a margin whenever the loss is not symmetric
        claims.append(_omega_claim(loss))
        value = sp.N(to_elementary(2 * dphi(sp.Integer(0)) - dphi(witness) - dphi(-witness)).subs(beta, 1), 6)
        notes.append(
            rf"For {loss.name}, $\phi'(h) + \phi'(-h) \neq 2\phi'(0)$ (e.g. $\omega({sp.latex(witness)}) = "
            rf"{sp.latex(value)}$"
            r" at $\beta = 1$): the flipped step is not exactly $-2$ times the alignment step, and the "
            r"$\kappa^2$ law is not stated; claim ratio gives the exact step with its correction term."
        )
    sign = dphi0.is_positive
    if sign is None:
        sign = _numeric(dphi0) > 0
    if sign:
        notes.append(
            rf"For {loss.name}, $\phi'(0) = {sp.latex(dphi0)} > 0$: the first step from $W_{{\mathrm{{ref}}}}$ moves "
            r"against $\bar m$, so $\Delta^{\mathrm{align}}$ is an anti-alignment step; the identity of claim ratio "
            r"holds as stated."
        )
    assumptions = [
        Assumption(
            "head and training",
            r"$W = W_{\mathrm{ref}} + \frac12(e_1 - e_2)\Delta^\top$, $h = \beta s\Delta^\top g$; "
            r"population GD $\Delta_{t+1} = \Delta_t - 2\eta\nabla L(\Delta_t)$ on $L(\Delta) = \mathbb{E}\,\phi(h)$.",
        ),
        Assumption(
            "stationary start",
            r"$\Delta^\star \in \mathbb{R}^d$ is finite and stationary for the original labels, "
            r"$\mathbb{E}[\phi'(\beta s\Delta^{\star\top}g)\,s\,g] = 0$ (for DPO this needs the law of $sg$ to be "
            r"non-separable, e.g. label noise); $\phi$ is differentiable at $\pm h$ for almost every $(s, g)$ "
            r"(hinge: $P(|h| = 1) = 0$) and $\mathbb{E}[|\phi'(\pm h)|\,\|g\|] < \infty$.",
        ),
        Assumption(
            "flip",
            r"the flipped phase starts at $\Delta^\star$ with $s$ replaced by $-s$, on the same law of $(s, g)$ "
            r"as the alignment phase (the kappa law relaxes this); its first step is $\Delta^{\mathrm{flip}}$, and "
            r"$\Delta^{\mathrm{align}}$ is the first step of alignment from $\Delta_0 = 0$.",
        ),
    ]
    if symmetric:
        assumptions += [
            Assumption("symmetric derivative", r"$\phi'(h) + \phi'(-h) = 2\phi'(0)$ for every $h$ (claim symmetry)."),
            Assumption(
                "kappa law",
                r"for the kappa law only: the law at the flip has the same weights $p_b$ and signed "
                r"class means $m^\star_b = \kappa\, m_b$, $\kappa > 0$ (e.g. alignment scaled the features by "
                r"$\kappa$), "
                r"$\Delta^\star$ is stationary for it, and $\Delta^{\mathrm{align}\star}$ is the first alignment step "
                r"on it.",
            ),
        ]
    notation = {
        **meanings(beta, eta, h),
        **loss_parameters(loss),
        ell: r"indexes the coordinates of vectors in $\mathbb{R}^d$",
        step_flip[
            ell
        ]: r"is the first step $\Delta_{t+1} - \Delta_t$ of population GD on flipped labels from $\Delta^\star$",
        step_align[
            ell
        ]: r"is the first step $\Delta_1 - \Delta_0$ of population GD on the original labels from $\Delta_0 = 0$ ($W "
        r"= W_{\mathrm{ref}}$)",
        m_bar[ell]: r"is $\bar m = \mathbb{E}[s g]$",
        (E_flip[ell], E_dphi[ell]): r"are expectations under the law of $(s, g)$ with $h = \beta s\Delta^{\star\top}g$",
        E_omega[ell]: r"is the same with $\omega(h) = 2\phi'(0) - \phi'(h) - \phi'(-h)$",
        phi_prime(h): MEANINGS[phi_prime(h)],
    }
    if symmetric:
        notation.update(
            {
                (
                    margin_flip,
                    margin_star,
                ): r"are the mean margins $\mathbb{E}[h\mid b]$ of behaviour $b$ under the law at the flip, after the "
                r"first flipped step and at $\Delta^\star$",
                (
                    margin_align,
                    margin_zero,
                ): r"are the mean margins of behaviour $b$ under the law of the alignment phase, after its first step "
                r"and at $\Delta = 0$",
                kappa: r"is the factor by which the signed class means grew between the alignment phase and the flip",
                p[b]: MEANINGS[p[b]],
                Omega[bp, b]: MEANINGS[Omega[bp, b]],
                K: MEANINGS[K],
                b: MEANINGS[b],
            }
        )
    else:
        notation[omega(h)] = r"is $2\phi'(0) - \phi'(h) - \phi'(-h)$, the asymmetry of $\phi'$ about $\phi'(0)$"
    return Theorem(
        id="misalignment-rate",
        title=(
            "Misalignment from a stationary point is twice as fast as alignment"
            if symmetric
            else "The first misalignment step from a stationary point"
        ),
        assumptions=assumptions,
        claims=claims,
        summary=rf"Loss {loss.name}: ${loss.latex()}$, $\phi'(0) = {sp.latex(dphi0)}$.",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"The misalignment discussion (training on flipped preferences after alignment) is in the spirit of "
            r"Im \& Li (2024), whose Theorem 4.1 is the first-step update rate used here for DPO; the exact "
            r"identity with $\omega$ for a general $\phi$, the exact factor 2 at a stationary point when "
            r"$\omega \equiv 0$ and the $\kappa^2$ gain are prefdyn's sharpening."
        ),
    )
