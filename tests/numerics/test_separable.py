"""Linear separability through the origin and the hard-margin SVM direction (:func:`separable`)."""

from __future__ import annotations

import importlib

import pytest
import torch

from prefdyn.errors import PrefdynError
from prefdyn.numerics import PreferenceData, Separability, separable

#: the module (its name is shadowed on the package by the function it exports)
module = importlib.import_module("prefdyn.numerics.separable")


def _z(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_known_svm_direction_margin_and_support() -> None:
    result = separable(_z([[1, 1], [1, -1], [2, 0]]))
    assert result.separable.tolist() == [True]
    assert torch.allclose(result.direction[0], _z([[1, 0]])[0], atol=1e-7)
    assert float(result.margin[0]) == pytest.approx(1.0, rel=1e-6)
    assert result.support[0].tolist() == [True, True, False]
    assert 0 <= float(result.gap[0]) <= 1e-6


def test_two_support_vectors_at_an_angle() -> None:
    # w_hat = (1/3, 1/3): gamma = 1/||w_hat|| = 3/sqrt(2)
    result = separable(_z([[2, 1], [1, 2], [3, 3]]))
    assert float(result.margin[0]) == pytest.approx(3 / 2**0.5, rel=1e-6)
    assert torch.allclose(result.direction[0], torch.full((2,), 2**-0.5, dtype=torch.float64), atol=1e-6)


def test_non_separable_sets() -> None:
    result = separable(torch.stack([_z([[1, 0], [-1, 0]]), _z([[1, 1], [-1, -1]])]))
    assert result.separable.tolist() == [False, False]
    assert result.margin.tolist() == [0.0, 0.0]
    assert not result.support.any()


def test_generic_sets_with_fewer_samples_than_dimensions_are_separable() -> None:
    z = torch.randn(3, 20, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    result = separable(z)
    assert result.separable.all()
    achieved = torch.einsum("rnd,rd->rn", z, result.direction).min(-1).values
    assert torch.allclose(achieved, result.margin, rtol=1e-9)
    assert torch.allclose(result.direction.norm(dim=-1), torch.ones(3, dtype=torch.float64))
    # the support vectors sit at the margin
    on_margin = torch.einsum("rnd,rd->rn", z, result.direction)[result.support]
    assert torch.allclose(on_margin, result.margin.repeat_interleave(result.support.sum(-1)), rtol=1e-4)


@pytest.mark.parametrize(("n", "d"), [(80, 120), (100, 5)])
def test_large_or_dependent_sets_take_the_bounded_quasi_newton_path(n: int, d: int) -> None:
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(n, d, generator=generator, dtype=torch.float64)
    if n > d:  # dependent but separable: every z_i has first coordinate >= 1
        z[:, 0] = 1 + z[:, 0].abs()
    result = separable(z)
    assert result.separable.tolist() == [True]
    achieved = (z @ result.direction[0]).min()
    assert float(achieved) == pytest.approx(float(result.margin[0]), rel=1e-12)
    assert float(result.gap[0]) <= 1e-6 * float(result.margin[0])


def test_preference_data_uses_signed_training_samples() -> None:
    g = _z([[1, 1], [-1, 1], [2, 0], [-5, 0]])
    s = torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64)
    train = torch.tensor([True, True, True, False])  # the held-out sample would break separability
    data = PreferenceData(g, s, torch.zeros(4, dtype=torch.long), train, ("b",))
    result = separable(data)
    assert result.separable.tolist() == [True]
    assert float(result.margin[0]) == pytest.approx(1.0, rel=1e-6)
    assert result.support.shape == (1, 3)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.zeros(3), "must be"),
        (torch.zeros(2, 3, dtype=torch.long), "floating-point"),
        (torch.tensor([[1.0, float("nan")]]), "finite"),
        (torch.zeros(0, 3), "at least one sample"),
        ([[1.0, 0.0]], "needs PreferenceData or a tensor"),
    ],
)
def test_bad_input_is_a_one_line_error(bad: object, message: str) -> None:
    with pytest.raises(PrefdynError, match=message) as info:
        separable(bad)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_tolerance_is_validated() -> None:
    with pytest.raises(PrefdynError, match="separable.tol"):
        separable(_z([[1, 0]]), tol=0.5)


def test_huge_gram_matrix_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "available_bytes", lambda: 1000)
    with pytest.raises(PrefdynError, match="Gram matrix"):
        separable(torch.zeros(1, 50, 3, dtype=torch.float64) + 1.0)


def test_public_names() -> None:
    assert separable is module.separable
    assert isinstance(separable(_z([[1, 0]])), Separability)
