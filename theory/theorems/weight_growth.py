r"""``weight-growth``: the trained head moves at most linearly in the number of steps.

Every gradient is a multiple of :math:`(e_1 - e_2)g^\top` (``dpo-gradient``), so a head trained
from :math:`W_{\rm ref}` keeps the form :math:`W_t - W_{\rm ref} = \tfrac12 (e_1 - e_2)\Delta_t^\top`
with the preference direction :math:`\Delta_t = (e_1 - e_2)^\top (W_t - W_{\rm ref})`, hence exactly

.. math:: \|W_t - W_{\rm ref}\|_{\rm op} = \|W_t - W_{\rm ref}\|_F = \|\Delta_t\|/\sqrt2 .

One GD step changes :math:`\Delta` by :math:`-2\eta\beta\,\mathbb E[\phi'(h)\,s\,g]`, so with
:math:`L_\phi = \sup_h|\phi'(h)|` (1 for DPO)

.. math:: \|W_t - W_{\rm ref}\|_{\rm op} \le \sqrt2\,\eta\beta\,t\,L_\phi\,\mathbb E\|g\| ,

linear in :math:`t` (Im & Li 2024, Thm. 4.3). For a loss with unbounded :math:`\phi'` (IPO) the
bound holds with :math:`L_\phi` the largest :math:`|\phi'(h)|` met along the trajectory.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from ..framework import Assumption, Claim, Form, Instances, Theorem, chain
from ..losses import Loss
from ..model import FiniteLaw
from ..symbols import beta, eta, h, t
from ._head import head, log_ratio_difference, vector

SHAPES = ((2, 2), (3, 2), (3, 3))
k = sp.Symbol("k", integer=True, nonnegative=True)
L_phi = sp.Symbol(r"L_{\phi}", positive=True)
norm_delta_t = sp.Symbol(r"\|\Delta_t\|", nonnegative=True)
E_norm_g = sp.Symbol(r"\mathbb{E}\|g\|", positive=True)
W_dev = sp.Symbol(r"\|W_t - W_{\mathrm{ref}}\|_{\mathrm{op}}", nonnegative=True)
W_dev_F = sp.Symbol(r"\|W_t - W_{\mathrm{ref}}\|_{F}", nonnegative=True)
increment = sp.Function(r"\|\Delta_{k+1} - \Delta_k\|")


def _e12(V: int) -> sp.Matrix:
    e = sp.zeros(V, 1)
    e[0], e[1] = 1, -1
    return e


def _norm(v: sp.Matrix) -> sp.Expr:
    return sp.sqrt((v.T * v)[0])


def _deviations() -> list[tuple[sp.Matrix, sp.Matrix]]:
    r"""Heads of the trained form :math:`\tfrac12(e_1-e_2)\Delta^\top` and their :math:`\Delta`."""
    return [(_e12(V) * vector("Delta", d).T / 2, vector("Delta", d)) for V, d in SHAPES]


def _op_norm(A: sp.Matrix) -> sp.Expr:
    r""":math:`\|A\|_{op}` = square root of the largest eigenvalue of :math:`A^\top A`."""
    return sp.sqrt(sp.Max(*(A.T * A).eigenvals()))


def _two_steps() -> list[tuple[sp.Matrix, sp.Matrix]]:
    r"""Two real GD steps (generic :math:`\phi`, through the log-softmax) from :math:`W_{\rm ref}`
    on a 3x2 head, and their projection onto the trained form."""
    phi = sp.Function("phi")
    V, d = 3, 2
    W, R = head("W", V, d), head("R", V, d)
    current = R
    for name, (w, l) in (("g", (0, 1)), ("f", (1, 0))):
        g = vector(name, d)
        loss = phi(beta * log_ratio_difference(W, R, g, w, l))
        grad = sp.Matrix(V, d, lambda a, c, loss=loss: sp.diff(loss, W[a, c]))
        current = current - eta * grad.subs({W[a, c]: current[a, c] for a in range(V) for c in range(d)})
    moved = current - R
    e = _e12(V)
    return [(moved, e * (e.T * moved) / 2)]


def _exact_norm() -> list[Claim]:
    deviations, op_norm = _deviations, _op_norm
    operator = chain(
        "operator norm",
        Form(W_dev),
        [
            ("=", Form(sp.Symbol(r"\|\tfrac12 (e_1 - e_2)\Delta_t^\top\|_{\mathrm{op}}")),
             r"every update lies along $(e_1-e_2)$ (dpo-gradient): $W_t - W_{\rm ref} = \tfrac12(e_1-e_2)(e_1-e_2)^\top(W_t - W_{\rm ref})$",
             Instances("two GD steps through a 3x2 softmax head, generic phi", _two_steps)),
            ("=", Form(sp.Rational(1, 2) * sp.sqrt(2) * norm_delta_t),
             r"$\|u v^\top\|_{\mathrm{op}} = \|u\|\,\|v\|$ (eigenvalues of $A^\top A$), $\|e_1 - e_2\| = \sqrt2$",
             Instances("(V, d) in " + str(SHAPES), lambda: [(op_norm(A), sp.sqrt(2) / 2 * _norm(D)) for A, D in deviations()])),
        ],
        instances="(V, d) in " + str(SHAPES),
    )
    frobenius = chain(
        "Frobenius norm",
        Form(W_dev_F, lambda: [sp.sqrt(sum(a**2 for a in A)) for A, _ in deviations()]),
        [("=", Form(norm_delta_t / sp.sqrt(2), lambda: [_norm(D) / sp.sqrt(2) for _, D in deviations()]), "rank one: Frobenius equals operator norm")],
        instances="(V, d) in " + str(SHAPES),
    )
    return [operator, frobenius]


def _growth(loss: Loss) -> Claim:
    dphi = loss.bind(loss.dphi)
    law = FiniteLaw(1, 2)
    Delta = vector("Delta", 2)

    @cache
    def pieces() -> dict[str, sp.Expr]:
        def phi_prime(atom: object) -> sp.Expr:
            return dphi.subs(h, beta * atom.sign * (Delta.T * atom.embedding)[0])  # type: ignore[attr-defined]

        atoms = list(law.atoms())
        e = _e12(2)
        step_W = -eta * law.expectation(lambda a: phi_prime(a) * beta * a.sign * e * a.embedding.T)
        sup = sp.Max(*(sp.Abs(phi_prime(a)) for a in atoms))
        return {
            "increment": _norm((e.T * step_W).T),
            "closed": 2 * eta * beta * _norm(law.expectation(lambda a: phi_prime(a) * a.sign * a.embedding)),
            "jensen": 2 * eta * beta * law.expectation(lambda a: sp.Abs(phi_prime(a)) * _norm(a.embedding)),
            "sup": 2 * eta * beta * sup * law.expectation(lambda a: _norm(a.embedding)),
        }

    u1, u2 = vector("u", 2), vector("v", 2)
    triangle = Instances("two increments in R^2", lambda: [(_norm(u1 + u2) / sp.sqrt(2), (_norm(u1) + _norm(u2)) / sp.sqrt(2))])

    def per_step(before: str, after: str) -> Instances:
        label = "one behaviour in R^2 with label noise, V = 2, any Delta_k"
        return Instances(label, lambda: [(pieces()[before], pieces()[after])])

    bound = 2 * eta * beta * L_phi * E_norm_g
    return chain(
        "linear growth",
        Form(W_dev),
        [
            ("=", Form(norm_delta_t / sp.sqrt(2)), "claims 2 and 3", Instances("(V, d) in " + str(SHAPES), lambda: [(_op_norm(A), _norm(D) / sp.sqrt(2)) for A, D in _deviations()])),
            ("<=", Form(sp.Sum(increment(k), (k, 0, t - 1)) / sp.sqrt(2)), r"telescoping, $\Delta_0 = 0$, triangle inequality", triangle),
            ("<=", Form(sp.Sum(2 * eta * beta * sp.Symbol(r"\|\mathbb{E}[\phi'(h_k)\, s\, g]\|"), (k, 0, t - 1)) / sp.sqrt(2)),
             r"$\Delta_{k+1} - \Delta_k = (e_1 - e_2)^\top(-\eta\,\mathbb{E}\nabla_W\phi) = -2\eta\beta\,\mathbb{E}[\phi'(h_k) s g]$", per_step("increment", "closed")),
            ("<=", Form(sp.Sum(2 * eta * beta * sp.Symbol(r"\mathbb{E}[|\phi'(h_k)|\,\|g\|]"), (k, 0, t - 1)) / sp.sqrt(2)), "Jensen", per_step("closed", "jensen")),
            ("<=", Form(sp.Sum(bound, (k, 0, t - 1)) / sp.sqrt(2)), r"$|\phi'| \le L_\phi$", per_step("jensen", "sup")),
            ("=", Form(sp.sqrt(2) * eta * beta * t * L_phi * E_norm_g), "sum of $t$ equal terms"),
        ],
        domain={},
    )


def build(loss: Loss) -> Theorem:
    sup = loss.sup_abs_dphi
    return Theorem(
        id="weight-growth",
        title="Linear growth of the trained head",
        assumptions=[
            Assumption("start", r"$W_0 = W_{\rm ref}$; full-batch or minibatch GD on $\phi(h)$ with step $\eta$ over responses $1, 2$."),
            Assumption("bounded slope", rf"$L_\phi = \sup_h |\phi'(h)| = {sp.latex(sup)}$ for loss {loss.name} (derived by SymPy); if infinite, $L_\phi$ is the largest $|\phi'(h)|$ met along the trajectory."),
            Assumption("embeddings", r"$\mathbb{E}\|g\| < \infty$ under the data law (the empirical law for full-batch GD)."),
        ],
        claims=[_growth(loss), *_exact_norm()],
        loss_name=loss.name,
    )
