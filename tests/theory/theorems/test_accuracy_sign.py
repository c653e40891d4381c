"""The one-step accuracy claims follow the loss's own sign of phi'(0) (DiscoPOP: phi'(0) = 17/4 - 5 log 2 > 0).

DiscoPOP's first population step from W_ref points along -sum_j p_j delta_j, so a behaviour aligned
with the mixture has one-step accuracy 1 - Phi(x) < 1/2, not Phi(x). The printed statement of
``accuracy-gaussian`` (claim ``one step``) is evaluated as printed (its display realised at the
scenario's Gram matrix, weights and noise) and compared with

* the exact population GD of :mod:`prefdyn.numerics.population` (independent tensor code): to 1e-9;
* the simulator (:mod:`prefdyn.numerics.simulator`, finite samples, SGD, one full-batch step): the
  held-out reward accuracy at step 1, averaged over ``RUNS`` independent seeded runs, within a
  Student-t (CLT) interval built from the run-to-run spread, which covers both the test-set noise and
  the training-sample noise of Delta_1. False-alarm budget: ``ALPHA = 1e-6`` two-sided per
  behaviour. The O(1/n) bias of a smooth function of the training mean (n = 8192 pairs) is far below
  the interval's half-width (about 0.01), while the sign error this guards against moves the
  accuracy by 0.85.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from scipy import stats

from prefdyn.numerics.population import GaussianMixture, population_gd
from prefdyn.numerics.sampling import sample_scenario
from prefdyn.numerics.scenario import parse_scenario
from prefdyn.numerics.simulator import simulate
from prefdyn.theory.catalogue import get_theorem
from prefdyn.theory.framework import realise
from prefdyn.theory.losses import get_loss
from prefdyn.theory.theorems import accuracy_gaussian as ag
from prefdyn.theory.theorems import accuracy_subexponential as asub

WEIGHTS, DISTINGUISHABILITY, NOISE = (0.5, 0.5), (3.0, 1.0), 1.0
RUNS, SAMPLES, SEED, ALPHA = 24, 8192, 7, 1e-6


def _binding(behavior: int) -> dict:
    """The scenario's balanced isotropic mixture: orthogonal delta_b of the given lengths."""
    gram = [[DISTINGUISHABILITY[i] ** 2 if i == j else 0.0 for j in range(2)] for i in range(2)]
    return {
        ag.K: 2,
        ag.b: behavior,
        ag.p: lambda i: sp.Float(WEIGHTS[int(i) - 1]),
        ag.G: lambda i, j: sp.Float(gram[int(i) - 1][int(j) - 1]),
        ag.sig: lambda i: sp.Float(NOISE),
    }


def printed_one_step(loss: str, behavior: int) -> float:
    """The printed right side of claim ``one step`` (what a paper would quote), at this mixture."""
    claim = get_theorem("accuracy-gaussian", loss).claim("one step")
    return float(realise(claim.rhs, _binding(behavior)))


def test_discopop_sign_is_certified_positive() -> None:
    value = get_loss("discopop").bind(get_loss("discopop").dphi_at_zero)
    assert sp.simplify(value - (sp.Rational(17, 4) - 5 * sp.log(2))) == 0
    assert get_loss("discopop").dphi_at_zero_sign == 1
    assert get_loss("dpo").dphi_at_zero_sign == -1


@pytest.mark.parametrize("behavior", [1, 2])
def test_printed_one_step_accuracy_mirrors_dpo(behavior: int) -> None:
    """Both branches print the same x: DiscoPOP's 1 - Phi(x) and DPO's Phi(x) sum to one, and the
    aligned behaviour is below 1/2 for DiscoPOP."""
    dpo, disco = printed_one_step("dpo", behavior), printed_one_step("discopop", behavior)
    assert dpo + disco == pytest.approx(1.0, abs=1e-12)
    assert disco < 0.5 < dpo


@pytest.mark.parametrize("loss", ["discopop", "dpo"])
def test_printed_one_step_equals_population_gd(loss: str) -> None:
    mix = GaussianMixture.isotropic(
        weights=list(WEIGHTS), distinguishability=list(DISTINGUISHABILITY), noise=NOISE, dim=3
    )
    out = population_gd(mix, loss, beta=1.0, learning_rate=0.5, steps=1)
    exact = out.accuracy[1, 0]  # step 1, run 0: [K]
    for behavior in (1, 2):
        assert float(exact[behavior - 1]) == pytest.approx(printed_one_step(loss, behavior), abs=1e-9)


def test_discopop_one_step_matches_simulation() -> None:
    scenario = parse_scenario(
        {
            "training": {
                "loss": "discopop",
                "optimizer": "sgd",
                "beta": 1.0,
                "learning_rate": 0.5,
                "steps": 1,
                "samples": SAMPLES,
                "dim": 3,
                "test_fraction": 0.5,
                "runs": RUNS,
                "seed": SEED,
            },
            "behaviors": [
                {"name": f"b{i}", "weight": w, "distinguishability": dist, "noise": NOISE, "positive_fraction": 0.5}
                for i, (w, dist) in enumerate(zip(WEIGHTS, DISTINGUISHABILITY))
            ],
        }
    )
    data = sample_scenario(scenario, RUNS, dtype=torch.float64)
    result = simulate(data, scenario.training, seed=SEED, device="cpu", dtype=torch.float64)
    observed = result.curve("reward_accuracy", "test")[:, -1]  # [R, K], step 1
    half_width_factor = stats.t.ppf(1 - ALPHA / 2, RUNS - 1)
    for behavior in (1, 2):
        runs = observed[:, behavior - 1]
        mean, se = float(runs.mean()), float(runs.std(correction=1)) / math.sqrt(RUNS)
        printed = printed_one_step("discopop", behavior)
        assert abs(mean - printed) <= half_width_factor * se + 1e-12, (behavior, mean, printed, se)
        wrong = 1 - printed  # the old, sign-blind statement Phi(x)
        assert abs(mean - wrong) > half_width_factor * se, "the test must be able to tell the two signs apart"


def test_subexponential_one_step_uses_the_loss_sign() -> None:
    """accuracy-subexponential's one-step bound for DiscoPOP has (-sum_j p_j G_bj)_+: vacuous (-1) for
    both (aligned) behaviours here, and never above the simulated/exact accuracy."""
    claim = get_theorem("accuracy-subexponential", "discopop").claim("one step")
    for behavior in (1, 2):
        binding = {**_binding(behavior), asub.K_b: sp.Float(NOISE * math.sqrt(8 / 3)), asub.alpha: sp.Integer(2)}
        bound = float(realise(claim.rhs, binding))
        assert bound == pytest.approx(-1.0)
        assert bound <= printed_one_step("discopop", behavior)
    dpo = get_theorem("accuracy-subexponential", "dpo").claim("one step")
    bound = float(
        realise(dpo.rhs, {**_binding(1), asub.K_b: sp.Float(NOISE * math.sqrt(8 / 3)), asub.alpha: sp.Integer(2)})
    )
    assert 0 < bound <= printed_one_step("dpo", 1)


# ---------------------------------------------------------------- printed = checked (reviewer's edits)


def _recheck(claim, index: int, rhs) -> bool:
    import dataclasses

    step = claim.steps[index]
    return dataclasses.replace(step, rhs=rhs).check(claim.displays()[index]).verified


def test_span_display_edit_2sigma_to_sigma_fails() -> None:
    claim = get_theorem("accuracy-gaussian", "dpo").claim("span")
    assert claim.steps[-1].check(claim.displays()[-2]).verified
    assert not _recheck(claim, len(claim.steps) - 1, ag.Phi(2 * ag._gram_ratio(ag.a)))  # 2 sigma_b -> sigma_b


def test_discopop_sign_blind_one_step_fails() -> None:
    """The old statement Phi(+x) for DiscoPOP is refuted by the first-principles Delta_1."""
    claim = get_theorem("accuracy-gaussian", "discopop").claim("one step")
    assert isinstance(claim.rhs, sp.Add)  # 1 - Phi(x)
    k = len(claim.steps) - 2  # the link printing Phi(-x)
    assert claim.steps[k].check(claim.displays()[k]).verified
    assert not _recheck(claim, k, ag.Phi(ag._gram_ratio(ag.p)))


def test_policy_accuracy_is_not_the_reward_accuracy() -> None:
    claim = get_theorem("accuracy-gaussian", "dpo").claim("policy accuracy")
    assert claim.steps[0].check(claim.lhs).verified
    assert not _recheck(claim, 0, ag.accuracy_display(ag.Delta))  # w dropped
