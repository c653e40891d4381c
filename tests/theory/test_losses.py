"""The loss registry: SymPy-derived quantities against independent numerics."""

import math

import numpy as np
import pytest
import sympy as sp

from prefdyn.errors import PrefdynError
from prefdyn.theory.functions import logsigmoid, sigmoid, to_elementary
from prefdyn.theory.losses import REGISTRY, get_loss, loss_from_expression, loss_names
from prefdyn.theory.symbols import beta, h

BETA = 0.7


def _numeric(loss, expr):
    f = sp.lambdify(h, to_elementary(loss.bind(expr)).subs(beta, BETA), "mpmath")
    return lambda x: float(f(x))


@pytest.mark.parametrize("name", loss_names())
def test_derivatives_match_finite_differences(name):
    loss = get_loss(name)
    phi, dphi = _numeric(loss, loss.phi), _numeric(loss, loss.dphi)
    for x in (-2.3, -0.4, 0.3, 1.7, 4.1):  # away from the hinge kink at h = 1
        step = 1e-6
        central = (phi(x + step) - phi(x - step)) / (2 * step)
        assert dphi(x) == pytest.approx(central, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", loss_names())
def test_dphi_at_zero_is_dphi_evaluated(name):
    loss = get_loss(name)
    assert float(loss.bind(loss.dphi_at_zero).subs(beta, BETA)) == pytest.approx(
        _numeric(loss, loss.dphi)(0.0), rel=1e-12
    )


def test_known_values():
    assert get_loss("dpo").dphi_at_zero == sp.Rational(-1, 2)
    assert get_loss("dpo").stationary_margin == sp.oo
    assert get_loss("ipo").stationary_margin == sp.Rational(1, 2)
    assert get_loss("hinge").stationary_margin == 1
    assert sp.simplify(get_loss("cdpo").stationary_margin - sp.log(9)) == 0
    assert get_loss("dpo").sup_abs_dphi == 1
    assert get_loss("ipo").sup_abs_dphi == sp.oo


@pytest.mark.parametrize("name", ["cdpo", "exo-pair", "discopop"])
def test_finite_stationary_margin_is_a_root(name):
    loss = get_loss(name)
    root = float(loss.stationary_margin)
    dphi = _numeric(loss, loss.dphi)
    assert abs(dphi(root)) < 1e-9
    # and it is the smallest root: no sign change of phi' to its left on a fine grid
    grid = np.linspace(-30, root - 1e-3, 4000)
    signs = np.sign([dphi(x) for x in grid])
    assert np.all(signs == signs[0])


def test_sup_abs_dphi_matches_grid():
    for name in ("dpo", "cdpo", "rdpo", "hinge", "exo-pair", "discopop"):
        loss = get_loss(name)
        dphi = _numeric(loss, loss.dphi)
        grid_max = max(abs(dphi(x)) for x in np.linspace(-40, 40, 8001))
        assert float(loss.sup_abs_dphi) == pytest.approx(grid_max, rel=1e-3), name


def test_aliases_and_case():
    assert get_loss("SIGMOID") is get_loss("dpo")
    assert REGISTRY["slic"] is get_loss("hinge")


def test_special_functions_derivatives():
    x = sp.Symbol("x", real=True)
    assert sp.simplify(to_elementary(sp.diff(sigmoid(x), x) - sp.diff(1 / (1 + sp.exp(-x)), x))) == 0
    assert sp.simplify(to_elementary(sp.diff(logsigmoid(x), x) + sp.diff(sp.log(1 + sp.exp(-x)), x))) == 0


def test_user_expression_equals_dpo():
    custom = loss_from_expression("log(1 + exp(-h))")
    assert custom.dphi_at_zero == get_loss("dpo").dphi_at_zero
    params = loss_from_expression("(h - gamma)**2", params={"gamma": 0.5})
    assert float(params.bind(params.stationary_margin)) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("log(1+", "cannot parse"),
        ("x + h", "unknown symbol(s) x"),
        ("beta**2", "does not depend"),
        ("__import__('os')", "cannot parse"),
    ],
)
def test_bad_expressions_name_the_problem(text, fragment):
    with pytest.raises(PrefdynError, match="loss-expr") as err:
        loss_from_expression(text)
    assert fragment in str(err.value)


def test_unknown_loss():
    with pytest.raises(PrefdynError, match="unknown loss 'nope'"):
        get_loss("nope")


def test_dpo_value_at_zero():
    assert float(get_loss("dpo").phi.subs(h, 0)) == pytest.approx(math.log(2))


@pytest.mark.parametrize("text", ["Max(0, 1 - h)**2", "Abs(h - 1)", "(h - 1/2)**2 + h**4/10", "Max(0, 1 - h)"])
def test_gaussian_moments_of_piecewise_polynomial_losses(text: str) -> None:
    """SymPy's closed-form A = E[-phi'(beta z)], z ~ N(m, r^2), against scipy's adaptive quadrature
    of the same phi' at one point, and B = -(1/beta) dA/dm by a central difference."""
    from scipy import integrate
    from scipy.stats import norm

    from prefdyn.theory.gaussian_moments import gaussian_moments, m, r

    loss = loss_from_expression(text)
    moments = gaussian_moments(loss)
    assert moments is not None and not moments.A.has(sp.Integral)
    point = {m: 0.4, r: 0.7, beta: 1.5}
    dphi = sp.lambdify(h, loss.bind(loss.dphi).subs(beta, 1.5), "numpy")

    def A(mu: float) -> float:
        f = lambda z: -float(dphi(1.5 * z)) * norm.pdf(z, mu, 0.7)
        return integrate.quad(f, mu - 9, mu + 9, points=[1 / 1.5], epsabs=1e-13, limit=500)[0]

    assert float(moments.A.subs(point)) == pytest.approx(A(0.4), abs=1e-9)
    step = 1e-4
    assert float(moments.B.subs(point)) == pytest.approx(-(A(0.4 + step) - A(0.4 - step)) / (2 * step * 1.5), abs=1e-6)


def test_gaussian_moments_are_none_without_a_closed_form() -> None:
    from prefdyn.theory.gaussian_moments import gaussian_moments

    assert gaussian_moments(get_loss("dpo")) is None and gaussian_moments(get_loss("discopop")) is None
