"""The closed-form trajectory of :mod:`prefdyn.numerics.quadratic` against iterated full-batch GD."""

from __future__ import annotations

import pytest
import torch

from prefdyn.numerics.evaluate import loss_kernels
from prefdyn.numerics.population import GaussianMixture, gaussian_accuracy
from prefdyn.numerics.quadratic import (
    coefficients,
    quadratic_accuracy_curve,
    quadratic_fixed_point,
    quadratic_trajectory,
)
from prefdyn.theory.losses import loss_from_expression

HALF_SQUARE = loss_from_expression("h**2/2 - h", name="half-square")


def _data(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    g = torch.randn(n, d, generator=generator, dtype=torch.float64) + 0.5
    s = torch.where(torch.rand(n, generator=generator, dtype=torch.float64) < 0.7, 1.0, -1.0).to(torch.float64)
    return g, s


def _iterate(g, s, loss, beta: float, eta: float, steps: int, start: torch.Tensor) -> torch.Tensor:
    r"""Full-batch GD :math:`\Delta \leftarrow \Delta + 2\eta\beta\,\overline{-\phi'(\beta s\Delta^\top g)\,sg}`."""
    dphi = loss_kernels(loss).dphi
    path, delta = [start], start
    for _ in range(steps):
        h = beta * s * (g @ delta)
        delta = delta + 2 * eta * beta * ((-dphi(h, torch.tensor(beta, dtype=torch.float64)) * s)[:, None] * g).mean(0)
        path.append(delta)
    return torch.stack(path)


@pytest.mark.parametrize("loss", ["ipo", HALF_SQUARE], ids=["ipo", "half-square"])
@pytest.mark.parametrize(("n", "d"), [(40, 3), (3, 6)])  # M invertible; M singular (n < d)
@pytest.mark.parametrize("fraction", [0.3, 0.99])  # kappa lambda_max = 2 * fraction
def test_closed_form_equals_iterated_gd(loss, n: int, d: int, fraction: float) -> None:
    g, s = _data(n, d, seed=n + d)
    M, m = g.T @ g / n, (s[:, None] * g).mean(0)
    beta = 0.7
    a2, _ = coefficients(loss, beta)
    eta = fraction * 2 / (4 * beta**2 * a2 * torch.linalg.eigvalsh(M)[-1].item())
    start = torch.linspace(-1, 1, d, dtype=torch.float64)
    steps = torch.arange(31)
    closed = quadratic_trajectory(M, m, steps, loss=loss, beta=beta, learning_rate=eta, start=start)
    iterated = _iterate(g, s, loss, beta, eta, 30, start)
    assert torch.allclose(closed, iterated, rtol=0, atol=1e-11 * iterated.abs().max())


def test_fixed_point_solves_the_normal_equation_on_range_m() -> None:
    g, s = _data(3, 6, seed=1)
    M, m = g.T @ g / 3, (s[:, None] * g).mean(0)
    star = quadratic_fixed_point(M, m, loss="ipo", beta=2.0)
    assert torch.allclose(M @ star, m / (2 * 2.0), atol=1e-12)  # -a_1/(2 a_2 beta) = 1/(2 beta) for IPO
    null = torch.linalg.eigh(M).eigenvectors[:, :3]  # rank 3: three null directions
    assert torch.allclose(null.T @ star, torch.zeros(3, dtype=torch.float64), atol=1e-12)


def test_null_directions_keep_their_start() -> None:
    M = torch.diag(torch.tensor([2.0, 0.0], dtype=torch.float64))
    m = torch.tensor([1.0, 0.0], dtype=torch.float64)
    start = torch.tensor([0.0, 3.0], dtype=torch.float64)
    path = quadratic_trajectory(
        M, m, torch.tensor([0, 5, 10_000]), loss="ipo", beta=1.0, learning_rate=0.1, start=start
    )
    assert path[:, 1].tolist() == [3.0, 3.0, 3.0]
    assert path[-1, 0].item() == pytest.approx(0.25, abs=1e-15)  # Delta* = M^+ m / (2 beta)


def test_batched_runs_and_accuracy_curve() -> None:
    g, s = _data(50, 2, seed=3)
    M = torch.stack([g.T @ g / 50, torch.eye(2, dtype=torch.float64)])
    m = torch.stack([(s[:, None] * g).mean(0), torch.tensor([0.5, -0.5], dtype=torch.float64)])
    path = quadratic_trajectory(M, m, torch.arange(5), loss="ipo", beta=1.0, learning_rate=0.05)
    assert path.shape == (2, 5, 2)
    mix = GaussianMixture(
        torch.tensor([1.0], dtype=torch.float64),
        torch.tensor([0.6], dtype=torch.float64),
        torch.tensor([[[1.0, 0.5], [-1.0, 0.0]]], dtype=torch.float64),
        torch.ones(1, 2, dtype=torch.float64),
    )
    curve = quadratic_accuracy_curve(mix, path)
    assert curve.shape == (2, 5, 1)
    assert torch.equal(curve, gaussian_accuracy(mix, path))
    assert torch.all(curve[:, 0] == 0.5)  # Delta_0 = 0: a tie counts one half


def test_a_non_quadratic_loss_is_refused() -> None:
    with pytest.raises(ValueError, match="not quadratic"):
        coefficients("dpo", 1.0)
