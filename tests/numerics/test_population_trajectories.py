"""Population GD numerics against independent computations (scipy quadrature, exact discrete laws)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import expit
from scipy.stats import norm

from prefdyn.errors import PrefdynError
from prefdyn.numerics.evaluate import loss_kernels
from prefdyn.numerics.population import (
    GaussianMixture,
    behavior_metrics,
    fixed_point,
    max_learning_rate,
    population_gd,
    population_gradient,
)
from prefdyn.numerics.quadrature import MAX_TRAPEZOID_NODES, hermite_rule, trapezoid_rule
from prefdyn.theory.losses import Loss, get_loss, loss_from_expression, loss_names


def _A_B_quad(m: float, r: float, beta: float) -> tuple[float, float]:
    """DPO's A = E sigma(-beta z), B = E sigma'(beta z) by adaptive quadrature (scipy)."""
    dens = lambda z: norm.pdf(z, m, r)
    lo, hi, kw = m - 12 * r, m + 12 * r, {"epsabs": 1e-15, "limit": 1000, "points": [0.0]}
    A = integrate.quad(lambda z: expit(-beta * z) * dens(z), lo, hi, **kw)[0]
    B = integrate.quad(lambda z: expit(beta * z) * expit(-beta * z) * dens(z), lo, hi, **kw)[0]
    return A, B


def _worked_example_reference(steps: int) -> np.ndarray:
    """Independent recursion for the worked example: Delta = a_1 delta_1 + a_2 delta_2 (orthogonal,
    |delta| = 3, 1), a_b <- (1 - 2 eta beta^2 sum p sigma^2 B) a_b + eta beta p_b A_b."""
    n, p, beta, eta = np.array([3.0, 1.0]), np.array([0.5, 0.5]), 1.0, 2.0
    a = np.zeros(2)
    for _ in range(steps):
        r = math.sqrt(float((a**2 * n**2).sum()))
        AB = [_A_B_quad(a[b] * n[b] ** 2 / 2, r, beta) if r > 0 else (0.5, 0.25) for b in range(2)]
        A, B = np.array([x[0] for x in AB]), np.array([x[1] for x in AB])
        a = a * (1 - 2 * eta * beta**2 * (p * B).sum()) + eta * beta * p * A
    return norm.cdf(a * n**2 / (2 * math.sqrt(float((a**2 * n**2).sum()))))


MIX = GaussianMixture.isotropic(weights=[0.5, 0.5], distinguishability=[3.0, 1.0], noise=1.0, dim=16)


def test_worked_example_one_step_and_fixed_point() -> None:
    out = population_gd(MIX, "dpo", beta=1.0, learning_rate=2.0, steps=60)
    got_one, got_fixed = out.accuracy[1, 0].numpy(), out.accuracy[-1, 0].numpy()
    np.testing.assert_allclose(got_one, _worked_example_reference(1), atol=1e-10)
    np.testing.assert_allclose(got_fixed, _worked_example_reference(60), atol=1e-9)
    # the worked example's numbers (4 decimals) and the alone accuracies Phi(|delta|/2)
    np.testing.assert_allclose(got_one, [0.9226, 0.5628], atol=5e-5)
    star = fixed_point(MIX, "dpo", beta=1.0, learning_rate=2.0)
    acc_star = behavior_metrics(MIX, star, loss_kernels("dpo"), torch.tensor(1.0, dtype=torch.float64), hermite_rule())[
        "accuracy"
    ]
    np.testing.assert_allclose(acc_star.numpy(), [0.8972, 0.6058], atol=5e-5)
    alone = norm.cdf([1.5, 0.5])
    assert np.all(acc_star.numpy() < alone)  # priority: joint fixed point below each alone


@pytest.mark.parametrize(
    ("m", "r", "beta"),
    [(0.0, 1.0, 1.0), (1.3, 2.0, 0.5), (-2.0, 4.0, 1.0), (0.5, 0.2, 3.0), (3.0, 30.0, 1.0), (-1.0, 5.0, 20.0)],
)
def test_gauss_hermite_moments_match_adaptive_quadrature(m: float, r: float, beta: float) -> None:
    A, B = loss_kernels("dpo").moments(
        torch.tensor(m, dtype=torch.float64),
        torch.tensor(r, dtype=torch.float64),
        torch.tensor(beta, dtype=torch.float64),
        hermite_rule(),
    )
    A_ref, B_ref = _A_B_quad(m, r, beta)
    assert abs(float(A) - A_ref) < 1e-10 and abs(float(B) - B_ref) < 1e-10


#: registered losses, and custom ones with kinks at 0 and 1, three kinks, a Huber piece, a cubic
#: piece, and a sharp gate written with exp
CUSTOM = (
    "Max(0, -h)",
    "Abs(h)",
    "Max(0, 1 - h)**2",
    "Max(0, 1 - h)**3",
    "Piecewise((6 - 3*h, h < 1), (5 - 2*h, h < 2), (3 - h, h < 3), (0, True))",
    "Piecewise((1/2 - h, h < 0), ((1 - h)**2/2, h < 1), (0, True))",
    "log(1 + exp(-20*h))/20",
)
LOSSES = [*loss_names(), *CUSTOM]


def _loss(spec: str) -> Loss:
    return get_loss(spec) if spec in loss_names() else loss_from_expression(spec)


def _moments_by_scipy(loss: Loss, m: float, r: float, beta: float) -> tuple[float, float]:
    """A = E[-phi'(beta z)] by adaptive quadrature (kinks and gates as break points), and
    B = -(1/beta) dA/dm by a central difference of it (independent of any closed form)."""
    dphi = loss_kernels(loss).dphi
    b = torch.tensor(beta, dtype=torch.float64)
    minus_dphi = lambda z: -float(dphi(torch.tensor(beta * z, dtype=torch.float64), b))

    def A(mu: float) -> float:
        return integrate.quad(
            lambda z: minus_dphi(z) * norm.pdf(z, mu, r),
            mu - 12 * r,
            mu + 12 * r,
            points=[k / beta for k in range(4)],
            epsabs=1e-14,
            limit=1000,
        )[0]

    step = 1e-3 * r
    return A(m), -(A(m + step) - A(m - step)) / (2 * step * beta)


def _moments(loss: Loss, m: float, r: float, beta: float, dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    A, B = loss_kernels(loss).moments(*(torch.tensor(x, dtype=dtype) for x in (m, r, beta)), hermite_rule())
    return float(A), float(B)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # scipy's, at A = 0 exactly
@pytest.mark.parametrize("spec", LOSSES)
@pytest.mark.parametrize(("m", "r", "beta"), [(0.3, 1.0, 1.0), (1.2, 0.05, 1.0), (0.0, 2.0, 3.0), (0.9, 0.5, 2.0)])
def test_moments_of_every_loss_match_adaptive_quadrature(spec: str, m: float, r: float, beta: float) -> None:
    # closed forms (piecewise-polynomial phi') or quadrature on the kernel's own scale (sharp
    # gates); the central difference's error is ~ step^2 |d^3A/dm^3| / 6 < 1e-7: 1e-5 on B has room
    loss = _loss(spec)
    A, B = _moments(loss, m, r, beta)
    A_ref, B_ref = _moments_by_scipy(loss, m, r, beta)
    assert A == pytest.approx(A_ref, abs=1e-9)
    assert B == pytest.approx(B_ref, abs=1e-5, rel=1e-5)


@pytest.mark.parametrize("spec", LOSSES)
@pytest.mark.parametrize(("m", "beta"), [(1.5, 1.0), (5.0, 1.0), (10.0, 0.13), (-0.7, 0.3)])  # off the kinks
def test_moments_at_a_point_mass_and_in_float32(spec: str, m: float, beta: float) -> None:
    """r -> 0 (and r = 0) is the point mass at m, where A = -phi'(beta m) away from kinks; float32
    agrees with float64 (no overflow to inf * 0, no cancellation near a kink)."""
    loss = _loss(spec)
    point = -float(
        loss_kernels(loss).dphi(torch.tensor(beta * m, dtype=torch.float64), torch.tensor(beta, dtype=torch.float64))
    )
    for r in (0.0, 1e-8):
        A, B = _moments(loss, m, r, beta)
        assert math.isfinite(B) and A == pytest.approx(point, abs=1e-6)
    for r in (0.0, 1e-3, 0.5):
        A64, B64 = _moments(loss, m, r, beta)
        A32, B32 = _moments(loss, m, r, beta, torch.float32)
        assert A32 == pytest.approx(A64, rel=1e-4, abs=1e-5) and B32 == pytest.approx(B64, rel=1e-4, abs=1e-4)


def test_closed_form_moments_are_used_for_piecewise_polynomial_losses() -> None:
    assert loss_kernels("hinge").exact_moments is not None and loss_kernels("ipo").exact_moments is not None
    assert loss_kernels("dpo").exact_moments is None and loss_kernels("discopop").kernel_scale == 20.0
    for gate in ("log(1 + exp(-20*h))/20", "-tanh(20*h)"):  # however the gate is written
        assert loss_kernels(loss_from_expression(gate)).kernel_scale == 20.0
    # phi' = (40/sqrt(pi)) exp(-400 h^2): a bump of standard deviation 1/sqrt(800)
    assert loss_kernels(loss_from_expression("erf(20*h)")).kernel_scale == pytest.approx(math.sqrt(800))


def test_stein_gradient_matches_monte_carlo_with_full_covariance() -> None:
    """General covariances, q != 1/2, label noise: F(Delta) against a seeded 4e6-sample average
    (tolerance 5 standard errors per coordinate)."""
    gen = torch.Generator().manual_seed(0)
    d, K = 3, 2
    L = torch.randn(K, 2, d, d, generator=gen, dtype=torch.float64) * 0.5
    cov = L @ L.mT + 0.1 * torch.eye(d, dtype=torch.float64)
    mix = GaussianMixture(
        torch.tensor([0.3, 0.7], dtype=torch.float64),
        torch.tensor([0.6, 0.4], dtype=torch.float64),
        torch.randn(K, 2, d, generator=gen, dtype=torch.float64),
        cov,
        torch.tensor([0.1, 0.0], dtype=torch.float64),
    )
    delta = torch.tensor([0.7, -0.4, 1.1], dtype=torch.float64)
    beta = torch.tensor(0.8, dtype=torch.float64)
    F = population_gradient(mix, delta, loss_kernels("dpo"), beta, hermite_rule())
    n = 4_000_000
    b = torch.multinomial(mix.weights, n, replacement=True, generator=gen)
    c = (torch.rand(n, generator=gen, dtype=torch.float64) > mix.positive_fraction[b]).long()  # 0: +, 1: -
    g = mix.means[b, c] + (
        torch.linalg.cholesky(cov)[b, c] @ torch.randn(n, d, 1, generator=gen, dtype=torch.float64)
    ).squeeze(-1)
    s = 1 - 2 * c.double()
    s = torch.where(torch.rand(n, generator=gen, dtype=torch.float64) < mix.label_noise[b], -s, s)
    x = torch.sigmoid(-beta * s * (g @ delta))[:, None] * s[:, None] * g
    se = x.std(0) / math.sqrt(n)
    assert torch.all((x.mean(0) - F).abs() < 5 * se)


def test_t_step_subexponential_bound_holds_on_an_exact_discrete_law() -> None:
    """Two-point (Rademacher) noise: population GD is an exact finite sum; the t-step bound of
    accuracy-subexponential must lie below the exact accuracy at every step."""
    from prefdyn.numerics.bounds import accuracy_lower_bound

    gen = torch.Generator().manual_seed(1)
    d, beta, eta, T = 3, 1.0, 0.5, 40
    means = torch.tensor(
        [[[1.2, 0.0, 0.3], [-1.2, 0.0, 0.3]], [[0.0, 0.6, 0.3], [0.0, -0.6, 0.3]]], dtype=torch.float64
    )
    xi = torch.randn(2, 2, d, generator=gen, dtype=torch.float64) * 0.6
    p, q = torch.tensor([0.5, 0.5], dtype=torch.float64), torch.tensor([0.5, 0.5], dtype=torch.float64)
    atoms = [
        (p[k] * (q[k] if c == 0 else 1 - q[k]) / 2, k, 1.0 - 2 * c, means[k, c] + r * xi[k, c])
        for k in range(2)
        for c in range(2)
        for r in (1.0, -1.0)
    ]
    delta, accs = torch.zeros(d, dtype=torch.float64), []
    for _ in range(T):
        F = sum(w * torch.sigmoid(-beta * s * (g @ delta)) * s * g for w, _, s, g in atoms)
        delta = delta + 2 * eta * beta * F
        accs.append(
            [
                sum(float(w) * float(s * (g @ delta) > 0) for w, kk, s, g in atoms if kk == k) / float(p[k])
                for k in range(2)
            ]
        )
    K_b = xi.norm(dim=-1).amax(-1) / math.log(2) ** 0.5  # psi_2 norm of the two-point law
    S = sum(w * torch.outer(g, g) for w, _, _, g in atoms)
    bound = accuracy_lower_bound(
        means,
        q,
        p,
        torch.tensor([2.0, 2.0], dtype=torch.float64),
        K_b,
        smoothness=0.25,
        second_moment_top=float(torch.linalg.eigvalsh(S)[-1]),
        beta=beta,
        learning_rate=eta,
        steps=T,
    )
    exact = torch.tensor(accs, dtype=torch.float64)
    assert torch.all(bound[1:] <= exact + 1e-12)
    assert bound[1].max() > 0.3  # the bound is not vacuous at t = 1


def test_max_learning_rate_matches_the_smoothness_constant() -> None:
    # E[g g^T] = diag(9/8 + 1, 1/8 + 1, 1, ...): lambda_max = 2.125; DPO sup phi'' = 1/4
    assert max_learning_rate(MIX, "dpo", 1.0) == pytest.approx(4 / 2.125)
    assert max_learning_rate(MIX, "ipo", 1.0) == pytest.approx(1 / (2 * 2.125))
    assert max_learning_rate(MIX, "hinge", 1.0) is None  # L2 = oo: no verified step, not 0


def test_population_misalignment_ratio_is_two() -> None:
    """Align to the population fixed point, flip: the first flipped step is -2 x the first step."""
    star = fixed_point(MIX, "dpo", beta=1.0, learning_rate=0.5, tol=1e-14)
    derivs, rule, b = loss_kernels("dpo"), hermite_rule(), torch.tensor(1.0, dtype=torch.float64)
    first = population_gradient(MIX, torch.zeros(16, dtype=torch.float64), derivs, b, rule)
    flipped = population_gradient(MIX, star, derivs, b, rule, flipped=True)
    torch.testing.assert_close(flipped, -2 * first, atol=1e-10, rtol=0)


def test_too_sharp_a_kernel_is_refused_not_allocated() -> None:
    assert trapezoid_rule(1000.0).z.numel() < MAX_TRAPEZOID_NODES
    with pytest.raises(PrefdynError, match="beta: the margin kernel is too sharp"):
        trapezoid_rule(1e6)
