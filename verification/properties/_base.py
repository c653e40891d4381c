r"""The property type and the shared simulation helpers of the built-in properties.

A :class:`Property` pairs a Hypothesis strategy of examples with a check returning an
:class:`~prefdyn.verification.outcome.Outcome`. Simulations go through the numerics layer
(:func:`~prefdyn.numerics.sample_scenario` then :func:`~prefdyn.numerics.simulate`, in float64 on
the chosen device), seeded by the scenario's own ``training.seed``, which Hypothesis draws: an
example is a pure function of what Hypothesis generated, so every failure replays and shrinks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from prefdyn.numerics import PreferenceData, Scenario, SimulationResult, sample_scenario, simulate
from prefdyn.numerics.config import TrainConfig
from prefdyn.numerics.scenario import behavior_noise_factor, class_means, stratified_counts

from ..outcome import Outcome


@dataclass(frozen=True)
class Property:
    """``check(example, device)`` over ``examples``; ``kind`` is ``identity`` or ``bound``."""

    theorem_id: str
    kind: str
    examples: st.SearchStrategy[Any]
    check: Callable[[Any, str], Outcome]


def train(
    scenario: Scenario, device: str, *, config: TrainConfig | None = None, record_every: int = 0
) -> tuple[PreferenceData, SimulationResult]:
    """Sample ``scenario.runs`` runs (float64) and train them with ``config`` (default: the
    scenario's)."""
    data = sample_scenario(scenario, scenario.runs, dtype=torch.float64)
    result = simulate(
        data,
        config or scenario.training,
        seed=scenario.seed,
        record_every=record_every,
        device=device,
        dtype=torch.float64,
    )
    return data, result


def with_steps(config: TrainConfig, steps: int) -> TrainConfig:
    """``config`` truncated/extended to one original-label phase of ``steps`` steps."""
    return replace(config, phases=(replace(config.phases[0], steps=steps, labels="original"),))


def preference_direction(result: SimulationResult) -> torch.Tensor:
    r""":math:`\Delta = (e_1 - e_2)^\top(W - W_{\rm ref})` per run, ``[R, d]``."""
    return result.rows[:, 0] - result.rows[:, 1]


def means(scenario: Scenario) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`(\mu^+, \mu^-)`, ``[K, d]`` each."""
    plus, minus = class_means(scenario)
    return torch.from_numpy(plus), torch.from_numpy(minus)


def covariances(scenario: Scenario) -> torch.Tensor:
    r""":math:`\Sigma_b = \sigma_b^2 D C D` (both classes), ``[K, d, d]``."""
    factors = [behavior_noise_factor(b, scenario.dim) for b in scenario.behaviors]
    return torch.from_numpy(np.stack([f @ f.T for f in factors]))


def per_behavior(scenario: Scenario, name: str) -> torch.Tensor:
    """A behaviour field as a ``[K]`` float64 tensor."""
    return torch.tensor([float(getattr(b, name)) for b in scenario.behaviors], dtype=torch.float64)


def loss_name(scenario: Scenario) -> str:
    """The scenario's loss as a registry name."""
    loss = scenario.training.loss
    return loss if isinstance(loss, str) else loss.name


def train_counts(scenario: Scenario) -> torch.Tensor:
    """Training samples per behaviour, ``[K]``."""
    return torch.tensor([n for n, _ in stratified_counts(scenario)], dtype=torch.float64)
