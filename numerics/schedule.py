r"""Which training samples each step uses.

Full batch (``batch_size = 0``): every step averages over all :math:`n` training samples.
Minibatches of :math:`B = \min(\text{batch\_size}, n)` samples come from run ``r``'s own
``shuffle`` stream (:mod:`prefdyn.numerics.seeds`), which draws one permutation
:math:`\pi_{r,0}, \pi_{r,1}, \dots` of the training indices after another:

* ``batching = "epoch"`` (the default): permutation :math:`\pi_{r,e}` is epoch :math:`e`, cut into
  :math:`m` consecutive batches of :math:`B`; step :math:`t` uses batch :math:`t \bmod m` of epoch
  :math:`\lfloor t/m \rfloor`. With ``drop_last = false``, :math:`m = \lceil n/B\rceil` and the
  last batch of an epoch holds the remainder :math:`n - (m-1)B` (900 samples in batches of 128:
  seven of 128, then one of 4); with ``drop_last = true``, :math:`m = \lfloor n/B\rfloor` and the
  remainder is left out of that epoch, so every step averages over exactly :math:`B` samples;
* ``batching = "independent"``: step :math:`t` uses the first :math:`B` entries of
  :math:`\pi_{r,t}`: :math:`B` distinct samples, uniformly drawn, independently of every other
  step (sampling without replacement within a step, with replacement across steps).

Either way step :math:`t`'s batch is a function of ``(seed, r, t)`` alone, whatever other runs
are trained beside run ``r``, so chunked, resumed and distributed runs see the same batches.
The fast simulator and the reference trainer read the same schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .config import TrainConfig
from .seeds import generator


class BatchSchedule:
    """Batch indices for the runs ``runs`` (run indices, repeats allowed) of seed ``seed``.

    Parameters
    ----------
    train_indices
        ``[n]`` indices of the training samples.
    batch_size
        :math:`B`; 0 for full batch (then ``batching`` and ``drop_last`` play no part).
    seed, runs
        The streams ``(seed, r, "shuffle")`` of each run index ``r`` in ``runs``.
    batching
        ``"epoch"`` or ``"independent"`` (module docstring).
    drop_last
        Whether the epoch schedule leaves an epoch's smaller last batch out.
    """

    def __init__(
        self,
        train_indices: torch.Tensor,
        batch_size: int,
        seed: int,
        runs: Sequence[int],
        *,
        batching: str = "epoch",
        drop_last: bool = False,
    ):
        self.train_indices = train_indices.cpu()
        self.n_train = int(train_indices.numel())
        self.batch_size = self.n_train if batch_size <= 0 else min(batch_size, self.n_train)
        self.full_batch = self.batch_size == self.n_train and batch_size <= 0
        if batching == "independent":
            self.batches_per_draw = 1
        else:
            rounding = math.floor if drop_last else math.ceil
            self.batches_per_draw = rounding(self.n_train / self.batch_size)
        self._generators = [generator(seed, r, "shuffle") for r in runs]
        self._draws = 0
        self._order: torch.Tensor | None = None

    @classmethod
    def from_config(
        cls, train_indices: torch.Tensor, config: TrainConfig, seed: int, runs: Sequence[int]
    ) -> BatchSchedule:
        """The schedule of ``config``'s ``batch_size``, ``batching`` and ``drop_last``."""
        return cls(train_indices, config.batch_size, seed, runs, batching=config.batching, drop_last=config.drop_last)

    def indices(self, step: int) -> torch.Tensor:
        """``[R, B]`` sample indices of step ``step`` (the last epoch batch may be smaller; steps
        must be asked for in increasing order, and may skip)."""
        if self.full_batch:
            return self.train_indices.expand(len(self._generators), -1)
        draw, k = divmod(step, self.batches_per_draw)
        if draw + 1 < self._draws:
            raise ValueError("BatchSchedule: steps must be requested in increasing order")
        while self._draws <= draw:  # draw (and skip) permutations so that draws stay aligned
            self._order = torch.stack([torch.randperm(self.n_train, generator=g) for g in self._generators])
            self._draws += 1
        assert self._order is not None
        cols = self._order[:, k * self.batch_size : (k + 1) * self.batch_size]
        return self.train_indices[cols]
