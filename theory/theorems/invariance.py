r"""``invariance``: the reparametrisations of :math:`(\eta, \beta, c)` that leave SGD's margins unchanged.

Train the head :math:`W` from :math:`W_{\rm ref}` by SGD on embeddings :math:`g = c\,\hat g` (``c``
scales the data's embeddings :math:`\hat g`). A step on a batch of :math:`m` samples (numbered
:math:`1..m`) moves the margin :math:`h_l = \beta s_l (e_1 - e_2)^\top(W - W_{\rm ref})g_l` of any
sample :math:`l`, in the batch or not, by (claim ``recursion``, any differentiable :math:`\phi`)

.. math:: h_l^{+} = h_l - \frac{2\eta\beta^2c^2}{m}\sum_{j=1}^{m}\phi'(h_j)\,s_l s_j\,\hat G_{lj},
   \qquad \hat G_{lj} = \langle\hat g_l, \hat g_j\rangle :

the margins evolve by a map of the margins themselves, whatever the batch schedule, and
:math:`W_{\rm ref}` does not enter it. Scale :math:`(\eta, \beta, c)` by
:math:`(\lambda_\eta, \lambda_\beta, \lambda_c)` and start from the same margins (the head's
displacement divided by :math:`\lambda_\beta\lambda_c`). When :math:`\beta` enters :math:`\phi'`
as a power, :math:`\phi'(h; \lambda\beta) = \lambda^k\phi'(h; \beta)` (:math:`k` derived by SymPy
from :math:`\phi`: 0 for a loss free of :math:`\beta`, :math:`-2` for IPO), every increment is
multiplied by :math:`\chi = \lambda_\eta\lambda_\beta^{2+k}\lambda_c^2` (claim ``scaled step``). The
update map is therefore unchanged exactly when :math:`\chi = 1`, solved by SymPy for
:math:`\lambda_\eta` (claim ``group``): the two-parameter group

.. math:: (\eta, \beta, c) \mapsto (\lambda_\beta^{-2-k}\lambda_c^{-2}\,\eta,\ \lambda_\beta\beta,\ \lambda_c c),

whose invariant is :math:`\mathcal{I} = \eta\beta^{2+k}c^2` (claim ``invariant``): :math:`\eta\beta^2c^2`
for a loss free of :math:`\beta`, :math:`\eta c^2` for IPO (:math:`\beta` then drops out of the
margin dynamics). A loss whose :math:`\beta`-dependence is not a power keeps
:math:`\lambda_\beta = 1`. From the reference (claim ``first step``) the margins after one step are
:math:`-\tfrac{2}{m}\,\eta\beta^2c^2\phi'(0)\sum_j s_l s_j\hat G_{lj}`, linear in :math:`\mathcal{I}`; so when
:math:`\phi'(0) \ne 0` a change of :math:`\mathcal{I}` changes the first step of every sample with
:math:`\sum_j s_l s_j\hat G_{lj} \ne 0`, and when :math:`\phi'(0) = 0` the reference is a fixed point
whose margins stay 0 under every :math:`(\eta, \beta, c)`.

The statement concerns SGD. Adam's step is invariant to the scale of the gradient (up to its
:math:`\epsilon`), so its group differs; AdamW's decay pulls :math:`W` toward 0, i.e. toward
:math:`-W_{\rm ref}` in the displacement, and so depends on :math:`W_{\rm ref}`. The margins, the
reward accuracy and (for a loss free of :math:`\beta`) the loss are functions of the margins and
inherit the invariance; the policy accuracy compares :math:`s_l(e_1 - e_2)^\top W g_l =
s_l w^\top g_l + h_l/\beta` (:math:`w = (e_1 - e_2)^\top W_{\rm ref}`) with 0 and is unchanged when
also :math:`W_{\rm ref} \mapsto W_{\rm ref}/(\lambda_\beta\lambda_c)` (claim ``policy gap``: the gap
is divided by :math:`\lambda_\beta > 0`), in particular when :math:`W_{\rm ref} = 0`.

Every display is checked as printed. The recursion and the policy gap on a :math:`3\times 2`
softmax head with symbolic :math:`W, W_{\rm ref}` and embeddings (SymPy gradients of the mean
batch loss of a generic :math:`\phi`, a batch of two samples and a third outside it); the scaled
step on the same head with rational :math:`W, W_{\rm ref}` and embeddings, symbolic
:math:`\eta, \beta, c` and scale factors, and the loss's own :math:`\phi` at the scaled
:math:`\beta`; its homogeneity and the group on symbolic margins and Gram entries; the first step
at :math:`W = W_{\rm ref}`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp

from ..framework import Assumption, Claim, Instances, Theorem, chain, matrix_family
from ..losses import Loss
from ..model import vector
from ..printing import tex
from ..symbols import beta, eta, h, meanings
from ._head import answer_rows, head, log_ratio_difference
from ._notation import MEANINGS, generic_derivative, loss_parameters, phi_generic, phi_prime

#: The concrete heads: V answers, dimension d, the signs of samples 1, 2, 3 (the batch is 1..M_BATCH).
V_HEAD, D_HEAD, SIGNS, M_BATCH = 3, 2, (1, -1, 1), 2

#: Rational (U = W - W_ref, W_ref, unscaled embeddings of samples 1, 2, 3) of the loss's instances, on which its
#: margins beta c (...) take both signs and, for beta c = 1, both sides of the hinge's kink.
RATIONAL_DATA = (
    sp.Matrix([[sp.Rational(1, 2), -1], [-sp.Rational(1, 4), sp.Rational(3, 2)], [1, sp.Rational(1, 3)]]),
    sp.Matrix([[1, -sp.Rational(1, 2)], [sp.Rational(2, 3), 1], [-1, sp.Rational(1, 4)]]),
    (sp.Matrix([1, 2]), sp.Matrix([-sp.Rational(3, 2), sp.Rational(1, 2)]), sp.Matrix([sp.Rational(1, 2), -1])),
)

#: The samples l whose margin the loss's head instances follow: one in the batch, one outside it.
RATIONAL_SAMPLES = (1, 3)

c = sp.Symbol("c", positive=True)
lam_eta, lam_beta, lam_c = sp.symbols("lambda_eta lambda_beta lambda_c", positive=True)
m = sp.Symbol("m", positive=True, integer=True)
a = sp.Symbol("l", positive=True, integer=True)
j = sp.Symbol("j", positive=True, integer=True)
h_ = sp.IndexedBase("h")
s_ = sp.IndexedBase("s")
G_hat = sp.IndexedBase(r"\hat{G}")
h_next = sp.IndexedBase("h^{+}")
h_scaled = sp.IndexedBase(r"h^{\lambda}")
h_first = sp.IndexedBase("h^{(1)}")
gap_ref = sp.IndexedBase(r"\Gamma")
gap_scaled = sp.IndexedBase(r"\Gamma^{\lambda}")
v_ = sp.IndexedBase("v")
I_ = sp.Function(r"\mathcal{I}")

SCALES = (lam_eta, lam_beta, lam_c)
PARAMETERS = (eta, beta, c)


def beta_exponent(loss: Loss) -> sp.Expr | None:
    r"""The exponent :math:`k` with :math:`\phi'(h; \lambda\beta) = \lambda^k\phi'(h; \beta)` for all
    :math:`h` and :math:`\lambda > 0` (parameters bound), derived from
    :math:`\beta\,\partial_\beta\phi' = k\,\phi'`: 0 when :math:`\phi'` is free of :math:`\beta`,
    ``None`` when the ratio is not a constant (no power law)."""
    dphi = loss.bind(loss.dphi)
    if beta not in dphi.free_symbols:
        return sp.Integer(0)
    ratio = sp.simplify(beta * sp.diff(dphi, beta) / dphi)
    return ratio if ratio.is_number and ratio.is_real else None


def scale_factor(loss: Loss) -> sp.Expr:
    r""":math:`\chi`: the factor on every margin increment when :math:`(\eta, \beta, c)` is scaled by
    :math:`(\lambda_\eta, \lambda_\beta, \lambda_c)` (:math:`\lambda_\beta = 1` when :math:`\beta`
    does not enter :math:`\phi'` as a power): :math:`\lambda_\eta\lambda_\beta^2\lambda_c^2` from
    :math:`\eta\beta^2c^2`, times :math:`\lambda_\beta^k` from :math:`\phi'`."""
    k = beta_exponent(loss)
    if k is None:
        return lam_eta * lam_c**2
    return lam_eta * lam_beta ** (2 + k) * lam_c**2


def solved_learning_rate_scale(loss: Loss) -> sp.Expr:
    r""":math:`\lambda_\eta` solving :math:`\chi = 1` (SymPy's ``solve``)."""
    (solution,) = sp.solve(sp.Eq(scale_factor(loss), 1), lam_eta)
    return solution


def invariant(loss: Loss) -> sp.Expr:
    r"""The invariant :math:`\mathcal{I}(\eta, \beta, c)`: :math:`\chi` with each factor
    :math:`\lambda_x` replaced by its parameter :math:`x`, so that
    :math:`\mathcal{I}(\lambda_\eta\eta, \lambda_\beta\beta, \lambda_c c) = \chi\,\mathcal{I}(\eta, \beta, c)`."""
    return scale_factor(loss).xreplace(dict(zip(SCALES, PARAMETERS)))


def _margin_map(dphi_at: Callable[[sp.Expr], sp.Expr], rate: sp.Expr) -> sp.Expr:
    r""":math:`h_l - \frac{2\,\text{rate}}{m}\sum_{j=1}^m \phi'(h_j)\,s_l s_j\hat G_{lj}`."""
    return h_[a] - 2 * rate / m * sp.Sum(dphi_at(h_[j]) * s_[a] * s_[j] * G_hat[a, j], (j, 1, m))


def _loss_derivative_at(loss: Loss, beta_value: sp.Expr) -> Callable[[sp.Expr], sp.Expr]:
    r""":math:`x \mapsto \phi'(x)` of ``loss`` at temperature ``beta_value`` (parameters bound)."""
    dphi = loss.bind(loss.dphi).xreplace({beta: beta_value})
    return lambda x: dphi.xreplace({h: x})


def _loss_at(loss: Loss, beta_value: sp.Expr) -> Callable[[sp.Expr], sp.Expr]:
    r""":math:`x \mapsto \phi(x)` of ``loss`` at temperature ``beta_value`` (parameters bound)."""
    phi = loss.bind(loss.phi).xreplace({beta: beta_value})
    return lambda x: phi.xreplace({h: x})


def sgd_margins(
    phi: Callable[[sp.Expr], sp.Expr],
    temperature: sp.Expr,
    rate: sp.Expr,
    displacement: sp.Matrix,
    reference: sp.Matrix,
    embeddings: Sequence[sp.Matrix],
) -> tuple[list[sp.Expr], list[sp.Expr]]:
    r"""The margins of every sample before and after one SGD step on the mean loss of samples
    :math:`1..M` (``M_BATCH``) of the softmax head :math:`W = W_{\rm ref} + U`:
    :math:`W^{+} = W - \text{rate}\,\nabla_W \frac1M\sum_{j\le M}\phi(\beta\rho_j(W))`, the gradient
    by SymPy differentiation through :func:`~._head.log_ratio_difference` (with respect to the
    displacement :math:`X = W - W_{\rm ref}`, which has the same gradient). The margins before the step
    are expanded polynomials, so that the same margin reached by another parametrisation is the same
    expression."""
    X = head("X", *displacement.shape)

    def margin(U: sp.Matrix, k: int) -> sp.Expr:
        rows = answer_rows(SIGNS[k])
        return temperature * log_ratio_difference(reference + U, reference, embeddings[k], *rows)

    mean_loss = sum(phi(sp.expand(margin(X, k))) for k in range(M_BATCH)) / M_BATCH
    at = dict(zip(X, displacement))
    gradient = X.applyfunc(lambda x: sp.diff(mean_loss, x).xreplace(at))
    after = displacement - rate * gradient
    before = [sp.expand(margin(displacement, k)) for k in range(len(SIGNS))]
    return before, [margin(after, k) for k in range(len(SIGNS))]


def _head_bindings(
    step: Callable[[sp.Matrix, sp.Matrix, list[sp.Matrix]], dict],
    label: str,
    generic: Sequence = (),
    data: str = "symbolic",
) -> Instances:
    r"""Samples :math:`l` of a :math:`3\times 2` head (all three; :data:`RATIONAL_SAMPLES` on rational
    data), samples 1 and 2 forming the batch; ``step(U, R, ghat)`` adds the
    claim's own objects for the displacement :math:`U = W - W_{\rm ref}`, the reference
    :math:`R = W_{\rm ref}` and the unscaled embeddings :math:`\hat g_1, \hat g_2, \hat g_3`: symbolic
    (``data="symbolic"``), rational (``"rational"``, :data:`RATIONAL_DATA`), or rational with
    :math:`U = 0` (``"reference"``)."""

    def build() -> list[dict]:
        if data == "symbolic":
            U, R = head("U", V_HEAD, D_HEAD), head("R", V_HEAD, D_HEAD)
            ghat = [vector(f"x{k + 1}", D_HEAD) for k in range(len(SIGNS))]
        else:
            U, R, ghat = RATIONAL_DATA
            U = sp.zeros(V_HEAD, D_HEAD) if data == "reference" else U
        own = step(U, R, list(ghat))
        common = {
            m: M_BATCH,
            s_: lambda k: SIGNS[int(k) - 1],
            G_hat: lambda k, l: (ghat[int(k) - 1].T * ghat[int(l) - 1])[0, 0],
        }
        samples = range(1, len(SIGNS) + 1) if data == "symbolic" else RATIONAL_SAMPLES
        return [{**common, **own, a: index} for index in samples]

    return Instances(label, build, generic=generic)


def _margin_instances() -> Instances:
    r"""Symbolic margins :math:`h_1, h_2, h_3` and Gram entries :math:`\hat G_{lj}`, batch
    :math:`\{1, 2\}`, every sample :math:`l`: an identity between margin maps for all margins."""
    margins = vector("h", len(SIGNS))
    gram = sp.Matrix(len(SIGNS), len(SIGNS), lambda k, l: sp.Symbol(f"G_{min(k, l) + 1}{max(k, l) + 1}", real=True))
    common = {m: M_BATCH, s_: lambda k: SIGNS[int(k) - 1], h_: _indexed(list(margins)), G_hat: matrix_family(gram)}
    return Instances(
        "symbolic margins and Gram matrix; batch {1, 2}, samples l = 1, 2, 3",
        lambda: [{**common, a: index} for index in range(1, len(SIGNS) + 1)],
    )


def _indexed(values: Sequence[sp.Expr]) -> Callable[[sp.Expr], sp.Expr]:
    return lambda k: values[int(k) - 1]


def _recursion_instances() -> Instances:
    def step(U: sp.Matrix, R: sp.Matrix, ghat: list[sp.Matrix]) -> dict:
        now, after = sgd_margins(phi_generic, beta, eta, U, R, [c * g for g in ghat])
        return {h_: _indexed(now), h_next: _indexed(after), phi_prime: generic_derivative}

    return _head_bindings(
        step, "V, d = 3, 2; batch {1, 2}, samples l = 1, 2, 3; symbolic W, W_ref; generic phi", (phi_generic,)
    )


def _scaled_instances(loss: Loss) -> Instances:
    r"""The system :math:`(\lambda_\eta\eta, \lambda_\beta\beta, \lambda_c c)` started from the same
    margins: displacement :math:`U/(\lambda_\beta\lambda_c)`, embeddings :math:`\lambda_c c\,\hat g`,
    the loss at :math:`\lambda_\beta\beta` (:math:`\lambda_\beta = 1` when :math:`\beta` does not enter
    :math:`\phi'` as a power); :math:`h^\lambda_l` is bound to its margins after the step."""
    fixed_beta = beta_exponent(loss) is None

    def step(U: sp.Matrix, R: sp.Matrix, ghat: list[sp.Matrix]) -> dict:
        scale_beta = sp.Integer(1) if fixed_beta else lam_beta
        now, _ = sgd_margins(_loss_at(loss, beta), beta, eta, U, R, [c * g for g in ghat])
        _, after = sgd_margins(
            _loss_at(loss, scale_beta * beta),
            scale_beta * beta,
            lam_eta * eta,
            U / (scale_beta * lam_c),
            R,
            [lam_c * c * g for g in ghat],
        )
        bound = {h_: _indexed(now), h_scaled: _indexed(after)}
        return {**bound, lam_beta: 1} if fixed_beta else bound

    label = (
        "V, d = 3, 2; batch {1, 2}, samples l = 1, 3; rational W - W_ref, W_ref, embeddings; symbolic eta, beta, c, "
        "scale factors; the loss at the scaled beta"
    )
    return _head_bindings(step, label, data="rational")


def _first_step_instances(loss: Loss) -> Instances:
    def step(U: sp.Matrix, R: sp.Matrix, ghat: list[sp.Matrix]) -> dict:
        _, after = sgd_margins(_loss_at(loss, beta), beta, eta, U, R, [c * g for g in ghat])
        return {h_first: _indexed(after)}

    return _head_bindings(step, "V, d = 3, 2; W = W_ref rational; batch {1, 2}, samples l = 1, 2, 3", data="reference")


def _policy_instances() -> Instances:
    r"""The policy's logit gap :math:`s_l(z_1 - z_2)`, :math:`z = Wg_l`, of the original head and of
    the transformed one (:math:`W_{\rm ref}` and the displacement :math:`U` divided by
    :math:`\lambda_\beta\lambda_c`, embeddings :math:`\lambda_c c\,\hat g`), from the logits of a
    :math:`3\times 2` head with symbolic :math:`W_{\rm ref}`, :math:`U` and embeddings."""

    def build() -> list[dict]:
        U, R = head("U", V_HEAD, D_HEAD), head("R", V_HEAD, D_HEAD)
        shrink = 1 / (lam_beta * lam_c)
        out = []
        for index, sign in enumerate(SIGNS, start=1):
            ghat = vector(f"x{index}", D_HEAD)

            def gap(W: sp.Matrix, g: sp.Matrix, sign: int = sign) -> sp.Expr:
                logits = W * g
                return sign * (logits[0] - logits[1])

            values = {
                s_: sign,
                h_: beta * log_ratio_difference(R + U, R, c * ghat, *answer_rows(sign)),
                v_: ((R[0, :] - R[1, :]) * ghat)[0, 0],
                gap_ref: gap(R + U, c * ghat),
                gap_scaled: gap(shrink * R + shrink * U, lam_c * c * ghat),
            }
            out.append({a: index, **{base: (lambda k, v=v: v) for base, v in values.items()}})
        return out

    return Instances("V, d = 3, 2; symbolic W, W_ref, embeddings; samples with s = +1, -1, +1", build)


def _policy_claim() -> Claim:
    return chain(
        "policy gap",
        gap_scaled[a],
        [
            ("=", gap_ref[a] / lam_beta, r"the logits of both heads, $\lambda_c c\hat g_l$ against $c\hat g_l$"),
            (
                "=",
                (s_[a] * c * v_[a] + h_[a] / beta) / lam_beta,
                (
                    r"$z_1 - z_2 = (e_1 - e_2)^\top W_{\mathrm{ref}}\,g_l + (e_1 - e_2)^\top(W - W_{\mathrm{ref}})\,g_l$, "
                    r"$h_l = \beta s_l(e_1 - e_2)^\top(W - W_{\mathrm{ref}})g_l$, $s_l^2 = 1$"
                ),
            ),
        ],
        instances=_policy_instances(),
        prose=r"the policy accuracy $[\Gamma_l > 0]$ is unchanged by the group when $W_{\mathrm{ref}}$ is divided by "
        r"$\lambda_\beta\lambda_c$ (in particular when $W_{\mathrm{ref}} = 0$).",
    )


def _group_text(loss: Loss) -> str:
    r"""The group as LaTeX, :math:`(\eta, \beta, c) \mapsto (\lambda_\eta^\star\eta, \lambda_\beta\beta, \lambda_c c)`,
    from the solved :math:`\lambda_\eta^\star`."""
    scaled_beta = beta if beta_exponent(loss) is None else lam_beta * beta
    image = ", ".join(tex(x) for x in (solved_learning_rate_scale(loss) * eta, scaled_beta, lam_c * c))
    return rf"$(\eta, \beta, c) \mapsto ({image})$"


def _notes(loss: Loss) -> list[str]:
    k = beta_exponent(loss)
    group = _group_text(loss)
    notes = [
        (
            rf"Here $\phi'(h; \lambda\beta) = \lambda^{{{tex(k)}}}\phi'(h; \beta)$, so the margin dynamics under SGD "
            rf"depend on $(\eta, \beta, c)$ only through $\mathcal{{I}} = {tex(invariant(loss))}$ and are unchanged by the group "
            rf"{group}, $\lambda_\beta, \lambda_c > 0$."
            if k is not None
            else rf"Here $\beta$ does not enter $\phi'$ as a power, so $\beta$ is kept ($\lambda_\beta = 1$): the margin "
            rf"dynamics under SGD at a fixed $\beta$ depend on $(\eta, c)$ only through $\mathcal{{I}} = {tex(invariant(loss))}$ and "
            rf"are unchanged by {group}, $\lambda_c > 0$; nothing is claimed about scaling $\beta$."
        ),
        (
            r"Converse: $\phi'(0) \neq 0$, so by claim first step a change of $\mathcal{I}$ changes the first step's margin of "
            r"every sample with $\sum_j s_l s_j\hat G_{lj} \neq 0$; so when some sample of the first batch has "
            r"$\sum_j s_l s_j\hat G_{lj} \neq 0$, the group is exactly the set, among the scalings of claim scaled step, "
            r"that keeps the margins from the reference."
            if loss.dphi_at_zero_sign != 0
            else r"Converse: $\phi'(0) = 0$, so by claim first step the reference is a fixed point: the margins stay 0 "
            r"under every $(\eta, \beta, c)$, and the trajectory from the reference does not single out the group "
            r"(the update map still does, claim scaled step)."
        ),
        (
            r"SGD only: Adam divides the gradient by its running root mean square (invariant to the gradient's scale up "
            r"to its $\epsilon$), so its group differs and is not derived here; AdamW's decay also pulls $W$ toward 0, "
            r"i.e. toward $-W_{\mathrm{ref}}$ in the displacement, so it depends on $W_{\mathrm{ref}}$."
        ),
        (
            r"$W_{\mathrm{ref}}$ does not enter the margins under SGD (claim recursion). It enters the policy accuracy "
            r"(claim policy gap: invariant when $W_{\mathrm{ref}}$ is divided by $\lambda_\beta\lambda_c$, e.g. "
            r"$W_{\mathrm{ref}} = 0$) and the log-probability changes of the two answers, which this theorem does not "
            r"cover."
        ),
    ]
    if beta in loss.phi.free_symbols:
        notes.append(
            r"The loss value $\phi(h; \beta)$ depends on $\beta$ besides the margin: equal margins give equal loss "
            r"values only when $\lambda_\beta = 1$."
        )
    return notes


def build(loss: Loss) -> Theorem:
    """The theorem for ``loss``: the generic recursion, then the loss's scaled step, group,
    invariant, first step, and the policy gap."""
    k = beta_exponent(loss)
    chi = scale_factor(loss)
    lam_eta_star = solved_learning_rate_scale(loss)
    I_value = invariant(loss)
    dphi = _loss_derivative_at(loss, beta)
    scaled_beta = beta if k is None else lam_beta * beta
    recursion = chain(
        "recursion",
        h_next[a],
        [
            (
                "=",
                _margin_map(phi_prime, eta * beta**2 * c**2),
                (
                    r"$W^{+} = W - \eta\nabla_W\frac1m\sum_{j\le m}\phi(h_j)$ with $\nabla_W\phi(h_j) = \phi'(h_j)\beta"
                    r"(e_{y_w} - e_{y_l})g_j^\top$ (dpo-gradient); $h_l = \beta s_l(e_1 - e_2)^\top(W - W_{\mathrm{ref}})"
                    r"g_l$, $(e_1 - e_2)^\top(e_{y_w} - e_{y_l}) = 2s_j$, $g = c\hat g$"
                ),
            )
        ],
        instances=_recursion_instances(),
        prose=r"for every sample $l$, in the batch or not, and any differentiable $\phi$: the margins move by a map of "
        r"the margins, which $W_{\mathrm{ref}}$ does not enter.",
    )
    scaled_step = chain(
        "scaled step",
        h_scaled[a],
        [
            (
                "=",
                _margin_map(_loss_derivative_at(loss, scaled_beta), lam_eta * eta * scaled_beta**2 * (lam_c * c) ** 2),
                (
                    rf"claim recursion for $({tex(lam_eta * eta)}, {tex(scaled_beta)}, {tex(lam_c * c)})$ from the same "
                    rf"margins $h_j$ (the displacement $W - W_{{\mathrm{{ref}}}}$ divided by ${tex(scaled_beta / beta * lam_c)}$)"
                ),
            ),
            (
                "=",
                _margin_map(dphi, chi * eta * beta**2 * c**2),
                (
                    rf"$\phi'(h; \lambda\beta) = \lambda^{{{tex(k)}}}\phi'(h; \beta)$ for all $h$, $\lambda > 0$"
                    if k is not None
                    else r"$\beta$ kept: it does not enter $\phi'$ as a power"
                ),
                _margin_instances(),
            ),
        ],
        instances=_scaled_instances(loss),
        prose=rf"every increment is multiplied by $\chi = {tex(chi)}$: the update map of the margins is unchanged iff "
        r"$\chi = 1$ ($\phi'$ is not identically 0).",
    )
    group = chain(
        "group",
        sp.Subs(_margin_map(dphi, chi * eta * beta**2 * c**2), lam_eta, lam_eta_star),
        [("=", _margin_map(dphi, eta * beta**2 * c**2), rf"$\lambda_\eta = {tex(lam_eta_star)}$ solves $\chi = 1$")],
        instances=_margin_instances(),
        prose=r"the left side is claim scaled step's step of the transformed system at this $\lambda_\eta$, the right "
        r"side claim recursion's step of the original one: equal at every margin, batch and data set, so the two "
        r"trajectories of margins from the reference coincide.",
    )
    invariant_claim = chain(
        "invariant",
        I_(lam_eta * eta, scaled_beta, lam_c * c),
        [("=", chi * I_value, rf"$\mathcal{{I}}(\eta, \beta, c) = {tex(I_value)}$")],
        instances=Instances("I bound to its definition", lambda: [{I_: sp.Lambda(PARAMETERS, I_value)}]),
        prose=r"the group ($\chi = 1$) is the set of these scalings that keep $\mathcal{I}$.",
    )
    first = chain(
        "first step",
        h_first[a],
        [
            (
                "=",
                -2 * eta * beta**2 * c**2 * dphi(sp.Integer(0)) / m * sp.Sum(s_[a] * s_[j] * G_hat[a, j], (j, 1, m)),
                r"claim recursion at $h_j = 0$ (the reference)",
            )
        ],
        instances=_first_step_instances(loss),
        prose=r"linear in $\mathcal{I}$ (as printed for this loss).",
    )
    return Theorem(
        id="invariance",
        title=r"Invariance of the SGD margin dynamics under rescaling $\eta$, $\beta$ and the embeddings",
        assumptions=[
            Assumption(
                "head",
                r"$\pi_W(y\mid x) = \operatorname{softmax}(Wg)_y$ on frozen embeddings $g = c\hat g$ (the data's "
                r"embeddings $\hat g$ scaled by $c > 0$); the answers are responses $1$ and $2$, and sample $l$ has sign "
                r"$s_l$ and margin $h_l = \beta s_l(e_1 - e_2)^\top(W - W_{\mathrm{ref}})g_l$, $\beta > 0$.",
            ),
            Assumption(
                "sgd",
                r"one step $W^{+} = W - \eta\nabla_W\frac1m\sum_{j=1}^m\phi(h_j)$ on a batch of $m$ samples, numbered "
                r"$1..m$ (any batch schedule: every step is such a step), with $\phi$ differentiable at their margins.",
            ),
            Assumption(
                "rescaled system",
                rf"$(\eta, \beta, c)$ replaced by $({tex(lam_eta * eta)}, {tex(scaled_beta)}, {tex(lam_c * c)})$, "
                rf"scale factors $> 0$, and $W - W_{{\mathrm{{ref}}}}$ by $(W - W_{{\mathrm{{ref}}}})/({tex(scaled_beta / beta * lam_c)})$ "
                r"(the same margins; at the reference both are 0).",
            ),
            Assumption(
                "loss",
                rf"$\phi$ with its parameters fixed (here ${loss.latex()}$), $\phi'(h) = {tex(dphi(h))}$.",
            ),
        ],
        claims=[recursion, scaled_step, group, invariant_claim, first, _policy_claim()],
        summary=r"Under SGD the margins evolve by a map of the margins that depends on $(\eta, \beta, c)$ only through "
        rf"$\mathcal{{I}} = {tex(I_value)}$; the group {_group_text(loss)} keeps it.",
        loss_name=loss.name,
        notes=_notes(loss),
        notation={
            **meanings(eta, beta),
            **loss_parameters(loss),
            phi_prime(h): MEANINGS[phi_prime(h)],
            c: r"is the scale of the embeddings, $g = c\hat g$",
            (lam_eta, lam_beta, lam_c): r"are the factors by which $\eta$, $\beta$ and $c$ are scaled",
            m: r"is the number of samples in the batch of the SGD step",
            a: r"is any sample, in the batch or not",
            h_[a]: r"is the margin $h_l = \beta s_l(e_1 - e_2)^\top(W - W_{\mathrm{ref}})g_l$ of sample $l$ before the "
            r"step",
            s_[a]: r"is $+1$ if sample $l$'s preferred answer is response $1$ and $-1$ otherwise",
            G_hat[a, j]: r"is the Gram matrix $\langle\hat g_l, \hat g_j\rangle$ of the unscaled embeddings",
            h_next[a]: r"is the margin of sample $l$ after the SGD step",
            h_scaled[a]: r"is the margin of sample $l$ after one SGD step of the rescaled system from the same margins",
            h_first[a]: r"is the margin of sample $l$ after the first SGD step from $W_{\mathrm{ref}}$",
            I_(eta, beta, c): r"is the invariant of the margin dynamics",
            (gap_ref[a], gap_scaled[a]): r"are the policy's logit gaps $s_l((Wg_l)_1 - (Wg_l)_2)$ of sample $l$ in the "
            r"original system and in the rescaled one with $W_{\mathrm{ref}}$ and $W - W_{\mathrm{ref}}$ divided by "
            r"$\lambda_\beta\lambda_c$; the policy accuracy is the mean of $[\Gamma_l > 0]$",
            v_[a]: r"is the reference head's logit gap $(e_1 - e_2)^\top W_{\mathrm{ref}}\hat g_l$ on the unscaled "
            r"embedding",
        },
        provenance=r"That rescaling the parameters or the data of gradient descent can leave its trajectory unchanged "
        r"is classical, and that $\eta$ and $\beta$ act together on the implicit reward is folklore in analyses of "
        r"DPO; the setting (a softmax head over frozen embeddings) is that of Im \& Li (2024). The margin recursion "
        r"under SGD for a general $\phi$, the per-loss group derived from $\phi$'s dependence on $\beta$, the "
        r"invariant, the first-step converse and the policy-gap statement are prefdyn's.",
    )
