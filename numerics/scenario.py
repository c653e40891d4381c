r"""Scenario files (TOML): the structured preference distribution and how to train on it.

Tables (``prefdyn scenario --example`` prints a commented template):

* ``[training]``: ``loss``, ``beta``, ``learning_rate``, ``steps``, ``samples``, ``batch_size``,
  ``optimizer``, ``seed``, ``dim``, ``test_fraction`` and optionally ``runs``,
  ``adam_betas``, ``adam_eps``, ``weight_decay``, ``batching`` (``epoch``, the default, or
  ``independent``) and ``drop_last`` (default false): how minibatches are drawn
  (:mod:`prefdyn.numerics.schedule`). ``loss`` is a registered loss's name or a user
  loss :math:`\phi(h)`, a table ``{ expr = "log(1 + exp(-(h - gamma)))", params = { gamma = 0.5 } }``
  (``expr`` in the margin ``h``, ``beta`` and the ``params`` names, read by the whitelisting parser
  of :mod:`prefdyn.theory.expressions`; ``params`` optional, each a finite number used by ``expr``;
  optional ``name``, default ``custom``): :func:`parse_loss`;
* ``[[behaviors]]`` (one per behaviour :math:`b`): ``name``, ``weight`` :math:`p_b`,
  ``positive_fraction`` :math:`q_b`, ``distinguishability`` :math:`\|\delta_b\|`, ``noise``
  :math:`\sigma_b`, ``distribution``, ``offset`` :math:`\|c_b\|`, ``label_noise``
  :math:`\epsilon_b` and optionally ``shape`` (gennorm :math:`\alpha`), ``df`` (Student-t),
  ``noise_scales`` (``dim`` per-coordinate multipliers: diagonal covariance) and
  ``noise_correlation`` (``dim x dim`` correlation matrix: full covariance);
* ``[geometry]`` ``cosines``: the :math:`K\times K` matrix of :math:`\cos\angle(\delta_b,
  \delta_{b'})` (identity when absent);
* ``[reference]`` ``vocab`` :math:`V \ge 2` and ``scale``: a random reference head with
  i.i.d. :math:`N(0, \text{scale}^2)` entries (seeded); absent means :math:`W_{\mathrm{ref}} = 0`
  with :math:`V = 2`;
* ``[[phases]]`` ``name``, ``steps``, ``labels`` (``original`` | ``flipped``); absent means one
  phase of ``training.steps`` steps.

Class means: :math:`\mu_b^\pm = c_b \pm \delta_b/2`; the :math:`\delta_b` directions are the rows
of a factor :math:`Q` with :math:`QQ^\top = ` ``cosines`` in the first :math:`K` coordinates, and
every :math:`c_b` points along coordinate :math:`K` (orthogonal to all :math:`\delta`).

:func:`scenario_toml` writes a :class:`Scenario` back as a scenario file, from its fields (not from
the document it was read from), so that ``parse_scenario(tomllib.loads(scenario_toml(s))) == s``.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp
import tomli_w

from prefdyn.errors import ErrorCollector, PrefdynError, read_toml, require
from prefdyn.theory.losses import REGISTRY, Loss, loss_from_expression

from .config import Phase, TrainConfig, canonical_loss, require_finite
from .noise import DISTRIBUTIONS

#: Relative tolerance for "weights sum to 1", "cosines has a unit diagonal", PSD checks.
TOLERANCE = 1e-6
#: Largest random reference vocabulary (real LM heads, up to ~256k tokens, fit well within it).
MAX_VOCAB = 1_000_000
#: Smallest gennorm shape alpha (alpha = 0.1 already has kurtosis ~ 3e6).
MIN_SHAPE = 0.1


@dataclass(frozen=True)
class Behavior:
    """One behaviour's class-conditional embedding law (see the module docstring)."""

    name: str
    weight: float
    positive_fraction: float = 0.5
    distinguishability: float = 1.0
    noise: float = 1.0
    distribution: str = "gaussian"
    offset: float = 0.0
    label_noise: float = 0.0
    shape: float = 2.0
    df: float = 5.0
    noise_scales: tuple[float, ...] | None = None
    noise_correlation: tuple[tuple[float, ...], ...] | None = None


@dataclass(frozen=True)
class Reference:
    """A random :math:`V`-way reference head, entries :math:`N(0, \\text{scale}^2)`."""

    vocab: int = 2
    scale: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: behaviours, geometry, sampling sizes and the training config.

    Made by :func:`parse_scenario` (or :func:`load_scenario`) from a scenario document, which
    :func:`scenario_toml` writes back.

    Examples
    --------
    >>> scenario = default_scenario()
    >>> [b.name for b in scenario.behaviors]
    ['very-distinct', 'distinct', 'subtle', 'faint']
    >>> scenario.training.loss, scenario.training.steps
    ('dpo', 100)
    """

    name: str
    behaviors: tuple[Behavior, ...]
    training: TrainConfig
    samples: int
    dim: int
    seed: int = 0
    runs: int = 8
    test_fraction: float = 0.0
    cosines: tuple[tuple[float, ...], ...] | None = None
    reference: Reference = field(default_factory=Reference)
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """The scenario of a TOML file (:func:`load_scenario`; every error names its field).

        Examples
        --------
        >>> from importlib.resources import files
        >>> example = files("prefdyn.numerics").joinpath("scenarios/example.toml")
        >>> Scenario.load(str(example)).training.loss
        'dpo'
        """
        return load_scenario(path)

    def to_toml(self) -> str:
        """The scenario document (:func:`scenario_toml`); :meth:`load` of it gives this scenario."""
        return scenario_toml(self)

    @property
    def weights(self) -> np.ndarray:
        return np.array([b.weight for b in self.behaviors])

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the parsed scenario (defaults filled in; a user loss
        as its ``{expr, params, name}`` table)."""
        doc = {k: v for k, v in asdict(self).items() if k != "source"}
        doc["training"]["loss"] = loss_document(self.training.loss)
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


#: The keys of a scenario file's [training] table.
TRAINING_KEYS = {
    "loss",
    "beta",
    "learning_rate",
    "steps",
    "samples",
    "batch_size",
    "optimizer",
    "seed",
    "dim",
    "test_fraction",
    "runs",
    "adam_betas",
    "adam_eps",
    "weight_decay",
    "batching",
    "drop_last",
}
_BEHAVIOR_KEYS = set(Behavior.__dataclass_fields__)
_TOP_KEYS = {"name", "description", "training", "behaviors", "geometry", "reference", "phases"}


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    """Every key of ``table`` must be in ``allowed``; all unknown keys are reported."""
    require(isinstance(table, dict), where, "must be a table")
    errors = ErrorCollector()
    for key in table:
        with errors.check():
            require(
                key in allowed,
                f"{where}.{key}" if where else key,
                f"unknown field; known fields: {', '.join(sorted(allowed))}",
            )
    errors.raise_if_any()


#: Largest magnitude of a number in a scenario (squares and products of a few stay finite in
#: float64; beta = 1e200 would overflow the theory's beta**2).
MAX_MAGNITUDE = 1e12


def _number(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    require_finite(value, f"{where}.{key}")
    require(
        abs(value) <= MAX_MAGNITUDE, f"{where}.{key}", f"must be at most {MAX_MAGNITUDE:g} in magnitude, not {value:g}"
    )
    return float(value)


def _integer(table: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    require(key in table or default is not None, f"{where}.{key}", "is required")
    value: Any = table.get(key, default)
    require(isinstance(value, int) and not isinstance(value, bool), f"{where}.{key}", "must be an integer")
    return int(value)


def _matrix(value: Any, rows: int, field_name: str) -> np.ndarray:
    require(isinstance(value, list) and len(value) == rows, field_name, f"must be a {rows} x {rows} matrix")
    for row in value:
        require(isinstance(row, list) and len(row) == rows, field_name, f"must be a {rows} x {rows} matrix")
        for x in row:
            require_finite(x, field_name)
    return np.array(value, dtype=float)


#: Name of a user loss whose table gives none.
USER_LOSS_NAME = "custom"
_LOSS_KEYS = {"expr", "params", "name"}
_LOSS_FORMS = 'a registered loss name or a table { expr = "...", params = { NAME = NUMBER, ... } }'


def parse_loss(value: Any, where: str = "training.loss") -> str | Loss:
    r"""A loss field of a file: a registered loss's name, or a user loss :math:`\phi(h)`.

    Parameters
    ----------
    value
        A name (checked against the registry) or a table ``{expr, params, name}``: ``expr`` in
        the margin ``h``, ``beta`` and the names of ``params`` (read by
        :func:`~prefdyn.theory.losses.loss_from_expression`, the parser of ``prefdyn.loss`` and
        ``--loss-expr``); ``params`` (optional) maps identifiers other than ``h`` and ``beta`` to
        finite numbers, each used by ``expr``; ``name`` (optional, default ``custom``) must not
        be a registered loss's name.
    where
        The field named by the errors (``training.loss``, ``restrict.loss``).

    Returns
    -------
    str or Loss
        The name as given, or the user :class:`~prefdyn.theory.losses.Loss` (equal to
        ``prefdyn.loss(expr, **params)`` when no ``name`` is given).

    Raises
    ------
    PrefdynError
        One ``"<where>.<key>: rule"`` message per problem (:class:`~prefdyn.errors.PrefdynErrors`
        when there are several), e.g. ``training.loss.params.gamma: must be a number``.

    Examples
    --------
    >>> parse_loss({"expr": "(h - gamma)**2", "params": {"gamma": 0.5}}).stationary_margin
    1/2
    """
    if not isinstance(value, dict):
        require(isinstance(value, str), where, f"must be {_LOSS_FORMS}")
        return canonical_loss(value, where)
    errors = ErrorCollector()
    with errors.check():
        _check_keys(value, _LOSS_KEYS, where)
    expr = value.get("expr")
    with errors.check():
        require("expr" in value, f"{where}.expr", "is required: phi(h) in the margin h, beta and the params' names")
        require(isinstance(expr, str), f"{where}.expr", "must be a string")
    params = value.get("params", {})
    with errors.check():
        require(isinstance(params, dict), f"{where}.params", "must be a table { NAME = NUMBER, ... }")
    for key, number in params.items() if isinstance(params, dict) else ():
        with errors.check():
            require_finite(number, f"{where}.params.{key}")
    name = value.get("name", USER_LOSS_NAME)
    with errors.check():
        require(
            isinstance(name, str) and name.strip() != "" and name.strip().lower() not in REGISTRY,
            f"{where}.name",
            "must be a non-empty string other than a registered loss's name",
        )
    errors.raise_if_any()
    return _user_loss(expr, tuple((k, float(v)) for k, v in params.items()), name.strip(), where)


@lru_cache(maxsize=64)
def _user_loss(expr: str, params: tuple[tuple[str, float], ...], name: str, where: str) -> Loss:
    """One :class:`Loss` object per distinct table, so that what SymPy derives from it (cached on
    the object) is derived once for all the scenarios that share it."""
    return loss_from_expression(expr, dict(params), name=name, field=f"{where}.expr", params_field=f"{where}.params")


def loss_document(loss: str | Loss) -> str | dict[str, Any]:
    """The TOML value of a loss field (:func:`parse_loss` reads it back as ``loss``).

    Parameters
    ----------
    loss
        A registered name, or a :class:`~prefdyn.theory.losses.Loss` (a registered one is
        written as its name).

    Returns
    -------
    str or dict
        The name, or the table ``{expr, params, name}`` of a user loss (``params`` and ``name``
        only when it has them).

    Raises
    ------
    PrefdynError
        When ``loss`` is a :class:`Loss` that no table describes (one not built from an
        expression).
    """
    loss = canonical_loss(loss, "training.loss")
    if isinstance(loss, str):
        return loss
    table: dict[str, Any] = {"expr": sp.sstr(loss.phi)}
    if loss.params:
        table["params"] = {symbol.name: float(value) for symbol, value in loss.params.items()}
    if loss.name != USER_LOSS_NAME:
        table["name"] = loss.name
    try:
        written: str | Loss | None = parse_loss(table)
    except PrefdynError:
        written = None
    require(
        written == loss,
        "training.loss",
        f"loss {loss.name!r} cannot be written as a table {{expr, params, name}} that reads back as "
        "it (only a user loss from an expression, named unlike the registered losses, can)",
    )
    return table


def correlation_factor(matrix: np.ndarray, field_name: str) -> np.ndarray:
    r"""A factor :math:`F` with :math:`FF^\top = C` for a symmetric PSD unit-diagonal :math:`C`
    (eigen-decomposition, so singular :math:`C`, e.g. collinear directions, is allowed)."""
    require(np.allclose(matrix, matrix.T, atol=TOLERANCE), field_name, "must be symmetric")
    require(np.allclose(np.diag(matrix), 1.0, atol=TOLERANCE), field_name, "must have a unit diagonal")
    values, vectors = np.linalg.eigh(matrix)
    require(values.min() >= -TOLERANCE, field_name, f"must be positive semi-definite (eigenvalue {values.min():.3g})")
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def _parse_behavior(table: dict[str, Any], i: int, dim: int | None) -> Behavior:
    """One ``[[behaviors]]`` table; every error in it is reported (``dim`` ``None``: the
    training table's ``dim`` is itself invalid, so dimension checks are skipped)."""
    where = f"behaviors[{i}]"
    require(isinstance(table, dict), where, "must be a table")
    errors = ErrorCollector()
    with errors.check():
        _check_keys(table, _BEHAVIOR_KEYS, where)
    name = table.get("name", f"behavior-{i}")
    with errors.check():
        require(isinstance(name, str) and name.strip() != "", f"{where}.name", "must be a non-empty string")
    with errors.check():
        require("weight" in table, f"{where}.weight", "is required")
    values: dict[str, float] = {}
    for key, default in (
        ("weight", 0.0),
        ("positive_fraction", 0.5),
        ("distinguishability", 1.0),
        ("noise", 1.0),
        ("offset", 0.0),
        ("label_noise", 0.0),
        ("shape", 2.0),
        ("df", 5.0),
    ):
        values[key] = default
        with errors.check():
            values[key] = _number(table, key, where, default)
    rules = [
        (values["weight"] > 0 or "weight" not in table, "weight", "must be > 0"),
        (0 <= values["positive_fraction"] <= 1, "positive_fraction", "must lie in [0, 1]"),
        (0 <= values["label_noise"] <= 1, "label_noise", "must lie in [0, 1]"),
        *((values[key] >= 0, key, "must be >= 0") for key in ("distinguishability", "noise", "offset")),
        (
            values["shape"] >= MIN_SHAPE,
            "shape",
            f"must be >= {MIN_SHAPE} (smaller gennorm shapes put samples beyond float range)",
        ),
        (values["df"] > 2, "df", "must be > 2 (finite variance)"),
    ]
    for holds, key, rule in rules:
        with errors.check():
            require(holds, f"{where}.{key}", rule)
    distribution = table.get("distribution", "gaussian")
    with errors.check():
        require(distribution in DISTRIBUTIONS, f"{where}.distribution", f"must be one of {', '.join(DISTRIBUTIONS)}")
    scales = table.get("noise_scales")
    if scales is not None:
        with errors.check():
            require(
                isinstance(scales, list) and (dim is None or len(scales) == dim),
                f"{where}.noise_scales",
                f"must list dim = {dim} numbers",
            )
            for x in scales:
                require_finite(x, f"{where}.noise_scales")
                require(x > 0, f"{where}.noise_scales", "entries must be > 0")
            scales = tuple(float(x) for x in scales)
    correlation = table.get("noise_correlation")
    if correlation is not None and dim is not None:
        with errors.check():
            matrix = _matrix(correlation, dim, f"{where}.noise_correlation")
            correlation_factor(matrix, f"{where}.noise_correlation")
            correlation = tuple(tuple(r) for r in matrix.tolist())
    errors.raise_if_any()
    return Behavior(
        name=name.strip(), distribution=distribution, noise_scales=scales, noise_correlation=correlation, **values
    )


#: The other fields a field is probed with, so that its own rules apply: settings that only
#: matter beside another one (AdamW's decay, the minibatch schedule).
_PROBE_CONTEXT: dict[str, dict[str, Any]] = {
    "weight_decay": {"optimizer": "adamw"},
    "batching": {"batch_size": 1},
    "drop_last": {"batch_size": 1},
}


def _probe_config(errors: ErrorCollector, **fields: Any) -> None:
    """Check ``fields`` against :class:`TrainConfig`'s own rules one at a time (the others at
    their defaults, or at :data:`_PROBE_CONTEXT`), so that every bad training field is
    reported, not only the first; then, when no training field has failed, all together, for
    the rules that relate fields (``weight_decay`` needs ``adamw``, ``drop_last`` the epoch
    schedule, ...)."""
    for key, value in fields.items():
        with errors.check():
            TrainConfig(**{**_PROBE_CONTEXT.get(key, {}), key: value})
    if not errors:
        with errors.check():
            TrainConfig(**fields)


def _parse_training(table: dict[str, Any], phases: list[Any]) -> tuple[TrainConfig, dict[str, Any]]:
    """The ``[training]`` table (and ``[[phases]]``); every error in them is reported."""
    require(isinstance(table, dict), "training", "must be a table")
    errors = ErrorCollector()
    with errors.check():
        _check_keys(table, TRAINING_KEYS, "training")
    loss: str | Loss = "dpo"
    with errors.check():
        loss = parse_loss(table.get("loss", "dpo"))
    steps = table.get("steps")
    parsed: list[Phase] = []
    if phases:
        with errors.check():
            require(isinstance(phases, list), "phases", "must be an array of tables [[phases]]")
            for i, p in enumerate(phases):
                with errors.check():
                    _check_keys(p, {"name", "steps", "labels"}, f"phases[{i}]")
                    parsed.append(
                        Phase(
                            str(p.get("name", f"phase-{i}")),
                            _integer(p, "steps", f"phases[{i}]"),
                            p.get("labels", "original"),
                        )
                    )
            total = sum(p.steps for p in parsed)
            if len(parsed) == len(phases):
                require(
                    steps is None or steps == total,
                    "training.steps",
                    f"must equal the phases' total ({total}) or be omitted",
                )
    else:
        with errors.check():
            steps = _integer(table, "steps", "training")
            require(steps > 0, "training.steps", "must be an integer > 0")
            parsed = [Phase("train", steps)]
    betas = table.get("adam_betas", [0.9, 0.999])
    with errors.check():
        require(isinstance(betas, list), "training.adam_betas", "must be two numbers [beta1, beta2]")
    numbers: dict[str, Any] = {}
    for key, default in (("beta", 0.1), ("learning_rate", 0.1), ("adam_eps", 1e-8), ("weight_decay", 0.0)):
        with errors.check():
            numbers[key] = _number(table, key, "training", default)
    with errors.check():
        numbers["batch_size"] = _integer(table, "batch_size", "training", 0)
    numbers["optimizer"] = table.get("optimizer", "sgd")
    numbers["batching"] = table.get("batching", "epoch")
    numbers["drop_last"] = table.get("drop_last", False)
    if isinstance(betas, list):
        numbers["adam_betas"] = tuple(betas)
    _probe_config(errors, **numbers)
    sizes: dict[str, Any] = {}
    for key, default in (("samples", 1000), ("dim", 16), ("seed", 0), ("runs", 8)):
        with errors.check():
            sizes[key] = _integer(table, key, "training", default)
    with errors.check():
        sizes["test_fraction"] = _number(table, "test_fraction", "training", 0.0)
    for key, holds, rule in (
        ("samples", lambda v: v > 0, "must be > 0"),
        ("dim", lambda v: v > 0, "must be > 0"),
        ("runs", lambda v: v > 0, "must be > 0"),
        ("seed", lambda v: v >= 0, "must be >= 0"),
        ("test_fraction", lambda v: 0 <= v < 1, "must lie in [0, 1)"),
    ):
        if key in sizes:
            with errors.check():
                require(holds(sizes[key]), f"training.{key}", rule)
    errors.raise_if_any()
    config = TrainConfig(loss=loss, phases=tuple(parsed), **numbers)
    return config, sizes


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _training_dim(doc: dict[str, Any]) -> int | None:
    """The training table's ``dim`` when it is a valid one (else ``None``)."""
    training = doc.get("training")
    dim = training.get("dim", 16) if isinstance(training, dict) else 16
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def parse_scenario(doc: dict[str, Any], name: str = "scenario") -> Scenario:
    """Validate a parsed TOML document (see the module docstring for the fields).

    Every error of the document is reported, not only the first: one
    :class:`~prefdyn.errors.PrefdynError` for a single error,
    :class:`~prefdyn.errors.PrefdynErrors` (one ``"field: rule"`` message each) for several."""
    errors = ErrorCollector()
    with errors.check():
        _check_keys(doc, _TOP_KEYS, "")
    training = sizes = None
    with errors.check():
        require("training" in doc, "training", "the [training] table is required")
        training, sizes = _parse_training(doc["training"], doc.get("phases", []))
    dim = sizes["dim"] if sizes else _training_dim(doc)
    raw_behaviors = doc.get("behaviors")
    behaviors: list[Behavior] = []
    with errors.check():
        require(
            isinstance(raw_behaviors, list) and bool(raw_behaviors),
            "behaviors",
            "at least one [[behaviors]] table is required",
        )
    if isinstance(raw_behaviors, list):
        for i, t in enumerate(raw_behaviors):
            with errors.check():
                behaviors.append(_parse_behavior(t, i, dim))
    complete = isinstance(raw_behaviors, list) and len(behaviors) == len(raw_behaviors) and behaviors
    tables = [t for t in raw_behaviors if isinstance(t, dict)] if isinstance(raw_behaviors, list) else []
    names = [t.get("name", f"behavior-{i}") for i, t in enumerate(tables)]
    if names and all(isinstance(n, str) for n in names):
        with errors.check():
            require(len({n.strip() for n in names}) == len(names), "behaviors.name", "names must be unique")
    weights: list[Any] = [t.get("weight") for t in tables]
    if weights and all(_is_number(w) and math.isfinite(w) for w in weights):
        total = float(sum(weights))
        with errors.check():
            require(
                abs(total - 1) <= TOLERANCE,
                "behaviors.weight",
                f"weights must sum to 1 (they sum to {total:.6g}); they are not normalised for you",
            )
    K = len(raw_behaviors) if isinstance(raw_behaviors, list) else 0
    if complete and dim is not None:
        needed = K + (1 if any(b.offset > 0 for b in behaviors) else 0)
        with errors.check():
            require(
                dim >= needed,
                "training.dim",
                f"must be >= {needed} (K = {K} delta directions" + (" + 1 offset direction)" if needed > K else ")"),
            )
    cosines = None
    geometry = doc.get("geometry", {})
    with errors.check():
        _check_keys(geometry, {"cosines"}, "geometry")
        if "cosines" in geometry and K:
            matrix = _matrix(geometry["cosines"], K, "geometry.cosines")
            correlation_factor(matrix, "geometry.cosines")
            cosines = tuple(tuple(r) for r in matrix.tolist())
    ref_table = doc.get("reference", {})
    reference = Reference()
    with errors.check():
        _check_keys(ref_table, {"vocab", "scale"}, "reference")
        reference = Reference(
            _integer(ref_table, "vocab", "reference", 2), _number(ref_table, "scale", "reference", 0.0)
        )
        with errors.check():
            require(
                2 <= reference.vocab <= MAX_VOCAB,
                "reference.vocab",
                f"must lie in [2, {MAX_VOCAB:,}] (each sample's logits over the vocabulary are formed once)",
            )
        require(reference.scale >= 0, "reference.scale", "must be >= 0")
    errors.raise_if_any()
    assert training is not None and sizes is not None
    scenario = Scenario(
        name=str(doc.get("name", name)),
        behaviors=tuple(behaviors),
        training=training,
        cosines=cosines,
        reference=reference,
        source=doc,
        **sizes,
    )
    stratified_counts(scenario)  # every behaviour needs a training sample
    return scenario


def stratified_counts(scenario: Scenario) -> list[tuple[int, int]]:
    r"""``(train, test)`` sample counts per behaviour.

    Totals :math:`N_b` are :math:`p_b N` rounded by largest remainder (so they sum to
    ``samples``); :math:`m_b = \operatorname{round}(\text{test\_fraction}\cdot N_b)` go to the test
    split and :math:`n_b = N_b - m_b` to training.
    """
    raw = scenario.weights * scenario.samples
    totals = np.floor(raw).astype(int)
    order = np.argsort(-(raw - totals), kind="stable")
    totals[order[: scenario.samples - totals.sum()]] += 1
    counts = []
    for behavior, total in zip(scenario.behaviors, totals.tolist()):
        test = round(scenario.test_fraction * total)
        require(
            total - test >= 1, "training.samples", f"too small: behaviour {behavior.name!r} gets no training sample"
        )
        counts.append((total - test, test))
    return counts


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    return parse_scenario(read_toml(path, "scenario"), name=Path(path).stem)


def scenario_document(scenario: Scenario) -> dict[str, Any]:
    """The TOML document of ``scenario``, from its fields (module docstring).

    Parameters
    ----------
    scenario
        Any :class:`Scenario`, parsed or built in Python.

    Returns
    -------
    dict
        Every training field; per behaviour its ``name``, ``weight`` and the fields that differ
        from :class:`Behavior`'s defaults; ``geometry``, ``reference`` and ``phases`` when they
        differ from their absence. :func:`parse_scenario` of it equals ``scenario``.

    Raises
    ------
    PrefdynError
        When the training loss cannot be written (:func:`loss_document`).
    """
    config = scenario.training
    training: dict[str, Any] = {
        "loss": loss_document(config.loss),
        "beta": config.beta,
        "learning_rate": config.learning_rate,
    }
    single = config.phases == (Phase("train", config.steps),)
    if single:
        training["steps"] = config.steps
    training.update(
        samples=scenario.samples,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        seed=scenario.seed,
        dim=scenario.dim,
        test_fraction=scenario.test_fraction,
        runs=scenario.runs,
        adam_betas=list(config.adam_betas),
        adam_eps=config.adam_eps,
        weight_decay=config.weight_decay,
        batching=config.batching,
        drop_last=config.drop_last,
    )
    defaults = Behavior(name="", weight=0.0)
    behaviors = [
        {
            key: _toml_value(value)
            for key, value in asdict(b).items()
            if key in ("name", "weight") or value != getattr(defaults, key)
        }
        for b in scenario.behaviors
    ]
    doc: dict[str, Any] = {"name": scenario.name, "training": training, "behaviors": behaviors}
    if scenario.cosines is not None:
        doc["geometry"] = {"cosines": _toml_value(scenario.cosines)}
    if scenario.reference != Reference():
        doc["reference"] = asdict(scenario.reference)
    if not single:
        doc["phases"] = [asdict(phase) for phase in config.phases]
    return doc


def _toml_value(value: Any) -> Any:
    """Tuples (of tuples) as TOML arrays."""
    return [_toml_value(v) for v in value] if isinstance(value, tuple) else value


def scenario_toml(scenario: Scenario) -> str:
    """``scenario`` as the text of a scenario file, runnable with ``prefdyn simulate``
    (:func:`scenario_document`; ``parse_scenario(tomllib.loads(scenario_toml(s))) == s``).

    Parameters
    ----------
    scenario
        Any :class:`Scenario`, parsed or built in Python.

    Returns
    -------
    str
        TOML text.

    Examples
    --------
    >>> import tomllib
    >>> scenario = default_scenario()
    >>> parse_scenario(tomllib.loads(scenario_toml(scenario))) == scenario
    True
    """
    return tomli_w.dumps(scenario_document(scenario))


def builtin_text(name: str) -> str:
    """Text of a scenario shipped with prefdyn (``default`` or ``example``)."""
    return resources.files("prefdyn.numerics").joinpath("scenarios", f"{name}.toml").read_text(encoding="utf-8")


def default_scenario() -> Scenario:
    """The built-in scenario: four orthogonal behaviours of different distinguishability."""
    return parse_scenario(tomllib.loads(builtin_text("default")), name="default")


def class_means(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(\mu^+, \mu^-)`, each ``[K, dim]`` float64 (see the module docstring)."""
    K, dim = len(scenario.behaviors), scenario.dim
    cos = np.eye(K) if scenario.cosines is None else np.array(scenario.cosines)
    directions = np.zeros((K, dim))
    directions[:, :K] = correlation_factor(cos, "geometry.cosines")
    delta = directions * np.array([b.distinguishability for b in scenario.behaviors])[:, None]
    centre = np.zeros((K, dim))
    if any(b.offset > 0 for b in scenario.behaviors):
        centre[:, K] = [b.offset for b in scenario.behaviors]
    return centre + delta / 2, centre - delta / 2


def behavior_noise_factor(behavior: Behavior, dim: int) -> np.ndarray:
    r""":math:`\sigma_b D F` (``[dim, dim]``): noise = factor @ z with unit-variance :math:`z`."""
    factor = (
        np.eye(dim)
        if behavior.noise_correlation is None
        else correlation_factor(np.array(behavior.noise_correlation), "noise_correlation")
    )
    scales = np.ones(dim) if behavior.noise_scales is None else np.array(behavior.noise_scales)
    return behavior.noise * scales[:, None] * factor
