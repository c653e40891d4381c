r"""Sweeps: many scenarios, one table.

* :mod:`~prefdyn.numerics.sweep.gemm`: many (loss, :math:`\beta`, :math:`\eta`) settings trained
  on one shared data set as GEMMs (:func:`sweep_settings`), the batched engine;
* :mod:`~prefdyn.numerics.sweep.plan`: sweep files, the grid of cells (:func:`load_sweep`);
* :mod:`~prefdyn.numerics.sweep.cells`: one unit of work (cells that share their data, batched);
* :mod:`~prefdyn.numerics.sweep.store`: the output folder, resumable;
* :mod:`~prefdyn.numerics.sweep.backends`: where units run (this process, a local process pool,
  a Ray cluster);
* :mod:`~prefdyn.numerics.sweep.runner`: :func:`run_sweep`, which ties them together;
* :mod:`~prefdyn.numerics.sweep.phase`: phase diagrams from a sweep table.
"""

from __future__ import annotations

from .gemm import SweepResult, sweep_settings
from .plan import SweepPlan, load_sweep, parse_sweep
from .runner import SweepOutcome, run_sweep

__all__ = ["SweepOutcome", "SweepPlan", "SweepResult", "load_sweep", "parse_sweep", "run_sweep", "sweep_settings"]
