"""Theorems and conjectures checked against simulated training (Hypothesis).

Public API:

* strategies: :func:`~prefdyn.verification.strategies.scenarios` (:mod:`.strategies`), and the
  scenario writer :func:`~prefdyn.numerics.scenario.scenario_toml`;
* built-in theorems: :func:`check_theorem` (:mod:`.runner`), the property registry
  :mod:`.properties` (one module per theorem id);
* conjectures: :func:`load_conjecture`, :func:`check_conjecture` (:mod:`.conjectures`);
* tolerances: :mod:`.tolerance` (false-alarm probability <= 1e-6 per example).
"""

from prefdyn.numerics.scenario import scenario_toml

from .conjectures import Conjecture, check_conjecture, load_conjecture
from .runner import Report, check_theorem
from .strategies import scenarios

__all__ = ["Conjecture", "Report", "check_conjecture", "check_theorem", "load_conjecture", "scenario_toml", "scenarios"]
