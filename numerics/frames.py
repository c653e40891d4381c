r"""One tidy table for simulated and predicted curves.

:meth:`SimulationResult.to_frame <prefdyn.numerics.simulator.SimulationResult.to_frame>` and
:meth:`Prediction.to_frame <prefdyn.numerics.predict.Prediction.to_frame>` both convert their
``summary()`` here, so the two tables have the same columns and stack (``pandas.concat``) or join
on ``(metric, split, step, behavior)``. One row per curve point:

* ``metric`` (str): a per-behaviour metric (``loss``, ``accuracy``, ``policy_accuracy``,
  ``reward_accuracy``, ``margin``, ``margin_std``, ``chosen_logp_change``,
  ``rejected_logp_change``, or a bound such as ``accuracy_lower_bound``) or a weight-change norm
  (``weight_change_opnorm``, ``weight_change_frobenius``);
* ``split`` (str or ``None``): the data a per-behaviour value averages over -- ``train`` or
  ``test`` for a simulation, ``population`` (the :math:`n \to \infty` law) for a prediction;
  ``None`` for a norm, which belongs to the head, not to data;
* ``step`` (int): the optimisation step (0 = before training);
* ``behavior`` (str or ``None``): the behaviour's name; ``None`` for a norm;
* ``mean`` (float): the mean across runs (a prediction: the predicted value);
* ``std`` (float): the population standard deviation across runs (0 for one run and for a
  prediction, which has no run-to-run spread).

A quantity that does not exist (a prediction's log-prob change without an exact form, a test split
the scenario does not hold) has no row; no value is ever a NaN placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefdyn.errors import require

if TYPE_CHECKING:
    import pandas as pd

#: The columns of :func:`summary_frame`, in order.
FRAME_COLUMNS = ("metric", "split", "step", "behavior", "mean", "std")
#: Their dtypes: text columns are ``object``, so an absent split or behaviour stays ``None``
#: (pandas' string dtype would make it NaN).
FRAME_DTYPES: dict[str, Any] = {
    "metric": object,
    "split": object,
    "step": "int64",
    "behavior": object,
    "mean": "float64",
    "std": "float64",
}


def _is_band(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"mean", "std"}


def summary_frame(summary: Mapping[str, Any], split: str) -> pd.DataFrame:
    """The tidy table (module docstring) of a ``summary()`` document.

    Parameters
    ----------
    summary : Mapping
        A document in the shape of :meth:`~prefdyn.numerics.simulator.SimulationResult.summary`:
        ``steps``; ``behaviors``, each with a ``name``, curves ``{"mean": [...], "std": [...]}``
        and optionally a ``test`` table of such curves; top-level norm curves.
    split : str
        The ``split`` of each behaviour's own curves (those under ``test`` are ``test``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FRAME_COLUMNS`, one row per (metric, split, step, behavior).

    Examples
    --------
    >>> doc = {"steps": [0, 1], "behaviors": [{"name": "a", "loss": {"mean": [0.7, 0.6], "std": [0.0, 0.1]}}],
    ...        "weight_change_opnorm": {"mean": [0.0, 0.5], "std": [0.0, 0.0]}}
    >>> summary_frame(doc, "train").to_dict("list")["behavior"]
    ['a', 'a', None, None]
    """
    import pandas as pd

    steps = list(summary["steps"])
    columns: dict[str, list[Any]] = {name: [] for name in FRAME_COLUMNS}

    def add(metric: str, where: str | None, behavior: str | None, band: Mapping[str, list[float]]) -> None:
        n = len(steps)
        require(len(band["mean"]) == len(band["std"]) == n, metric, f"a curve needs one value per step ({n})")
        columns["metric"] += [metric] * n
        columns["split"] += [where] * n
        columns["step"] += steps
        columns["behavior"] += [behavior] * n
        columns["mean"] += [float(x) for x in band["mean"]]
        columns["std"] += [float(x) for x in band["std"]]

    for entry in summary["behaviors"]:
        for metric, value in entry.items():
            if _is_band(value):
                add(metric, split, entry["name"], value)
        for metric, value in entry.get("test", {}).items():
            add(metric, "test", entry["name"], value)
    for metric, value in summary.items():
        if _is_band(value):
            add(metric, None, None, value)
    return pd.DataFrame({name: pd.Series(columns[name], dtype=FRAME_DTYPES[name]) for name in FRAME_COLUMNS})
