r"""Sweep files (TOML): a base scenario, the axes to vary, and what to record.

A sweep is the Cartesian product of its axes; each point (a *cell*) is the base scenario with
the axes' values substituted, parsed and validated like any scenario file. Cells are numbered
row-major in axis order (the last axis varies fastest).

.. code-block:: toml

    [sweep]
    name = "ipo-vs-dpo"
    scenario = "base.toml"        # relative to this file; or "builtin:default" / "builtin:example"
    runs = 8                      # runs per cell (>= 2: the CI is across runs); default: the scenario's
    seed = 0                      # default: the scenario's
    metrics = ["accuracy", "loss"]
    record_every = 10             # default: about ten recorded points per curve
    theory = true                 # record predict()'s curves per cell
    bounds = ["max_learning_rate"]

    [[axes]]
    field = "training.loss"
    values = ["dpo", "ipo", { expr = "log(1 + exp(-(h - gamma)))", params = { gamma = 0.5 } }]

    [[axes]]
    field = "training.learning_rate"
    grid = { start = 0.01, stop = 1.0, num = 5, scale = "log" }

    [[axes]]
    field = "behaviors.weak.label_noise"
    random = { start = 0.0, stop = 0.3, num = 4, seed = 1 }

Axis fields (the ``field`` of an axis):

* ``training.KEY``: any key of the scenario's ``[training]`` table (``loss`` takes registered
  names and user-loss tables); ``training.loss.params.NAME``: a parameter of the base
  scenario's user loss;
* ``behaviors.B.KEY``: a key of behaviour ``B`` (its name or 0-based index); ``behaviors.*.KEY``
  sets it for every behaviour. ``weight`` sets :math:`p_B` and rescales the other behaviours'
  weights in proportion, so that they still sum to one;
* ``geometry.cosine.A.B``: :math:`\cos\angle(\delta_A, \delta_B)`, the overlap of two behaviours
  (both symmetric entries of ``geometry.cosines``);
* ``reference.vocab``, ``reference.scale``.

Values: ``values`` (a list of TOML values), ``grid`` (``start``, ``stop``, ``num``, optional
``scale = "linear" | "log"``) or ``random`` (the same keys and a ``seed``: ``num`` independent
uniform draws, log-uniform with ``scale = "log"``). Integer fields take ``values`` only.

Bounds (per cell): ``max_learning_rate`` (``stable-step-size``'s :math:`\eta_{\max}`),
``learning_rate_ratio`` (:math:`\eta/\eta_{\max}`; above 1 descent is no longer guaranteed),
``accuracy_lower_bound`` (``accuracy-subexponential``'s t-step lower bound on each behaviour's
reward accuracy, at the recorded steps; where the theorem applies).

Every error names its field (``axes[1].grid.num: must be >= 1``) and every cell is validated
before any work starts: a value that makes a bad scenario is reported with the coordinates of the
first such cell (``axes[0].values[2], axes[1].values[0]: makes an invalid scenario (...)``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from prefdyn.errors import PrefdynError, read_toml, require

from ..metrics import REPORTED_METRICS
from ..scenario import TRAINING_KEYS, Behavior, Scenario, builtin_text, parse_scenario, scenario_document

#: The largest sweep accepted (cells), whatever the memory.
MAX_CELLS = 20_000
#: The most runs per cell.
MAX_RUNS = 10_000
#: The largest number of values on one axis.
MAX_AXIS_VALUES = 100_000
#: Theory bounds a sweep can record per cell (module docstring).
BOUNDS = ("max_learning_rate", "learning_rate_ratio", "accuracy_lower_bound")
_SWEEP_KEYS = {"name", "scenario", "runs", "seed", "metrics", "record_every", "theory", "bounds", "max_batch"}
_AXIS_KEYS = {"field", "values", "grid", "random"}
_RANGE_KEYS = {"start", "stop", "num", "scale", "seed"}
_BEHAVIOR_FIELDS = set(Behavior.__dataclass_fields__) - {"name"}
#: Training fields the simulator batches: cells differing only in these share one computation.
BATCHED_FIELDS = ("training.beta", "training.learning_rate")


@dataclass(frozen=True)
class Axis:
    """One axis: the scenario field it sets and its values (TOML values, in order)."""

    field: str
    values: tuple[Any, ...]

    def label(self, i: int) -> str | float:
        """Value ``i`` as a table entry: numbers as floats, a user loss by its name, others as text."""
        value = self.values[i]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value.get("name", "custom") if isinstance(value, dict) else str(value)
        return float(value)


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep (module docstring): ``cells[i]`` is the scenario of cell ``i``."""

    name: str
    base: Scenario
    axes: tuple[Axis, ...]
    cells: tuple[Scenario, ...]
    runs: int
    seed: int
    metrics: tuple[str, ...]
    record_every: int
    theory: bool
    bounds: tuple[str, ...]
    max_batch: int
    document: dict[str, Any] = field(compare=False, repr=False)

    def coordinates(self, cell: int) -> dict[str, str | float]:
        """``{axis field: value label}`` of ``cell``."""
        index = np.unravel_index(cell, [len(a.values) for a in self.axes])
        return {a.field: a.label(int(i)) for a, i in zip(self.axes, index, strict=True)}

    def content_hash(self) -> str:
        """SHA-256 over the cells' scenarios and the recording settings: what a resumed sweep
        must match."""
        parts = [c.content_hash() for c in self.cells]
        parts.append(json.dumps([self.runs, self.seed, self.metrics, self.record_every, self.theory, self.bounds]))
        parts.append(str(self.max_batch))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def load_sweep(path: str | Path) -> SweepPlan:
    """The sweep of the TOML file at ``path`` (module docstring).

    Parameters
    ----------
    path : str or Path
        The sweep file; its ``scenario`` is read relative to the file's folder.

    Returns
    -------
    SweepPlan
        Every cell validated.

    Raises
    ------
    PrefdynError
        A missing or malformed file, or any rule of the module docstring broken; the message
        names the field.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> text = '''
    ... [sweep]
    ... scenario = "builtin:default"
    ... runs = 2
    ... [[axes]]
    ... field = "training.beta"
    ... values = [0.5, 1.0]
    ... [[axes]]
    ... field = "training.loss"
    ... values = ["dpo", "ipo"]
    ... '''
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = pathlib.Path(folder) / "sweep.toml"
    ...     _ = file.write_text(text)
    ...     plan = load_sweep(file)
    >>> len(plan.cells), plan.coordinates(1)
    (4, {'training.beta': 0.5, 'training.loss': 'ipo'})
    """
    file = Path(path)
    return parse_sweep(read_toml(file, "sweep"), file.parent, name=file.stem)


def parse_sweep(doc: dict[str, Any], folder: Path, name: str = "sweep") -> SweepPlan:
    """Validate a parsed sweep document (module docstring); ``folder`` resolves ``scenario``.

    Parameters
    ----------
    doc : dict
        The TOML document.
    folder : Path
        The folder of the sweep file.
    name : str
        The default name.

    Returns
    -------
    SweepPlan
        Every cell validated.

    Raises
    ------
    PrefdynError
        Any rule broken, naming the field.

    Examples
    --------
    >>> plan = parse_sweep({"sweep": {"scenario": "builtin:default", "runs": 2},
    ...                     "axes": [{"field": "behaviors.*.label_noise", "values": [0.0, 0.2]}]}, Path("."))
    >>> [c.behaviors[0].label_noise for c in plan.cells]
    [0.0, 0.2]
    """
    _known(doc, {"sweep", "axes"}, "")
    table = doc.get("sweep")
    if not isinstance(table, dict):
        raise PrefdynError("sweep: the [sweep] table is required")
    _known(table, _SWEEP_KEYS, "sweep.")
    base = _base_scenario(table.get("scenario"), folder)
    runs = _whole(table.get("runs", base.runs), "sweep.runs", minimum=2)
    require(runs <= MAX_RUNS, "sweep.runs", f"at most {MAX_RUNS:,} runs per cell")
    seed = _whole(table.get("seed", base.seed), "sweep.seed", minimum=0)
    base = replace(base, runs=runs, seed=seed)  # every cell's default; training.runs/seed axes override
    metrics = table.get("metrics", ["accuracy", "loss"])
    require(
        isinstance(metrics, list) and bool(metrics) and all(m in REPORTED_METRICS for m in metrics),
        "sweep.metrics",
        f"must be a non-empty list of {', '.join(REPORTED_METRICS)}",
    )
    raw_axes = doc.get("axes")
    if not isinstance(raw_axes, list) or not raw_axes:
        raise PrefdynError("axes: at least one [[axes]] table is required")
    axes = tuple(_parse_axis(a, i, base) for i, a in enumerate(raw_axes))
    written: dict[tuple[Any, ...], int] = {}
    for i, axis in enumerate(axes):
        for key in _writes(axis.field, base):
            require(key not in written, f"axes[{i}].field", f"sets what axes[{written.get(key)}] sets already")
            written[key] = i
        labels = [axis.label(j) for j in range(len(axis.values))]
        require(
            len(set(labels)) == len(labels),
            f"axes[{i}].values",
            "must be distinct (give user losses distinct names: name = ...)",
        )
    total = math.prod(len(a.values) for a in axes)
    require(total <= MAX_CELLS, "axes", f"the grid has {total:,} cells; at most {MAX_CELLS:,} are accepted")
    cells = tuple(_cell(base, axes, index) for index in itertools.product(*(range(len(a.values)) for a in axes)))
    for i, axis in enumerate(axes):
        if axis.field == "training.runs":
            ok = all(isinstance(v, int) and 2 <= v <= MAX_RUNS for v in axis.values)
            require(ok, f"axes[{i}].values", f"runs per cell must lie in [2, {MAX_RUNS:,}] (the CI is across runs)")
    steps = max(c.training.steps for c in cells)
    record_every = _whole(table.get("record_every", max(1, steps // 10)), "sweep.record_every", minimum=0)
    theory = table.get("theory", True)
    require(isinstance(theory, bool), "sweep.theory", "must be true or false")
    bounds = table.get("bounds", [])
    require(
        isinstance(bounds, list) and all(b in BOUNDS for b in bounds),
        "sweep.bounds",
        f"must be a list of {', '.join(BOUNDS)}",
    )
    max_batch = _whole(table.get("max_batch", 256), "sweep.max_batch", minimum=1)
    name_value = table.get("name", name)
    require(isinstance(name_value, str) and bool(name_value.strip()), "sweep.name", "must be a non-empty string")
    return SweepPlan(
        name=name_value.strip(),
        base=base,
        axes=axes,
        cells=cells,
        runs=runs,
        seed=seed,
        metrics=tuple(metrics),
        record_every=record_every,
        theory=theory,
        bounds=tuple(bounds),
        max_batch=max_batch,
        document=doc,
    )


def _known(table: dict[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PrefdynError(f"{prefix}{unknown[0]}: unknown field (known: {', '.join(sorted(allowed))})")


def _whole(value: Any, where: str, minimum: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    require(ok, where, f"must be an integer >= {minimum}")
    return int(value)


def _base_scenario(value: Any, folder: Path) -> Scenario:
    require(isinstance(value, str) and bool(value), "sweep.scenario", "is required: a scenario file or builtin:NAME")
    if value.startswith("builtin:"):
        name = value.removeprefix("builtin:")
        require(name in ("default", "example"), "sweep.scenario", "builtin scenarios are default and example")
        import tomllib

        return parse_scenario(tomllib.loads(builtin_text(name)), name)
    path = folder / value
    doc = read_toml(path, "sweep.scenario")
    try:
        return parse_scenario(doc, path.stem)
    except PrefdynError as err:
        raise PrefdynError(f"sweep.scenario: {path}: {err}") from None


def _parse_axis(raw: Any, i: int, base: Scenario) -> Axis:
    where = f"axes[{i}]"
    require(isinstance(raw, dict), where, "must be a table")
    _known(raw, _AXIS_KEYS, f"{where}.")
    path = raw.get("field")
    require(isinstance(path, str), f"{where}.field", "is required: a scenario field such as training.beta")
    current = _resolve(path, base, f"{where}.field")
    given = [k for k in ("values", "grid", "random") if k in raw]
    require(len(given) == 1, where, "needs exactly one of values, grid or random")
    kind = given[0]
    if kind == "values":
        values = raw["values"]
        require(isinstance(values, list) and bool(values), f"{where}.values", "must be a non-empty list")
        require(len(values) <= MAX_AXIS_VALUES, f"{where}.values", f"at most {MAX_AXIS_VALUES:,} values")
        return Axis(path, tuple(values))
    integer = isinstance(current, int) and not isinstance(current, bool)
    require(
        isinstance(current, float) and not integer, f"{where}.{kind}", "only real-valued fields take a grid or random"
    )
    return Axis(path, tuple(_range(raw[kind], f"{where}.{kind}", random=kind == "random")))


def _range(spec: Any, where: str, random: bool) -> list[float]:
    require(isinstance(spec, dict), where, "must be a table {start, stop, num, scale}")
    allowed = _RANGE_KEYS if random else _RANGE_KEYS - {"seed"}
    _known(spec, allowed, f"{where}.")
    for key in ("start", "stop"):
        x = spec.get(key)
        ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        require(ok, f"{where}.{key}", "is required: a finite number")
    num = spec.get("num")
    ok = isinstance(num, int) and not isinstance(num, bool) and 1 <= num <= MAX_AXIS_VALUES
    require(ok, f"{where}.num", f"must be an integer in [1, {MAX_AXIS_VALUES:,}]")
    scale = spec.get("scale", "linear")
    require(scale in ("linear", "log"), f"{where}.scale", "must be linear or log")
    lo, hi = float(spec["start"]), float(spec["stop"])
    require(hi >= lo, f"{where}.stop", "must be >= start")
    if scale == "log":
        require(lo > 0, f"{where}.start", "must be > 0 on a log scale")
        lo, hi = math.log(lo), math.log(hi)
    if random:
        seed = spec.get("seed", 0)
        require(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, f"{where}.seed", "must be >= 0")
        points = np.random.default_rng(seed).uniform(lo, hi, size=num)
    else:
        points = np.linspace(lo, hi, num)
    return [float(math.exp(p)) if scale == "log" else float(p) for p in points]


def _behavior_index(base: Scenario, key: str, where: str) -> list[int]:
    names = [b.name for b in base.behaviors]
    if key == "*":
        return list(range(len(names)))
    if key in names:
        return [names.index(key)]
    ok = key.isascii() and key.isdecimal() and int(key) < len(names)
    require(ok, where, f"no behaviour {key!r} (behaviours: {', '.join(names)}; or a 0-based index)")
    return [int(key)]


def _resolve(path: str, base: Scenario, where: str) -> Any:
    """The base scenario's current value of ``path`` (validating the path)."""
    doc = scenario_document(base)
    parts = path.split(".")
    if parts[:3] == ["training", "loss", "params"] and len(parts) == 4:
        loss = doc["training"]["loss"]
        params = loss.get("params", {}) if isinstance(loss, dict) else {}
        require(parts[3] in params, where, f"the base scenario's loss has no parameter {parts[3]!r}")
        return float(params[parts[3]])
    if parts[0] == "training" and len(parts) == 2:
        require(parts[1] in TRAINING_KEYS, where, f"unknown training field {parts[1]!r}")
        return doc["training"].get(parts[1])
    if parts[0] == "behaviors" and len(parts) == 3:
        require(parts[2] in _BEHAVIOR_FIELDS, where, f"unknown behaviour field {parts[2]!r}")
        require(parts[1:] != ["*", "weight"], where, "behaviors.*.weight cannot be swept (the weights sum to 1)")
        index = _behavior_index(base, parts[1], where)[0]
        return getattr(base.behaviors[index], parts[2])
    if parts[0] == "geometry" and len(parts) == 4 and parts[1] == "cosine":
        a, b = (_behavior_index(base, p, where)[0] for p in parts[2:])
        require(a != b and parts[2] != "*" and parts[3] != "*", where, "needs two different behaviours")
        return 0.0 if base.cosines is None else float(base.cosines[a][b])
    if parts[0] == "reference" and len(parts) == 2:
        require(parts[1] in ("vocab", "scale"), where, f"unknown reference field {parts[1]!r}")
        return {"vocab": base.reference.vocab, "scale": float(base.reference.scale)}[parts[1]]
    raise PrefdynError(
        f"{where}: unknown field {path!r} (training.KEY, training.loss.params.NAME, behaviors.NAME.KEY, behaviors.*.KEY, "
        "geometry.cosine.A.B, reference.vocab, reference.scale)"
    )


def _writes(path: str, base: Scenario) -> set[tuple[Any, ...]]:
    """The scenario entries an axis on ``path`` sets (a weight sets every behaviour's weight, a
    loss parameter sets the loss), so that two axes never set the same entry."""
    parts = path.split(".")
    if parts[0] == "training":
        return {("training", parts[1])}
    if parts[0] == "geometry":
        a, b = (_behavior_index(base, p, path)[0] for p in parts[2:])
        return {("cosine", min(a, b), max(a, b))}
    if parts[0] == "behaviors":
        if parts[2] == "weight":
            return {("behaviors", k, "weight") for k in range(len(base.behaviors))}
        return {("behaviors", k, parts[2]) for k in _behavior_index(base, parts[1], path)}
    return {tuple(parts)}


def _cell(base: Scenario, axes: tuple[Axis, ...], index: tuple[int, ...]) -> Scenario:
    doc = scenario_document(base)
    for i, (axis, j) in enumerate(zip(axes, index, strict=True)):
        _substitute(doc, base, axis.field, copy.deepcopy(axis.values[j]), f"axes[{i}].values[{j}]")
    try:
        return parse_scenario(doc, base.name)
    except PrefdynError as err:
        where = ", ".join(f"axes[{i}].values[{j}]" for i, j in enumerate(index))
        raise PrefdynError(f"{where}: makes an invalid scenario ({err})") from None


def _substitute(doc: dict[str, Any], base: Scenario, path: str, value: Any, where: str) -> None:
    parts = path.split(".")
    if parts[:3] == ["training", "loss", "params"]:
        doc["training"]["loss"]["params"][parts[3]] = value
    elif parts[0] in ("training", "reference"):
        doc.setdefault(parts[0], {})[parts[1]] = value
    elif parts[0] == "geometry":
        a, b = (_behavior_index(base, p, where)[0] for p in parts[2:])
        K = len(base.behaviors)
        cosines = doc.setdefault("geometry", {}).setdefault("cosines", np.eye(K).tolist())
        cosines[a][b] = cosines[b][a] = value
    elif parts[2] == "weight":
        require(isinstance(value, (int, float)) and not isinstance(value, bool), where, "a weight must be a number")
        require(0 < value < 1 or len(base.behaviors) == 1, where, "a weight must lie in (0, 1)")
        (b,) = _behavior_index(base, parts[1], where)
        rest = sum(t["weight"] for k, t in enumerate(doc["behaviors"]) if k != b)
        for k, t in enumerate(doc["behaviors"]):
            t["weight"] = float(value) if k == b else t["weight"] * (1 - value) / rest
    else:
        for b in _behavior_index(base, parts[1], where):
            doc["behaviors"][b][parts[2]] = value
