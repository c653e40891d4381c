r"""Which training samples each step uses.

Full batch (``batch_size = 0``): every step averages over all :math:`n_{\text{train}}` training
samples. Minibatch: each epoch, run ``r`` draws a fresh permutation of the training indices
from its own ``shuffle`` stream (:mod:`prefdyn.numerics.seeds`) and takes consecutive batches of
``batch_size``; the last batch of an epoch holds the remainder (``drop_last=False``). Step
:math:`t` uses batch :math:`t \bmod \lceil n_{\text{train}}/B\rceil` of epoch
:math:`\lfloor t / \lceil n_{\text{train}}/B\rceil \rfloor`.

The fast simulator and the reference trainer read the same schedule, so they see the same batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .seeds import generator


class BatchSchedule:
    """Batch indices for the runs ``runs`` (run indices, repeats allowed) of seed ``seed``."""

    def __init__(self, train_indices: torch.Tensor, batch_size: int, seed: int, runs: Sequence[int]):
        self.train_indices = train_indices.cpu()
        self.n_train = int(train_indices.numel())
        self.batch_size = self.n_train if batch_size <= 0 else min(batch_size, self.n_train)
        self.full_batch = self.batch_size == self.n_train and batch_size <= 0
        self.batches_per_epoch = math.ceil(self.n_train / self.batch_size)
        self._generators = [generator(seed, r, "shuffle") for r in runs]
        self._epoch = -1
        self._order: torch.Tensor | None = None

    def indices(self, step: int) -> torch.Tensor:
        """``[R, B_t]`` sample indices of step ``step`` (steps must be asked for in order)."""
        if self.full_batch:
            return self.train_indices.expand(len(self._generators), -1)
        epoch, k = divmod(step, self.batches_per_epoch)
        if epoch != self._epoch:
            if epoch < self._epoch:
                raise ValueError("BatchSchedule: steps must be requested in increasing order")
            while self._epoch < epoch:  # draw (and skip) permutations so epochs stay aligned
                self._order = torch.stack([torch.randperm(self.n_train, generator=g) for g in self._generators])
                self._epoch += 1
        assert self._order is not None
        cols = self._order[:, k * self.batch_size : (k + 1) * self.batch_size]
        return self.train_indices[cols]
