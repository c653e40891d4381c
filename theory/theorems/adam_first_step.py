r"""``adam-first-step``: Adam's first step from the reference is sign-like, and its margin growth is :math:`\ell_1`.

One step of ``torch.optim.Adam`` (Kingma & Ba 2015) from zero moments, with bias corrections,
moves every parameter entry by

.. math::
   \Delta W_1 = -\eta\lambda_{wd} W_0 - \frac{\eta}{1-\beta_1}\,
   \frac{\mathsf m_1}{\sqrt{\mathsf v_1}/\sqrt{1-\beta_2} + \epsilon_A}
   = -\eta\lambda_{wd} W_0 - \eta\,\frac{\mathcal{G}}{|\mathcal{G}| + \epsilon_A},

since :math:`\mathsf m_1 = (1-\beta_1)\mathcal{G}` and :math:`\mathsf v_1 = (1-\beta_2)\mathcal{G}^2`
(:math:`\lambda_{wd} = 0` for Adam; AdamW's decoupled decay, Loshchilov & Hutter 2019, multiplies
:math:`W` by :math:`1 - \eta\lambda_{wd}` first). So
:math:`|\Delta W_1 + \eta\lambda_{wd}W_0 + \eta\operatorname{sign}\mathcal{G}| \le \eta\epsilon_A/(|\mathcal{G}| + \epsilon_A)`:
the first step is sign descent up to :math:`O(\epsilon_A/|\mathcal{G}|)`.

On a softmax head from :math:`W_0 = W_{\rm ref}` (every margin :math:`h = 0`), the batch gradient
is :math:`G_{ij} = \beta\phi'(0)(\mathbb 1[i=1] - \mathbb 1[i=2])\hat m_j`,
:math:`\hat m = \hat{\mathbb E}_B[s g]`, so the preference direction moves to

.. math::
   \Delta^{(1)}_j = 2\eta\,\frac{-\phi'(0)\beta\hat m_j}{|\phi'(0)\beta\hat m_j| + \epsilon_A}
   - \eta\lambda_{wd}(w^{\rm ref}_{1j} - w^{\rm ref}_{2j}),

and the mean margin of behaviour :math:`b` (signed mean :math:`m_b` over its samples) to
:math:`\bar h_b(1) = \beta\sum_j\Delta^{(1)}_j m_{b,j}`, which is
:math:`2\eta\beta\sum_j\operatorname{sign}(-\phi'(0)\hat m_j)\,m_{b,j}` minus the decay term, up to
:math:`2\eta\beta\sum_j\epsilon_A|m_{b,j}|/(|\phi'(0)\beta\hat m_j| + \epsilon_A)`: for one behaviour
trained on its full batch, :math:`\pm 2\eta\beta\|m_b\|_1` (:math:`\phi'(0) \lessgtr 0`: raised when :math:`\phi'(0) < 0`), an
:math:`\ell_1` quantity, where gradient descent gives :math:`-2\eta\beta^2\phi'(0)\langle\hat m, m_b\rangle`
(``update-rate``).

Every display is checked as printed: the Adam recursion is run symbolically from zero moments, the
head gradient is SymPy's derivative of the batch loss of a concrete :math:`3\times 2` head, and the
margins are those of the head after the step (:mod:`prefdyn.theory.framework`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp

from ..framework import Assumption, Atom, Claim, Instances, Theorem, chain, realise
from ..functions import indicator
from ..losses import Loss
from ..model import DIMENSION, vector
from ..symbols import beta, eta, h, meanings
from ._head import e12, head
from ._notation import MEANINGS, loss_derivative, loss_parameters, phi_prime
from ._notation import b as b_
from .population_flow import DIMENSION_MEANING
from .update_rate import (
    _finite_expectation,
    _margin,
    _Point,
    _sample_gradient,
    display_function,
    g,
    i_,
    j_,
    s_,
    y_l,
    y_w,
)

V_HEAD, D_HEAD = 3, 2

# --------------------------------------------------------------------------- symbols and display objects

beta_1 = sp.Symbol("beta_1", nonnegative=True)
beta_2 = sp.Symbol("beta_2", nonnegative=True)
eps_A = sp.Symbol("epsilon_A", positive=True)
decay = sp.Symbol("lambda_wd", nonnegative=True)
W0 = sp.Symbol("W_0", real=True)
G_entry = sp.Symbol(r"\mathcal{G}", real=True)
dW1 = Atom(r"\Delta W_1")
moment_1 = Atom(r"\mathsf{m}_1")
moment_2 = Atom(r"\mathsf{v}_1")

G = sp.IndexedBase(r"\mathcal{G}")
hat_m = sp.IndexedBase(r"\hat m")
m = sp.IndexedBase("m")
w_ref = sp.IndexedBase(r"w^{\mathrm{ref}}")
Delta1 = sp.IndexedBase(r"\Delta^{(1)}")
h_bar = Atom(r"\bar h_b(1)")

#: The mean over the step's batch (printed as such; bound to the exact mean by instances).
BatchMean = display_function("BatchMean_", lambda a: rf"\hat{{\mathbb{{E}}}}_B[{a}]", lambda a: f"E_B[{a}]")

#: Symbols the instances substitute for the decay rates (:math:`\beta_i = 1 - \kappa_i`, :math:`\kappa_i > 0`).
kappa_1, kappa_2 = sp.Symbol("kappa_1", positive=True), sp.Symbol("kappa_2", positive=True)
#: ``torch.optim.Adam``'s default decay rates, used on the concrete heads.
TORCH_BETAS = (sp.Rational(9, 10), sp.Rational(999, 1000))


def adam_first_update(
    w0: sp.Expr, grad: sp.Expr, betas: tuple[sp.Expr, sp.Expr], weight_decay: sp.Expr = decay
) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""The first step of ``torch.optim.AdamW`` on one entry, run from its recursion.

    From :math:`\mathsf m_0 = \mathsf v_0 = 0` at :math:`t = 1`:
    :math:`\mathsf m_t = \beta_1\mathsf m_{t-1} + (1-\beta_1)\mathcal{G}`,
    :math:`\mathsf v_t = \beta_2\mathsf v_{t-1} + (1-\beta_2)\mathcal{G}^2`, :math:`W \leftarrow (1-\eta\lambda)W`,
    then :math:`W \leftarrow W - \frac{\eta}{1-\beta_1^t}\mathsf m_t/(\sqrt{\mathsf v_t}/\sqrt{1-\beta_2^t}
    + \epsilon_A)` (``weight_decay`` :math:`= 0`: ``torch.optim.Adam``).

    Returns
    -------
    tuple
        :math:`(W_1 - W_0, \mathsf m_1, \mathsf v_1)`.
    """
    b1, b2 = betas
    t, m_prev, v_prev = 1, sp.Integer(0), sp.Integer(0)
    m_t = b1 * m_prev + (1 - b1) * grad
    v_t = b2 * v_prev + (1 - b2) * grad**2
    decayed = w0 - eta * weight_decay * w0
    w1 = decayed - eta / (1 - b1**t) * m_t / (sp.sqrt(v_t) / sp.sqrt(1 - b2**t) + eps_A)
    return w1 - w0, m_t, v_t


# --------------------------------------------------------------------------- elementwise claims

#: Decay rates of the elementwise instances: symbolic, no momentum, and torch's defaults.
BETA_CASES = ((1 - kappa_1, 1 - kappa_2), (sp.Integer(0), 1 - kappa_2), TORCH_BETAS)


def _elementwise_instances(
    gradients: Sequence[sp.Expr], label: str, cases: Sequence[tuple[sp.Expr, sp.Expr]] = BETA_CASES
) -> Instances:
    """The AdamW recursion on one entry for each gradient in ``gradients`` and decay rates in ``cases``."""

    def build() -> list[dict]:
        out = []
        for betas in cases:
            for grad in gradients:
                step, m1, v1 = adam_first_update(W0, grad, betas)
                out.append({dW1: step, moment_1: m1, moment_2: v1, beta_1: betas[0], beta_2: betas[1], G_entry: grad})
        return out

    described = ", ".join(f"({sp.sstr(b1)}, {sp.sstr(b2)})" for b1, b2 in cases)
    return Instances(f"{label}; (beta_1, beta_2) in {described}", build)


def _adam_step() -> Claim:
    instances = _elementwise_instances(
        [sp.Symbol("G", real=True)], "the torch.optim.AdamW recursion from zero moments at t = 1, G real, W_0 real"
    )
    return chain(
        "adam step",
        dW1,
        [
            (
                "=",
                -eta * decay * W0 - eta / (1 - beta_1) * moment_1 / (sp.sqrt(moment_2) / sp.sqrt(1 - beta_2) + eps_A),
                (
                    r"decoupled decay $W \leftarrow (1 - \eta\lambda_{wd})W$, then the step at $t = 1$ with the bias "
                    r"corrections $1 - \beta_1^t$, $1 - \beta_2^t$"
                ),
            ),
            (
                "=",
                -eta * decay * W0 - eta * G_entry / (sp.Abs(G_entry) + eps_A),
                (
                    r"$\mathsf{m}_1 = (1 - \beta_1)\mathcal{G}$ and $\mathsf{v}_1 = (1 - \beta_2)\mathcal{G}^2$ from "
                    r"$\mathsf{m}_0 = \mathsf{v}_0 = 0$, so $\sqrt{\mathsf{v}_1}/\sqrt{1 - \beta_2} = |\mathcal{G}|$"
                ),
            ),
        ],
        instances=instances,
        prose=r"elementwise; $\lambda_{wd} = 0$ for Adam. The bias corrections cancel $\beta_1$ and $\beta_2$ exactly.",
    )


def _sign_bound() -> Claim:
    x = sp.Symbol("x", positive=True)
    instances = _elementwise_instances(
        [x, -x, sp.Integer(0)], "the AdamW recursion with G = x, -x, 0 (x > 0)", BETA_CASES[:1]
    )
    one_minus = 1 - sp.Abs(G_entry) / (sp.Abs(G_entry) + eps_A)
    return chain(
        "sign bound",
        sp.Abs(dW1 + eta * decay * W0 + eta * sp.sign(G_entry)),
        [
            ("=", eta * sp.Abs(sp.sign(G_entry) - G_entry / (sp.Abs(G_entry) + eps_A)), "claim adam step"),
            (
                "=",
                eta * sp.Abs(sp.sign(G_entry)) * one_minus,
                r"$\mathcal{G} = \operatorname{sign}(\mathcal{G})|\mathcal{G}|$ and $|\mathcal{G}|/(|\mathcal{G}| + \epsilon_A) < 1$",
            ),
            ("<=", eta * one_minus, r"$|\operatorname{sign}(\mathcal{G})| \le 1$"),
            ("=", eta * eps_A / (sp.Abs(G_entry) + eps_A), "algebra"),
        ],
        instances=instances,
        prose=r"with equality when $\mathcal{G} \neq 0$: the first step is $-\eta\operatorname{sign}(\mathcal{G})(1 + O(\epsilon_A/|\mathcal{G}|))$, "
        r"whatever the size of $\mathcal{G}$.",
    )


# --------------------------------------------------------------------------- the concrete head


@dataclass(frozen=True)
class _Sample:
    """One training pair of a concrete instance: behaviour (0-based), sign, symbolic embedding."""

    behavior: int
    sign: int
    embedding: sp.Matrix


@dataclass(frozen=True)
class _HeadStep:
    r"""One Adam(W) step of a concrete :math:`V\times d` head from :math:`W_{\rm ref}` on a batch:
    the batch gradient (SymPy), the step's :math:`\Delta^{(1)}`, :math:`\hat m`, and per behaviour
    the mean margin after the step and the signed mean :math:`m_b`."""

    gradient: sp.Matrix
    reference: sp.Matrix
    direction: sp.Matrix
    batch_mean: sp.Matrix
    expect: Callable[[sp.Expr], sp.Expr]
    margins: tuple[sp.Expr, ...]
    signed_means: tuple[sp.Matrix, ...]


#: Training sets (behaviour, sign per sample) and the batches (sample positions) of the head instances.
LAYOUTS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[int, ...]]] = {
    "K = 2, 3 samples, full batch": (((0, 1), (0, -1), (1, 1)), (0, 1, 2)),
    "K = 2, 3 samples, minibatch of 2": (((0, 1), (0, -1), (1, 1)), (0, 2)),
    "K = 1, 2 samples, full batch": (((0, 1), (0, -1)), (0, 1)),
}
MIXED = ("K = 2, 3 samples, full batch", "K = 2, 3 samples, minibatch of 2")
ALIGNED = ("K = 1, 2 samples, full batch",)


def slope_at_reference(loss: Loss) -> sp.Expr:
    r""":math:`\phi'(0)` of ``loss`` (parameters bound), expanded (EXO: :math:`-\log(999)/4`)."""
    return sp.expand(loss.bind(loss.dphi_at_zero))


def _canonical(expr: sp.Expr) -> sp.Expr:
    r"""A linear form in the embeddings, factored (:math:`(x_{11} - x_{21})/2`)."""
    return sp.factor(sp.expand(expr))


def _gradient_entry(expr: sp.Expr, dphi0: sp.Expr) -> sp.Expr:
    r"""A batch-gradient entry at :math:`W_{\rm ref}` written as :math:`\phi'(0)\,\beta\,L(g)` with the
    loss's own constant :math:`\phi'(0)` and :math:`L` a rational linear form (:func:`_canonical`),
    so that :math:`|\mathcal{G}| = |\phi'(0)|\beta|L|` reads as the displays do. The rewriting is used only
    where SymPy proves it exact; otherwise (and when :math:`\phi'(0) = 0`) the entry is only factored."""
    expanded = sp.expand(expr)
    if expanded == 0 or dphi0 == 0:
        return _canonical(expanded)
    linear = _canonical(sp.simplify(expanded / (beta * dphi0)))
    rewritten = beta * dphi0 * linear
    if linear.has(beta, sp.exp, sp.log) or sp.simplify(expanded - sp.expand(rewritten)) != 0:
        return _canonical(expanded)
    return rewritten


@cache
def _head_step(loss: Loss, layout: str) -> _HeadStep:
    """The step of :class:`_HeadStep` on the training set and batch ``layout`` (:data:`LAYOUTS`),
    symbolic embeddings, torch's default decay rates, SymPy gradients through the log-softmax."""
    signs, batch = LAYOUTS[layout]
    V, d = V_HEAD, D_HEAD
    samples = [_Sample(bb, s, vector(f"x{k + 1}", d)) for k, (bb, s) in enumerate(signs)]
    chosen = [samples[k] for k in batch]
    R = head("R", V, d)
    total = sp.zeros(V, d)
    for sample in chosen:
        total += _sample_gradient(loss, V, d, sample.embedding, sample.sign)
    dphi0 = slope_at_reference(loss)
    gradient = (total / len(chosen)).applyfunc(lambda entry: _gradient_entry(entry, dphi0))
    W1 = sp.Matrix(V, d, lambda a, c: R[a, c] + adam_first_update(R[a, c], gradient[a, c], TORCH_BETAS)[0])
    direction = (e12(V).T * (W1 - R)).T
    batch_mean = sum((s.sign * s.embedding for s in chosen), sp.zeros(d, 1)) / len(chosen)
    points = [_Point(sp.Rational(1, len(chosen)), s.behavior, s.sign, s.embedding) for s in chosen]
    expect = _finite_expectation(points, lambda pt: _margin(R, pt.embedding, pt.sign))
    behaviours = sorted({s.behavior for s in samples})
    margins, means = [], []
    for bb in behaviours:
        own = [s for s in samples if s.behavior == bb]
        margins.append(sp.Add(*(_margin(W1, s.embedding, s.sign) for s in own)) / len(own))
        means.append((sum((s.sign * s.embedding for s in own), sp.zeros(d, 1)) / len(own)).applyfunc(_canonical))
    return _HeadStep(gradient, R, direction, batch_mean.applyfunc(_canonical), expect, tuple(margins), tuple(means))


def _head_objects(step: _HeadStep) -> dict[Any, Any]:
    """The bindings every head claim shares: :math:`\\mathcal{G}`, :math:`\\hat m`, :math:`w^{\\rm ref}`, :math:`d`."""
    return {
        G: lambda a, c: step.gradient[int(a) - 1, int(c) - 1],
        hat_m: lambda c: step.batch_mean[int(c) - 1],
        w_ref: lambda a, c: step.reference[int(a) - 1, int(c) - 1],
        Delta1: lambda c: step.direction[int(c) - 1],
        m: lambda bb, c: step.signed_means[int(bb) - 1][int(c) - 1],
        DIMENSION: D_HEAD,
    }


def _head_instances(loss: Loss, layouts: Sequence[str], per: str, what: str) -> Instances:
    """Bindings on the head steps of ``layouts`` (:data:`LAYOUTS`): one per entry (``per = "entry"``),
    per coordinate (``"coordinate"``) or per behaviour (``"behaviour"``)."""

    def build() -> list[dict]:
        out = []
        for layout in layouts:
            step = _head_step(loss, layout)
            shared = _head_objects(step)
            if per == "entry":
                for a in range(V_HEAD):
                    for c in range(D_HEAD):
                        out.append(
                            {
                                **shared,
                                i_: a + 1,
                                j_: c + 1,
                                BatchMean: step.expect,
                                phi_prime: loss_derivative(loss),
                            }
                        )
            elif per == "coordinate":
                out += [{**shared, j_: c + 1} for c in range(D_HEAD)]
            else:
                out += [{**shared, b_: k + 1, h_bar: margin} for k, margin in enumerate(step.margins)]
        return out

    label = (
        f"V = {V_HEAD}, d = {D_HEAD} softmax head, symbolic reference head and embeddings, SymPy gradient of the "
        f"batch's mean loss, AdamW with (beta_1, beta_2) = (9/10, 999/1000); {'; '.join(layouts)}; {what}"
    )
    return Instances(label, build)


#: The head instances of the claims (every layout).
GENERAL = (*MIXED, *ALIGNED)


def _head_gradient(loss: Loss, dphi0: sp.Expr) -> Claim:
    one = indicator
    return chain(
        "head gradient",
        G[i_, j_],
        [
            (
                "=",
                beta * BatchMean(phi_prime(h) * (one(i_, y_w) - one(i_, y_l)) * g[j_]),
                r"dpo-gradient, averaged over the batch",
            ),
            (
                "=",
                beta * dphi0 * (one(i_, 1) - one(i_, 2)) * BatchMean(s_ * g[j_]),
                rf"$h = 0$ at $W_0 = W_{{\mathrm{{ref}}}}$, $\phi'(0) = {sp.latex(dphi0)}$; $s = +1$ iff $y_w = 1$",
            ),
            ("=", beta * dphi0 * (one(i_, 1) - one(i_, 2)) * hat_m[j_], r"$\hat m = \hat{\mathbb{E}}_B[s g]$"),
        ],
        instances=_head_instances(loss, GENERAL, "entry", "every entry (i, j)"),
        prose=r"Only rows $1$ and $2$ have a gradient, and $G_{2j} = -G_{1j}$.",
    )


def _direction(dphi0: sp.Expr) -> sp.Expr:
    r""":math:`\Delta^{(1)}_j`, the first step of the preference direction."""
    x = dphi0 * beta * hat_m[j_]
    return 2 * eta * (-x) / (sp.Abs(x) + eps_A) - eta * decay * (w_ref[1, j_] - w_ref[2, j_])


def _preference_direction(loss: Loss, dphi0: sp.Expr) -> Claim:
    step = [eta * G[k, j_] / (sp.Abs(G[k, j_]) + eps_A) for k in (1, 2)]
    return chain(
        "preference direction",
        Delta1[j_],
        [
            (
                "=",
                -step[0] + step[1] - eta * decay * (w_ref[1, j_] - w_ref[2, j_]),
                (
                    r"claim adam step on rows $1$ and $2$ at $W_0 = W_{\mathrm{ref}}$, "
                    r"$\Delta^{(1)} = ((e_1 - e_2)^\top(W_1 - W_{\mathrm{ref}}))^\top$"
                ),
            ),
            ("=", _direction(dphi0), r"claim head gradient: $G_{1j} = -G_{2j} = \beta\phi'(0)\hat m_j$"),
        ],
        instances=_head_instances(loss, GENERAL, "coordinate", "every coordinate j"),
        prose=r"from $\Delta_0 = 0$; the step does not depend on $|\hat m_j|$ beyond the factor "
        r"$|\phi'(0)\beta\hat m_j|/(|\phi'(0)\beta\hat m_j| + \epsilon_A)$.",
    )


def _decay_term() -> sp.Expr:
    r""":math:`\eta\lambda_{wd}\beta\sum_j(w^{\rm ref}_{1j} - w^{\rm ref}_{2j})m_{b,j}`."""
    return eta * decay * beta * sp.Sum((w_ref[1, j_] - w_ref[2, j_]) * m[b_, j_], (j_, 1, DIMENSION))


_u, _v = vector("u", D_HEAD, positive=True), vector("v", D_HEAD, positive=True)
#: :math:`(\hat m, m_b)` of known signs (:math:`u, v > 0`): agreeing and disagreeing signs, a zero coordinate.
PATTERNS = (
    (sp.Matrix([_u[0], -_u[1]]), sp.Matrix([_v[0], _v[1]])),
    (sp.Matrix([_u[0], 0]), sp.Matrix([-_v[0], _v[1]])),
)


def _sign_patterns(dphi0: sp.Expr, margin: Claim | None = None, direction: Claim | None = None) -> Instances:
    r"""The signed means :data:`PATTERNS`, :math:`\hat m` divided by :math:`|\phi'(0)|` when it is not
    zero (so that :math:`\phi'(0)\beta\hat m_j = \pm\beta u_j`), :math:`d = 2`, symbolic
    :math:`w^{\rm ref}`; with ``margin`` (``direction``), also :math:`\bar h_b(1)`
    (:math:`\Delta^{(1)}_j`) as that claim states it: the claim applied as a lemma."""
    R = head("R", 2, D_HEAD)
    scale = sp.Abs(dphi0) if dphi0 != 0 else sp.Integer(1)

    def build() -> list[dict]:
        out = []
        for batch, own in PATTERNS:
            binding = {
                hat_m: lambda c, batch=batch: batch[int(c) - 1] / scale,
                m: lambda bb, c, own=own: own[int(c) - 1],
                w_ref: lambda a, c: R[int(a) - 1, int(c) - 1],
                b_: 1,
                DIMENSION: D_HEAD,
            }
            if margin is not None:
                binding[h_bar] = realise(margin.rhs, binding)
            if direction is not None:
                binding[Delta1] = lambda c, binding=dict(binding): realise(direction.rhs, {**binding, j_: c})
            out.append(binding)
        return out

    lemmas = [
        f"{name} as claim {claim.label} states it"
        for name, claim in (("h_b(1)", margin), ("Delta^(1)", direction))
        if claim
    ]
    return Instances(
        "d = 2, (|phi'(0)| hat m, m_b) = ((u_1, -u_2), (v_1, v_2)) and ((u_1, 0), (-v_1, v_2)), u, v > 0 symbolic"
        + "".join(f"; {lemma}" for lemma in lemmas),
        build,
    )


def _margin_claim(loss: Loss, dphi0: sp.Expr, direction: Claim) -> Claim:
    x = dphi0 * beta * hat_m[j_]
    return chain(
        "margin",
        h_bar,
        [
            (
                "=",
                beta * sp.Sum(Delta1[j_] * m[b_, j_], (j_, 1, DIMENSION)),
                r"$h = \beta s\langle\Delta^{(1)}, g\rangle$ after the step, averaged over behaviour $b$'s samples",
            ),
            (
                "=",
                2 * eta * beta * sp.Sum(-x * m[b_, j_] / (sp.Abs(x) + eps_A), (j_, 1, DIMENSION)) - _decay_term(),
                "claim preference direction",
                _sign_patterns(dphi0, direction=direction),
            ),
        ],
        instances=_head_instances(loss, GENERAL, "behaviour", "every behaviour b"),
        prose=r"Gradient descent from the same start gives $-2\eta\beta^2\phi'(0)\sum_j\hat m_j m_{b,j}$ "
        r"(update-rate): quadratic in the signed means, where Adam's step is of first order in $m_b$.",
    )


def _total(term: sp.Expr, sign: int = -1) -> sp.Expr:
    r""":math:`-\operatorname{sign}\cdot 2\eta\beta\sum_{j=1}^d` ``term`` (``sign``: that of :math:`\phi'(0)`)."""
    return -sign * 2 * eta * beta * sp.Sum(term, (j_, 1, DIMENSION))


def _sign_form(dphi0: sp.Expr, sign_dphi0: int, margin: Claim) -> Claim:
    x = dphi0 * beta * hat_m[j_]
    sign = -sign_dphi0 * sp.sign(hat_m[j_])  # sign(-phi'(0) hat m_j), phi'(0)'s sign certified
    ratio = 1 - sp.Abs(x) / (sp.Abs(x) + eps_A)
    patterns = _sign_patterns(dphi0)
    return chain(
        "sign form",
        sp.Abs(h_bar + _decay_term() - _total(sign * m[b_, j_])),
        [
            (
                "=",
                sp.Abs(
                    _total(-x * m[b_, j_] / (sp.Abs(x) + eps_A)) - _total(sign * m[b_, j_]),
                ),
                "claim margin",
                _sign_patterns(dphi0, margin=margin),
            ),
            (
                "=",
                2 * eta * beta * sp.Abs(sp.Sum(eps_A * sign * m[b_, j_] / (sp.Abs(x) + eps_A), (j_, 1, DIMENSION))),
                (
                    r"$\frac{y}{|y| + \epsilon_A} - \operatorname{sign}(y) = "
                    r"-\frac{\epsilon_A\operatorname{sign}(y)}{|y| + \epsilon_A}$ at $y = -\phi'(0)\beta\hat m_j$, "
                    r"$\operatorname{sign}(y) = -\operatorname{sign}(\phi'(0))\operatorname{sign}(\hat m_j)$"
                ),
                patterns,
            ),
            (
                "<=",
                _total(sp.Abs(m[b_, j_]) * ratio),
                (
                    r"triangle inequality, $|\operatorname{sign}(y)| \le 1$ and $\frac{\epsilon_A}{|y| + \epsilon_A} "
                    r"= 1 - \frac{|y|}{|y| + \epsilon_A}$"
                ),
                patterns,
            ),
            ("=", _total(eps_A * sp.Abs(m[b_, j_]) / (sp.Abs(x) + eps_A)), "algebra", patterns),
        ],
        prose=r"The mean margin of every behaviour moves by $2\eta\beta\sum_j\operatorname{sign}(-\phi'(0)\hat m_j)"
        r"\,m_{b,j}$ (besides the decay term) up to this $O(\epsilon_A)$ correction: an $\ell_1$-type quantity of "
        r"$m_b$ weighted by the signs of the batch mean.",
    )


def _aligned(loss: Loss, dphi0: sp.Expr, sign: int) -> Claim:
    x = dphi0 * beta * hat_m[j_]
    direction = "raises" if sign < 0 else "lowers"
    return chain(
        "aligned l1",
        h_bar + _decay_term(),
        [
            (
                "=",
                _total(sp.Abs(x) * sp.Abs(m[b_, j_]) / (sp.Abs(x) + eps_A), sign),
                rf"claim margin; $\hat m_j m_{{b,j}} \ge 0$ (A4) and $\phi'(0) {'<' if sign < 0 else '>'} 0$ give "
                r"$-\phi'(0)\beta\hat m_j m_{b,j} = "
                + ("" if sign < 0 else "-")
                + r"|\phi'(0)\beta\hat m_j|\,|m_{b,j}|$",
            ),
            (
                "=",
                _total(sp.Abs(m[b_, j_]), sign) - _total(eps_A * sp.Abs(m[b_, j_]) / (sp.Abs(x) + eps_A), sign),
                r"$\frac{|y|}{|y| + \epsilon_A} = 1 - \frac{\epsilon_A}{|y| + \epsilon_A}$",
                _sign_patterns(dphi0),
            ),
        ],
        instances=_head_instances(loss, ALIGNED, "behaviour", "one behaviour trained on its full batch, hat m = m_1"),
        prose=rf"So the first step {direction} the aligned behaviour's mean margin (beyond the decay term) by "
        r"$2\eta\beta\|m_b\|_1$, $\|m_b\|_1 = \sum_j|m_{b,j}|$, less an $O(\epsilon_A)$ correction: by at most "
        r"$2\eta\beta\|m_b\|_1$ whatever the scale of $m_b$.",
    )


# --------------------------------------------------------------------------- theorem


def build(loss: Loss) -> Theorem:
    dphi0 = slope_at_reference(loss)
    sign = int(loss.dphi_at_zero_sign)
    direction = _preference_direction(loss, dphi0)
    margin = _margin_claim(loss, dphi0, direction)
    claims = [_adam_step(), _sign_bound(), _head_gradient(loss, dphi0), direction, margin]
    notes = []
    if sign != 0:
        claims += [_sign_form(dphi0, sign, margin), _aligned(loss, dphi0, sign)]
    else:
        notes.append(
            r"$\phi'(0) = 0$ for this loss: the batch gradient at $W_{\mathrm{ref}}$ vanishes, so Adam's first step is "
            r"zero (AdamW's: the decay term alone), as claims preference direction and margin print; the sign form "
            r"and the aligned $\ell_1$ claim are omitted."
        )
    notation = {
        **meanings(eta, beta, h),
        **loss_parameters(loss),
        dW1: r"is the first update $W_1 - W_0$ of one parameter entry by AdamW (Adam when $\lambda_{wd} = 0$)",
        W0: r"is that entry before the step",
        G_entry: r"is the same entry of the gradient of the step's batch loss at $W_0$",
        (moment_1, moment_2): r"are Adam's first- and second-moment estimates after the first step (from zero)",
        (beta_1, beta_2): r"are Adam's moment decay rates, $0 \le \beta_1, \beta_2 < 1$",
        eps_A: r"is Adam's denominator constant $\epsilon_A > 0$ (``eps``)",
        decay: r"is AdamW's decoupled weight decay ($0$ for Adam)",
        G[i_, j_]: r"is entry $(i, j)$ of the gradient of the batch's mean loss at $W_0 = W_{\mathrm{ref}}$",
        (i_, j_): r"index the rows (answers) and columns of $W$",
        BatchMean(Atom("X")): r"is the mean over the pairs of the step's batch $B$",
        phi_prime(h): MEANINGS[phi_prime(h)],
        (y_w, y_l): r"are the preferred and the rejected answer",
        g[j_]: r"is coordinate $j$ of the embedding $g$",
        s_: r"is $+1$ if the preferred answer is response $1$ and $-1$ otherwise",
        hat_m[j_]: r"is coordinate $j$ of the batch's signed mean $\hat m = \hat{\mathbb{E}}_B[s g]$",
        w_ref[i_, j_]: r"is entry $(i, j)$ of the reference head $W_{\mathrm{ref}}$ (rows $1, 2$: the two answers)",
        Delta1[j_]: r"is coordinate $j$ of the preference direction $(e_1 - e_2)^\top(W_1 - W_{\mathrm{ref}})$ after "
        r"the first step",
        h_bar: r"is the mean margin of behaviour $b$'s training samples after the first step",
        m[b_, j_]: r"is coordinate $j$ of behaviour $b$'s signed mean, the mean of $s g$ over its training samples",
        b_: MEANINGS[b_],
        DIMENSION: DIMENSION_MEANING,
    }
    return Theorem(
        id="adam-first-step",
        title="Adam's first step is sign-like, and its margin growth is l1",
        assumptions=[
            Assumption(
                "optimizer",
                r"one step of \texttt{torch.optim.Adam} or \texttt{AdamW} from zero moments ($t = 1$) with bias "
                r"corrections $1 - \beta_1^t$, $1 - \beta_2^t$, learning rate $\eta$, $\epsilon_A > 0$, "
                r"$0 \le \beta_1, \beta_2 < 1$; Adam without its coupled L2 term (zero weight decay); AdamW "
                r"first multiplies the trained entries by $1 - \eta\lambda_{wd}$.",
            ),
            Assumption(
                "head",
                r"$\pi_W(y \mid x) = \operatorname{softmax}(W g)_y$ on a frozen embedding $g$, the responses are "
                r"answers $1$ and $2$, and $W_0 = W_{\mathrm{ref}}$ (so $h = 0$ on every pair and $\Delta_0 = 0$); the "
                r"decay acts on the answer rows (the other rows do not enter any margin).",
            ),
            Assumption(
                "batch",
                r"the step's gradient is that of the mean of $\phi(h)$ over a batch $B$ of training pairs (the full "
                r"training set or a minibatch); $m_b$ and $\bar h_b(1)$ average over behaviour $b$'s training pairs.",
            ),
            Assumption(
                "aligned",
                r"(claim aligned l1) $\hat m_j m_{b,j} \ge 0$ for every $j$, e.g. one behaviour trained on its full "
                r"batch ($\hat m = m_1$).",
            ),
        ],
        claims=claims,
        summary=rf"Let $\phi'(0) = {sp.latex(dphi0)}$ (loss {loss.name}).",
        loss_name=loss.name,
        notes=notes,
        notation=notation,
        provenance=(
            r"Adam's update is Kingma \& Ba's (2015) and the decoupled weight decay Loshchilov \& Hutter's (2019); "
            r"that Adam's bias-corrected first step is $-\eta\mathcal{G}/(|\mathcal{G}| + \epsilon)$, sign descent up to "
            r"$O(\epsilon/|\mathcal{G}|)$, is known (the sign-descent view of Adam: Balles \& Hennig 2018; signSGD: Bernstein "
            r"et al. 2018). The setting is Im \& Li's (2024), who fine-tune with AdamW. The specialisation to the "
            r"preference head, the first step of the preference direction, the per-behaviour margin growth with its "
            r"exact $\epsilon_A$ correction and its $\ell_1$ form are prefdyn's."
        ),
    )
