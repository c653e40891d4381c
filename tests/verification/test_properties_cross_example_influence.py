"""``cross-example-influence``: SymPy derivation, torch autograd, and likelihood displacement."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
import torch

from prefdyn.numerics.evaluate import loss_kernels
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import Claim, Theorem
from prefdyn.theory.functions import indicator
from prefdyn.theory.losses import get_loss
from prefdyn.theory.symbols import eta as eta_symbol
from prefdyn.theory.theorems import cross_example_influence as T
from prefdyn.verification import check_theorem
from prefdyn.verification.properties import cross_example_influence as P


def test_every_step_verifies_and_identities_are_symbolic() -> None:
    report = get_theorem("cross-example-influence", "dpo").check()
    assert report.passed
    first_order = report.results[0][1]
    assert [r.method.startswith("symbolic") for r in first_order] == [True, True, True]
    curvature = {claim.label: results for claim, results in report.results}["curvature"]
    assert curvature[0].method.startswith("symbolic")  # f''(eta) = -Var, on every head


def _theorem(label: str, values: dict) -> float:
    """A claim's right-hand side, as the theorem prints it (realised), at ``values``."""
    return P.claimed(label, values)


@pytest.mark.parametrize("loss", ["dpo", "ipo", "hinge", "discopop"])
@pytest.mark.parametrize("vocab", [2, 7, 50])
@pytest.mark.parametrize("y_kind", ["chosen", "rejected", "other"])
def test_slope_and_bounds_against_autograd(loss: str, vocab: int, y_kind: str) -> None:
    # f(eta) = log pi_{W - eta grad}(y | x_o) on a real V-way head, with W_ref near W so that the
    # margin |h_u| < 1 (phi'(h_u) far from 0 for every loss): f'(0) by autograd equals the
    # theorem's slope to float64 precision, and the exact change lies between the theorem's two
    # bounds for every eta of a grid (they hold exactly; 1e-12 absorbs rounding)
    gen = torch.Generator().manual_seed(vocab)
    d, beta = 5, 0.7
    W = torch.randn(vocab, d, generator=gen, dtype=torch.float64).requires_grad_()
    W_ref = W.detach() + 0.1 * torch.randn(vocab, d, generator=gen, dtype=torch.float64)
    g_u, g_o = torch.randn(d, generator=gen, dtype=torch.float64), torch.randn(d, generator=gen, dtype=torch.float64)
    w, l = 0, 1
    y = {"chosen": w, "rejected": l, "other": vocab - 1 if vocab > 2 else w}[y_kind]
    logp = torch.log_softmax(W @ g_u, -1) - torch.log_softmax(W_ref @ g_u, -1)
    h = beta * (logp[w] - logp[l])
    assert abs(float(h.detach())) < 1  # inside the hinge's active region too
    kernels = loss_kernels(loss)
    (grad,) = torch.autograd.grad(kernels.phi(h, torch.tensor(beta, dtype=torch.float64)), W)
    W0 = W.detach()
    f = lambda step: torch.log_softmax((W0 - step * grad) @ g_o, -1)[y]
    step0 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (autograd_slope,) = torch.autograd.grad(f(step0), step0)
    pi = torch.softmax(W0 @ g_o, -1)
    dphi = float(kernels.dphi(h.detach(), torch.tensor(beta, dtype=torch.float64)))
    values = P.binding(
        beta=beta, eta=1.0, pi=pi.tolist(), g_o=g_o.tolist(), g_u=g_u.tolist(), dphi=dphi, y=y, y_w=w, y_l=l
    )
    assert abs(dphi) > 1e-3, "the step must move the head"
    slope = _theorem("first-order influence", values)
    assert float(autograd_slope) == pytest.approx(slope, rel=1e-12, abs=1e-15)
    for eta in (1e-3, 0.1, 1.0, 5.0):
        change = float(f(eta) - f(0.0))
        at = {**values, T.eta: sp.Float(eta)}
        assert change <= _theorem("change upper bound", at) + 1e-12
        assert change >= _theorem("change lower bound", at) - 1e-12


def test_the_statement_itself_is_what_the_derivation_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropping 1[y = y_l] from the displayed slope breaks the instance with y = y_l."""
    monkeypatch.setattr(T, "SLOPE", T.SLOPE.subs(indicator(T.y, T.y_l), 0))
    theorem = T.build(get_loss("dpo"))
    assert theorem.claim("first-order influence").rhs == T.SLOPE  # the edited display is the printed one
    results = theorem.claim("first-order influence").check()
    assert not results[-1].verified and "instance 3" in results[-1].detail


def test_likelihood_displacement_of_the_chosen_answer() -> None:
    """DPO on (x_u, y_w, y_l): y_w gains on x_u itself, and loses on an input whose embedding points
    the other way, <g_o, g_u> < 0; a small step moves it at the first-order rate (to O(eta))."""
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(4, 3, generator=gen, dtype=torch.float64).requires_grad_()
    g_u = torch.randn(3, generator=gen, dtype=torch.float64)
    h = 0.5 * (torch.log_softmax(W @ g_u, -1)[0] - torch.log_softmax(W @ g_u, -1)[1])  # W_ref = 0: uniform reference
    (grad,) = torch.autograd.grad(loss_kernels("dpo").phi(h, torch.tensor(0.5, dtype=torch.float64)), W)
    step = lambda g: float(
        torch.log_softmax((W.detach() - 1e-4 * grad) @ g, -1)[0] - torch.log_softmax(W.detach() @ g, -1)[0]
    )
    assert step(g_u) > 0 > step(-g_u)
    pi = torch.softmax(W.detach() @ -g_u, -1)
    c = float(loss_kernels("dpo").dphi(h.detach(), torch.tensor(0.5, dtype=torch.float64)))
    rate = -0.5 * c * ((1 - pi[0]) - (0 - pi[1])) * float(-g_u @ g_u)
    assert step(-g_u) / 1e-4 == pytest.approx(float(rate), rel=1e-3)


def test_a_wrong_curvature_constant_is_caught(monkeypatch: pytest.MonkeyPatch, seed: int, tmp_path) -> None:
    """Without its eta^2 term the lower bound is false (log pi is strictly concave along the
    step), and the property finds it."""
    original = P._claims()
    dropped = dict(original)
    dropped["change lower bound"] = original["change upper bound"]
    monkeypatch.setattr(P, "_claims", lambda: dropped)
    report = check_theorem("cross-example-influence", examples=100, seed=seed, out=tmp_path)
    assert not report.passed


def test_a_wrong_sign_in_the_derivation_fails() -> None:
    """Flipping the sign of a printed intermediate display (only the display: the instances are the
    theorem's own) makes its step fail."""
    theorem = get_theorem("cross-example-influence", "dpo")
    claim = theorem.claim("first-order influence")
    flipped = dataclasses.replace(claim.steps[1], rhs=-claim.steps[1].rhs)
    claims = [
        Claim(c.label, (c.steps[0], flipped, *c.steps[2:]), c.prose) if c.label == claim.label else c
        for c in theorem.claims
    ]
    results = Theorem(theorem.id, theorem.title, theorem.assumptions, claims).check().results
    first_order = {c.label: rs for c, rs in results}["first-order influence"]
    assert not first_order[1].verified and not first_order[2].verified


@pytest.mark.parametrize("label", ["curvature", "change upper bound", "change lower bound"])
def test_a_weakened_bound_is_caught(label: str) -> None:
    """A bound printed looser than what was proved (still a true bound) fails its final link, which
    is an equality to the derived form."""
    claim = get_theorem("cross-example-influence", "dpo").claim(label)
    looser = {
        "curvature": 2 * claim.rhs,
        "change upper bound": claim.rhs + eta_symbol * sp.Abs(T.SLOPE),
        "change lower bound": claim.rhs - eta_symbol**2 * T.CURVATURE / 2,
    }[label]
    last = dataclasses.replace(claim.steps[-1], rhs=looser)
    assert not last.check(claim.displays()[-2]).verified
