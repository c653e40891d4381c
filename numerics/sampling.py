r"""Structured preference data sampled from a scenario.

For run :math:`r` (its own ``data`` generator, :mod:`prefdyn.numerics.seeds`) and behaviour
:math:`b` with stratified counts :math:`n_b` (train) and :math:`m_b` (test)
(:func:`~prefdyn.numerics.scenario.stratified_counts`), each sample draws

1. the true preference :math:`s^\star = +1` with probability :math:`q_b` (i.i.d. Bernoulli),
2. the embedding :math:`g = \mu_b^{s^\star} + \sigma_b D F z` with :math:`z` i.i.d. unit-variance
   coordinates of the behaviour's noise family (:mod:`prefdyn.numerics.noise`),
3. the observed label :math:`s = -s^\star` with probability :math:`\epsilon_b` (label noise),

so :math:`\mathbb E[s\,g \mid b] = m_b = (1-2\epsilon_b)(q_b\mu_b^+ - (1-q_b)\mu_b^-)`. Samples are
laid out behaviour by behaviour, training samples first, identically in every run. Sampling is
float64 on the CPU (the same seed gives the same data on every device); the result is cast to
the requested dtype and device.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import PreferenceData, ReferenceHead
from .noise import standard_noise
from .scenario import Scenario, behavior_noise_factor, class_means, stratified_counts
from .seeds import generator


def _sample_run(scenario: Scenario, seed: int, run: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = generator(seed, run, "data")
    mu_plus, mu_minus = (torch.from_numpy(m) for m in class_means(scenario))
    gs, ss = [], []
    for b, (behavior, (n_train, n_test)) in enumerate(zip(scenario.behaviors, stratified_counts(scenario))):
        count = n_train + n_test
        positive = torch.rand(count, generator=gen, dtype=torch.float64) < behavior.positive_fraction
        z = standard_noise(
            behavior.distribution, (count, scenario.dim), gen, shape_param=behavior.shape, df=behavior.df
        )
        factor = torch.from_numpy(behavior_noise_factor(behavior, scenario.dim))
        means = torch.where(positive.unsqueeze(1), mu_plus[b], mu_minus[b])
        gs.append(means + z @ factor.T)
        flip = torch.rand(count, generator=gen, dtype=torch.float64) < behavior.label_noise
        ss.append(torch.where(positive, 1.0, -1.0) * torch.where(flip, -1.0, 1.0))
    return torch.cat(gs), torch.cat(ss)


def _layout(scenario: Scenario) -> tuple[torch.Tensor, torch.Tensor]:
    behavior, train = [], []
    for b, (n_train, n_test) in enumerate(stratified_counts(scenario)):
        behavior += [b] * (n_train + n_test)
        train += [True] * n_train + [False] * n_test
    return torch.tensor(behavior), torch.tensor(train)


def reference_matrix(scenario: Scenario, seed: int) -> torch.Tensor | None:
    """The scenario's random ``[V, dim]`` reference head (rows 0, 1: the two responses), or
    ``None`` for :math:`W_{\\mathrm{ref}} = 0`, :math:`V = 2`."""
    ref = scenario.reference
    if ref.vocab == 2 and ref.scale == 0:
        return None
    gen = generator(seed, 0, "head")
    return ref.scale * torch.randn(ref.vocab, scenario.dim, generator=gen, dtype=torch.float64)


def sample_scenario(
    scenario: Scenario,
    runs: int,
    seed: int | None = None,
    *,
    first_run: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> PreferenceData:
    """Data for runs ``first_run .. first_run + runs - 1`` (``g``: ``[runs, n, dim]``).

    ``seed`` defaults to the scenario's ``training.seed``.
    """
    seed = scenario.seed if seed is None else seed
    pairs = [_sample_run(scenario, seed, first_run + r) for r in range(runs)]
    g = torch.stack([p[0] for p in pairs])
    s = torch.stack([p[1] for p in pairs])
    behavior, train = _layout(scenario)
    w_ref = reference_matrix(scenario, seed)
    head = None if w_ref is None else ReferenceHead.from_matrix(w_ref, g)
    data = PreferenceData(g, s, behavior, train, tuple(b.name for b in scenario.behaviors), head)
    return data.to(device, dtype)


def population_margin_vectors(scenario: Scenario) -> np.ndarray:
    r""":math:`m_b = (1-2\epsilon_b)(q_b\mu_b^+ - (1-q_b)\mu_b^-)`, ``[K, dim]``."""
    mu_plus, mu_minus = class_means(scenario)
    q = np.array([b.positive_fraction for b in scenario.behaviors])[:, None]
    eps = np.array([b.label_noise for b in scenario.behaviors])[:, None]
    return (1 - 2 * eps) * (q * mu_plus - (1 - q) * mu_minus)
