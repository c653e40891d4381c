"""Certified loss constants (:mod:`prefdyn.theory.certify`) against 50-digit mpmath.

Every registered loss and 20 seeded random user expressions: the certified supremum of
:math:`|\\phi'|` and :math:`|\\phi''|` must be >= every value on a dense grid (evaluated by
mpmath at 50 digits from SymPy's own derivative of the ``Piecewise`` form, independently of the
certifier's pieces and interval arithmetic) and within a small tolerance of the grid's maximum
after zooming in on the argmax; the sign of :math:`\\phi'(0)` and :math:`h^\\star` are checked
the same way.
"""

from __future__ import annotations

import functools
import itertools
import random

import mpmath
import pytest
import sympy as sp

from prefdyn.errors import PrefdynError
from prefdyn.theory import certify
from prefdyn.theory.functions import to_elementary
from prefdyn.theory.losses import Loss, get_loss, loss_from_expression, loss_names
from prefdyn.theory.symbols import beta, h

DPS = 50
BETA = sp.Rational(7, 10)
#: coarse grid on [-40, 40] (step 0.1), fine grid on [-3, 3] (step 0.01); _scan then zooms in
GRID = [mpmath.mpf(-40) + 80 * mpmath.mpf(k) / 800 for k in range(801)] + [
    mpmath.mpf(-3) + 6 * mpmath.mpf(k) / 600 for k in range(601)
]
SMOOTHED_HINGE = "Piecewise((1/2 - h, h < 0), ((1 - h)**2/2, h < 1), (0, True))"


def _mp(x: sp.Expr) -> mpmath.mpf:
    with mpmath.workdps(DPS):
        return mpmath.mpf(sp.N(x, DPS + 10))


def _derivative(loss: Loss, order: int):
    """|phi^(order)| as a 50-digit mpmath function: SymPy differentiates the Piecewise form."""
    phi = to_elementary(loss.bind(loss.phi).subs(beta, BETA)).rewrite(sp.Piecewise)
    f = sp.lambdify(h, sp.diff(phi, h, order).evalf(DPS + 10), "mpmath")  # constants at 60 digits

    def value(x: mpmath.mpf) -> mpmath.mpf:
        with mpmath.workdps(DPS):
            return mpmath.mpf(f(mpmath.mpf(x)))

    return value


def _scan(f, centres=()):
    """``(values, refined_max)``: |f| on the grid, then the max after zooming 4x (25-fold each) around
    the grid argmax and around each of ``centres`` (the certificate's argmax)."""
    values = [abs(f(x)) for x in GRID]
    best_x = GRID[max(range(len(GRID)), key=values.__getitem__)]
    refined = max(values)
    for centre in (best_x, *centres):
        x0, step = mpmath.mpf(centre), mpmath.mpf("0.02")
        for _ in range(4):
            xs = [x0 + step * (mpmath.mpf(k) / 30 - 1) for k in range(61)]
            local = [abs(f(x)) for x in xs]
            k = max(range(len(xs)), key=local.__getitem__)
            x0, step = xs[k], step / 25
            refined = max(refined, local[k])
            values += local
    return values, refined


def _check_sup(loss: Loss, order: int) -> certify.Certificate:
    cert = certify.sup_abs_derivative(loss.bind(loss.phi), order)
    with mpmath.workdps(DPS):  # every comparison at 50 digits (abs() rounds to the context)
        return _compare_sup(loss, order, cert)


def _compare_sup(loss: Loss, order: int, cert: certify.Certificate) -> certify.Certificate:
    f = _derivative(loss, order)
    value = cert.value.subs(beta, BETA)
    if value == sp.oo:
        if cert.where is not None and cert.where.is_finite:  # a jump of phi^(order-1): a Dirac mass
            below = _derivative(loss, order - 1)
            b, eps = _mp(cert.where), mpmath.mpf("1e-30")
            assert abs(below(b + eps) - below(b - eps)) > mpmath.mpf("1e-6"), (loss.phi, order)
        else:  # unbounded at infinity (possibly only like log|h|): |f| keeps growing along that side
            side = -1 if cert.where == -sp.oo else 1
            far = [abs(f(side * mpmath.mpf(10) ** k)) for k in (2, 4, 8, 16)]
            assert all(x < y for x, y in itertools.pairwise(far)), (loss.phi, order, far)
            assert far[-1] > max(abs(f(x)) for x in GRID[::10]), (loss.phi, order)
        return cert
    centres = [_mp(cert.where)] if cert.where is not None and cert.where.is_finite else []
    values, refined = _scan(f, centres)
    if cert.where in (sp.oo, -sp.oo):  # approached at infinity: compare with far-out values too
        side = 1 if cert.where == sp.oo else -1
        refined = max(refined, *(abs(f(side * mpmath.mpf(10) ** k)) for k in (2, 4, 8)))
    sup = _mp(value)
    assert sup >= max(values), (loss.phi, order, value, max(values))
    assert sup <= refined * (1 + mpmath.mpf("1e-9")) + mpmath.mpf("1e-12"), (loss.phi, order, value, refined)
    assert cert.lower <= cert.upper and cert.upper - cert.lower <= 1e-12 * max(1, abs(cert.upper))
    return cert


def _check_sign_and_root(loss: Loss) -> None:
    sign = certify.sign_of_dphi_at_zero(loss.bind(loss.phi)).value
    root = certify.stationary_margin(loss.bind(loss.phi)).value.subs(beta, BETA)
    with mpmath.workdps(DPS):
        _compare_sign_and_root(loss, sign, root)


def _compare_sign_and_root(loss: Loss, sign: sp.Expr, root: sp.Expr) -> None:
    dphi = _derivative(loss, 1)
    value = dphi(mpmath.mpf(0))
    if abs(value) > 1e-30:
        assert int(sign) == int(mpmath.sign(value)), loss.phi
    grid = [x for x in GRID if root == sp.oo or x < _mp(root) - mpmath.mpf("1e-6")]
    signs = {mpmath.sign(dphi(x)) for x in grid}
    assert 0 not in signs and len(signs) <= 1, (loss.phi, root)  # no root, no sign change to the left
    if root.is_finite:
        r = _mp(root)
        left, right = dphi(r - mpmath.mpf("1e-8")), dphi(r + mpmath.mpf("1e-8"))
        assert left * right <= 0 or abs(dphi(r)) < 1e-9 or min(abs(left), abs(right)) < 1e-7, (loss.phi, root)


# --------------------------------------------------------------------------- registered losses


@pytest.mark.parametrize("name", loss_names())
def test_registered_losses_against_mpmath(name):
    loss = get_loss(name)
    for order in (1, 2):
        _check_sup(loss, order)
    _check_sign_and_root(loss)


def test_known_certified_constants():
    dpo, ipo, hinge, disco = (get_loss(n) for n in ("dpo", "ipo", "hinge", "discopop"))
    assert dpo.smoothness == sp.Rational(1, 4) and dpo.smoothness_certificate.exact
    assert dpo.sup_abs_dphi == 1 and dpo.sup_abs_dphi_certificate.where == -sp.oo
    assert ipo.smoothness == 2 / beta**2 and ipo.sup_abs_dphi == sp.oo
    assert get_loss("cdpo").sup_abs_dphi == sp.Rational(9, 10)
    assert get_loss("rdpo").sup_abs_dphi == sp.Rational(9, 8)
    assert hinge.smoothness == sp.oo
    assert hinge.sup_abs_dphi == 1 and hinge.stationary_margin == 1
    assert get_loss("exo-pair").stationary_margin == sp.log(999)
    # DiscoPOP: the narrow peak of phi'' that critical-point solving missed (it reported 0.646)
    cert = disco.smoothness_certificate
    assert float(disco.smoothness) == pytest.approx(13.2018193400714, rel=1e-12)
    assert float(disco.smoothness) >= float(cert.upper) >= float(cert.lower) > 13.2018
    assert float(cert.where) == pytest.approx(0.0538, abs=1e-4)
    phi = disco.bind(disco.phi)
    assert abs(sp.diff(phi, h, 2).subs(h, 0)) == sp.Rational(35, 8)  # |phi''(0)| = 4.375 only
    # sign of DiscoPOP's phi'(0) = 17/4 - 5 log 2 > 0, certified
    sign = certify.sign_of_dphi_at_zero(disco.bind(disco.phi))
    assert sign.value == 1 and sign.lower > 0
    assert sp.simplify(sp.diff(phi, h).subs(h, 0) - (sp.Rational(17, 4) - 5 * sp.log(2))) == 0
    assert disco.dphi_at_zero_sign == 1 and dpo.dphi_at_zero_sign == -1
    assert float(disco.stationary_margin) == pytest.approx(-0.118569892688, abs=1e-11)


def test_smoothed_hinge_is_smooth_and_hinge_is_not():
    smooth = loss_from_expression(SMOOTHED_HINGE)
    assert smooth.smoothness == 1 and smooth.sup_abs_dphi == 1 and smooth.stationary_margin == 1
    for text in (SMOOTHED_HINGE, "Max(0, 1 - h)", "Max(0, 1 - h)**2/2", "log(1 + exp(-Abs(h)))"):
        loss = loss_from_expression(text)
        for order in (1, 2):
            _check_sup(loss, order)
        if "Abs" not in text:
            _check_sign_and_root(loss)
    assert loss_from_expression("Max(0, 1 - h)").smoothness == sp.oo
    assert loss_from_expression("Max(0, 1 - h)**2/2").smoothness == 1
    kink = loss_from_expression("log(1 + exp(-Abs(h)))")  # phi' jumps at 0 from +1/2 to -1/2
    assert kink.smoothness == sp.oo and kink.sup_abs_dphi == sp.Rational(1, 2) and kink.stationary_margin == 0
    with pytest.raises(PrefdynError, match="no single sign"):
        _ = kink.dphi_at_zero_sign


def test_beta_dependence_is_exact():
    assert loss_from_expression("logsigmoid(beta*h)").smoothness == beta**2 / 4
    assert loss_from_expression("-logsigmoid(beta*h - 1)/beta**2").sup_abs_dphi == 1 / beta


@pytest.mark.parametrize("text", ["sqrt(1 + h)", "Max(h**2, sigmoid(h))", "1/(h - 3)"])
def test_uncertifiable_user_loss_is_a_one_line_error(text):
    loss = loss_from_expression(text)
    with pytest.raises(PrefdynError, match=r"loss custom: cannot certify sup\|phi''\|") as err:
        _ = loss.smoothness
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- random user losses


TERMS = [
    "-logsigmoid({a}*h)",
    "log(1 + exp(-{a}*h - {b}))",
    "{c}*sigmoid(-{a}*h)",
    "{c}*exp(-{a}*h**2)",
    "{c}*tanh({a}*h)",
    "{c}*h**2",
    "{c}*Max(0, {b} - h)",
    "{c}*Max(0, {b} - h)**2",
    "Piecewise(({c}*(h - {b})**2, h < {b}), (0, True))",
    "{c}*h*sigmoid(-{a}*h)",
    "{c}*exp(-{a}*h)*sigmoid({a}*h)",
    "{c}*erf({a}*h)",
    "{c}*log(1 + h**2)",
    "{c}*sigmoid({k}*(h - {b}))*sigmoid(-{k}*(h - {b}))",  # a narrow bump (k up to 40)
    "{c}*h/(1 + h**2)",
]


def _random_loss(rng: random.Random, index: int) -> Loss:
    params: dict[str, float] = {}
    parts = []
    for j, template in enumerate(rng.sample(TERMS, rng.choice((2, 3)))):
        names = {}
        for key, (lo, hi) in {"a": (0.3, 3.0), "b": (-1.5, 1.5), "c": (0.2, 2.0), "k": (5.0, 40.0)}.items():
            if "{" + key + "}" in template:
                name = f"{key}{j}"
                params[name] = round(rng.uniform(lo, hi), 2)
                names[key] = name
        parts.append(template.format(**names))
    text = " + ".join(parts) if rng.random() < 0.8 else f"({parts[0]})*({' + '.join(parts[1:])})"
    return loss_from_expression(text, params=params, name=f"random-{index}")


RANDOM = [_random_loss(random.Random(2024 + i), i) for i in range(20)]


@pytest.mark.parametrize("loss", RANDOM, ids=[loss.name for loss in RANDOM])
def test_random_user_losses_against_mpmath(loss):
    for order in (1, 2):
        _check_sup(loss, order)
    _check_sign_and_root(loss)


# --------------------------------------------------------------------------- the step size it certifies


def _gd_step_change(loss: Loss, eta: mpmath.mpf, start: mpmath.mpf) -> mpmath.mpf:
    r"""One population-GD step on a one-atom law (:math:`g = 1`, :math:`s = +1`, :math:`\beta = 1`,
    so :math:`\lambda_{\max} = 1`): :math:`L(\Delta) = \phi(\Delta)`,
    :math:`\Delta_1 = \Delta_0 - 2\eta\phi'(\Delta_0)`; returns :math:`L(\Delta_1) - L(\Delta_0)`."""
    phi, dphi = _one_atom(loss)
    with mpmath.workdps(DPS):
        return phi(start - 2 * eta * dphi(start)) - phi(start)


@functools.cache
def _one_atom(loss: Loss):
    phi = to_elementary(loss.bind(loss.phi))
    return (sp.lambdify(h, phi.evalf(DPS + 10), "mpmath"), sp.lambdify(h, sp.diff(phi, h).evalf(DPS + 10), "mpmath"))


def test_discopop_certified_step_size_descends_and_20x_does_not():
    loss = get_loss("discopop")
    eta_max = 1 / _mp(loss.smoothness)  # beta = lambda_max = 1
    for k in range(-60, 61):  # starts Delta_0 in [-6, 6]
        start = mpmath.mpf(k) / 10
        for fraction in ("0.25", "0.5", "1"):
            assert _gd_step_change(loss, eta_max * mpmath.mpf(fraction), start) <= 0, (start, fraction)
    starts = [mpmath.mpf(k) / 200 for k in range(-40, 41)]  # Delta_0 in [-0.2, 0.2]
    # 20x the certified step: the loss rises (by 1.73 from Delta_0 = -0.015)
    assert max(_gd_step_change(loss, 20 * eta_max, x) for x in starts) > 1.7
    # the step size the uncertified L2 = 0.6462 (critical-point solving) gave: the loss rises by 1.78
    old = 1 / mpmath.mpf("0.6462221675146793")
    assert max(_gd_step_change(loss, old, x) for x in starts) == pytest.approx(1.78, abs=0.01)


def test_max_learning_rate_uses_the_certified_smoothness():
    torch = pytest.importorskip("torch")
    from prefdyn.numerics.population import GaussianMixture, max_learning_rate

    one_atom = GaussianMixture(
        torch.ones(1, dtype=torch.float64),
        torch.ones(1, dtype=torch.float64),
        torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]], dtype=torch.float64),
        torch.zeros(1, 2, dtype=torch.float64),
    )
    eta = max_learning_rate(one_atom, "discopop", 1.0)
    L2 = float(get_loss("discopop").smoothness)
    assert eta == pytest.approx(1 / 13.2018193400714, rel=1e-12) and eta <= 1 / L2  # rounded down
    assert max_learning_rate(one_atom, "hinge", 1.0) is None
    assert max_learning_rate(one_atom, "dpo", 2.0) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(PrefdynError, match="cannot certify"):
        max_learning_rate(one_atom, loss_from_expression("sqrt(1 + h)"), 1.0)
