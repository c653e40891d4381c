"""Per-run random streams.

Run ``r`` of a simulation with seed ``S`` draws its data and its minibatch shuffles from
generators seeded by :func:`run_seed` ``(S, r, stream)``, never from a stream shared with other
runs. A run's numbers therefore do not depend on how runs are chunked or batched, which is what
makes an interrupted-then-resumed simulation equal to an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch

from prefdyn.errors import require

#: Stream names (stable integers: changing them changes every result).
STREAMS = {"data": 0, "shuffle": 1, "head": 2}


def run_seed(seed: int, run: int, stream: str) -> int:
    """A 63-bit seed for ``(seed, run, stream)`` via NumPy's ``SeedSequence`` (no collisions
    between nearby seeds and run indices)."""
    require(seed >= 0, "seed", f"must be an integer >= 0, not {seed}")
    state = np.random.SeedSequence([seed, run, STREAMS[stream]]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def generator(seed: int, run: int, stream: str) -> torch.Generator:
    """A CPU ``torch.Generator`` for ``(seed, run, stream)``."""
    return torch.Generator().manual_seed(run_seed(seed, run, stream))
