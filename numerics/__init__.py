"""Tensors: theory evaluated on torch, structured sampling, batched simulated training.

Public API (thin facade over the modules below):

* scenarios: :func:`load_scenario`, :func:`parse_scenario`, :func:`default_scenario`,
  :class:`Scenario` (:mod:`~prefdyn.numerics.scenario`);
* data: :class:`PreferenceData`, :class:`ReferenceHead` (:mod:`~prefdyn.numerics.data`),
  :func:`sample_scenario` (:mod:`~prefdyn.numerics.sampling`), :func:`separable`,
  :class:`Separability` (linear separability and the SVM direction, :mod:`~prefdyn.numerics.separable`);
* training: :class:`TrainConfig`, :class:`Phase` (:mod:`~prefdyn.numerics.config`),
  :func:`simulate`, :class:`SimulationResult` (:mod:`~prefdyn.numerics.simulator`),
  :func:`sweep_settings` (settings batched over one data set), :func:`run_scenario` (resumable,
  :mod:`~prefdyn.numerics.runner`), :func:`train_reference` (autograd baseline,
  :mod:`~prefdyn.numerics.reference`);
* theory on tensors: :func:`evaluate`, :func:`evaluate_theorem`, :func:`parameter_grid`,
  :func:`loss_kernels`, :func:`torch_lambdify` (:mod:`~prefdyn.numerics.evaluate`);
* theory curves: :func:`predict`, :class:`Prediction` (:mod:`~prefdyn.numerics.predict`; the
  population flow itself is :mod:`~prefdyn.numerics.population`);
* sweeps over any scenario fields: :func:`load_sweep`, :func:`run_sweep`
  (:mod:`~prefdyn.numerics.sweep`).
"""

from .config import Phase, TrainConfig
from .data import PreferenceData, ReferenceHead
from .evaluate import evaluate, evaluate_theorem, loss_kernels, parameter_grid, torch_lambdify
from .predict import Prediction, predict
from .reference import train_reference
from .runner import run_scenario
from .sampling import sample_scenario
from .scenario import Scenario, default_scenario, load_scenario, parse_scenario
from .separable import Separability, separable
from .simulator import SimulationResult, simulate
from .sweep import SweepOutcome, SweepPlan, SweepResult, load_sweep, run_sweep, sweep_settings

__all__ = [
    "Phase",
    "Prediction",
    "PreferenceData",
    "ReferenceHead",
    "Scenario",
    "Separability",
    "SimulationResult",
    "SweepOutcome",
    "SweepPlan",
    "SweepResult",
    "TrainConfig",
    "default_scenario",
    "evaluate",
    "evaluate_theorem",
    "load_scenario",
    "load_sweep",
    "loss_kernels",
    "parameter_grid",
    "parse_scenario",
    "predict",
    "run_scenario",
    "run_sweep",
    "sample_scenario",
    "separable",
    "simulate",
    "sweep_settings",
    "torch_lambdify",
    "train_reference",
]
