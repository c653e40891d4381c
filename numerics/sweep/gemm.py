r"""Hyper-parameter sweeps over one shared data set, as GEMMs.

Every setting :math:`(\phi, \beta, \eta)` of the grid is one "run" of the batched simulator
over the same embeddings :math:`g \in \mathbb R^{n\times d}`: per step the logit changes of all
:math:`S` settings are one ``[S, d] x [d, n]`` GEMM and their gradients one ``[S, n] x [n, d]``
GEMM (:math:`4Snd` flops per step). Settings that share a loss are batched together; each loss
is one batch.

Example
-------
>>> from prefdyn.numerics import default_scenario, sample_scenario
>>> from prefdyn.numerics.sweep import sweep_settings
>>> sc = default_scenario()
>>> data = sample_scenario(sc, runs=1).shared(0)
>>> out = sweep_settings(data, sc.training, betas=[0.1, 1.0], learning_rates=[0.1, 1.0], losses=["dpo", "ipo"])
>>> len(out.settings), out.result.runs
(8, 8)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from prefdyn.errors import require
from prefdyn.theory.losses import Loss

from ..config import TrainConfig
from ..data import PreferenceData
from ..simulator import SimulationResult, simulate


@dataclass
class SweepResult:
    """``settings[i]`` (``loss``, ``beta``, ``learning_rate``) produced run ``i`` of ``result``
    (``loss`` as the setting's :class:`TrainConfig` holds it: a name, or a user :class:`Loss`)."""

    settings: list[dict[str, Any]]
    result: SimulationResult

    @property
    def diverged(self) -> torch.Tensor:
        """``[S]`` bool: the setting's curves became non-finite (e.g. IPO with a large step)."""
        return ~torch.isfinite(self.result.curves.flatten(1)).all(1)

    def final(self, metric: str, split: str = "train") -> torch.Tensor:
        """``[S, K]`` value of a per-behaviour metric after the last step, per setting."""
        return self.result.curve(metric, split)[:, -1]


def sweep_settings(
    data: PreferenceData,
    config: TrainConfig,
    *,
    betas: Sequence[float],
    learning_rates: Sequence[float],
    losses: Sequence[str | Loss] | None = None,
    seed: int = 0,
    run: int = 0,
    record_every: int = 0,
    device: str | torch.device | None = "cpu",
    dtype: torch.dtype | None = None,
) -> SweepResult:
    """Train every setting of ``losses x betas x learning_rates`` on the shared ``data``.

    Per step, the logit changes of all :math:`S` settings of a loss are one ``[S, d] x [d, n]``
    GEMM and their gradients one ``[S, n] x [n, d]`` GEMM.

    Parameters
    ----------
    data : PreferenceData
        Shared data (``g``: ``[n, d]``), typically run ``run``'s sample.
    config : TrainConfig
        Everything but the swept values.
    betas, learning_rates : sequence of float
        The grid's :math:`\\beta` and :math:`\\eta`.
    losses : sequence of str or Loss, optional
        Registered names or :class:`Loss` objects (default: ``config.loss``); one batch each.
    seed, run : int
        Every setting takes run ``run``'s minibatch shuffle of ``seed``, so settings differ by
        their values only (common random numbers).
    record_every : int
        Record every k steps (default 0: only the ends of phases).
    device, dtype
        Where and in which storage dtype to train.

    Returns
    -------
    SweepResult
        ``settings[i]`` produced run ``i``; a diverging setting does not stop the sweep
        (:attr:`SweepResult.diverged`).

    Examples
    --------
    See the module docstring.
    """
    require(data.runs is None, "data", "a sweep needs shared data (g: [n, d], s: [n])")
    require(len(betas) > 0 and len(learning_rates) > 0, "sweep", "needs at least one beta and one learning rate")
    configs = [config] if losses is None else [replace(config, loss=loss) for loss in losses]
    settings: list[dict[str, Any]] = []
    parts: list[SimulationResult] = []
    for each in configs:
        grid = list(itertools.product(betas, learning_rates))
        settings += [{"loss": each.loss, "beta": float(b), "learning_rate": float(lr)} for b, lr in grid]
        parts.append(
            simulate(
                data,
                each,
                beta=torch.tensor([b for b, _ in grid], dtype=torch.float64),
                learning_rate=torch.tensor([lr for _, lr in grid], dtype=torch.float64),
                seed=seed,
                run_ids=[run] * len(grid),
                record_every=record_every,
                device=device,
                dtype=dtype,
                check_finite=False,
            )
        )
    return SweepResult(settings, SimulationResult.concat(parts))
