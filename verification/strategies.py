r"""Hypothesis strategies for prefdyn scenarios (for property tests, yours included).

:func:`scenarios` draws a validated :class:`~prefdyn.numerics.scenario.Scenario`: it builds the
scenario *document* (the dict a scenario TOML file parses to), validates it with
:func:`~prefdyn.numerics.scenario.parse_scenario` (so every drawn value respects the numerics
layer's rules), and keeps the document as ``scenario.source``;
:func:`~prefdyn.numerics.scenario.scenario_toml` writes a scenario as a runnable scenario file
(``prefdyn simulate FILE``).

**Shrinking.** Every field shrinks toward the simplest case: one behaviour (:math:`K = 1`), the
smallest dimension, balanced classes (:math:`q_b = \tfrac12`), equal weights, no label noise, no
offset, isotropic Gaussian noise, orthogonal :math:`\delta_b`, :math:`W_{\rm ref} = 0`,
full-batch SGD on DPO, seed 0 (``one_of(just(simple), general)`` shrinks to its first branch;
integers shrink to their lower bound).

**Fixing or restricting a field.** Every keyword of :data:`FIELDS` takes a value (fixed) or a
strategy (restricted), e.g. ``scenarios(loss="dpo", behaviors=st.integers(2, 3),
distribution=st.sampled_from(["gaussian", "laplace"]))``. Training fields (``loss``, ``beta``,
``learning_rate``, ``steps``, ``samples``, ``batch_size``, ``optimizer``, ``seed``, ``dim``,
``test_fraction``, ``runs``, ``adam_betas``, ``adam_eps``, ``weight_decay``) are drawn once
(``loss`` also takes a :class:`~prefdyn.theory.losses.Loss`, e.g. the user loss
``prefdyn.loss("(h - gamma)**2", gamma=0.5)``; by default a registered name is drawn);
behaviour fields (``weight`` excepted: use ``weights``) are drawn per behaviour; ``behaviors``
is :math:`K`, ``weights`` a length-:math:`K` list, ``noise_correlation`` (never drawn by default:
isotropic or diagonal covariances) a ``dim x dim`` correlation matrix, ``cosines`` a :math:`K\times K` matrix or
``None``, ``reference`` a ``{"vocab", "scale"}`` table or ``None``, ``phases`` a list of phase
tables or ``None``.

>>> from hypothesis import given
>>> from prefdyn.verification.strategies import scenarios
>>> @given(scenarios(loss="dpo", behaviors=2))
... def test_two(sc):
...     assert len(sc.behaviors) == 2
>>> test_two()
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from prefdyn.errors import require
from prefdyn.numerics.config import OPTIMIZERS
from prefdyn.numerics.noise import DISTRIBUTIONS
from prefdyn.numerics.scenario import Scenario, loss_document, parse_scenario
from prefdyn.theory.losses import loss_names

#: Largest values the default strategies draw (small, so that one example is cheap).
MAX_BEHAVIORS, MAX_DIM, MAX_STEPS, MAX_SAMPLES, MAX_RUNS = 4, 8, 20, 256, 8

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _positive(lo: float, hi: float, simple: float) -> st.SearchStrategy[float]:
    return st.one_of(st.just(simple), st.floats(lo, hi, allow_nan=False, allow_infinity=False))


def _unit_rows(rows: int, cols: int) -> st.SearchStrategy[np.ndarray]:
    """``rows`` unit vectors of :math:`\\mathbb R^{cols}` (Gaussian directions, rounded)."""
    entry = st.floats(-1.0, 1.0, allow_nan=False).map(lambda x: round(x, 3))
    return (
        st.lists(st.lists(entry, min_size=cols, max_size=cols), min_size=rows, max_size=rows)
        .map(np.array)
        .filter(lambda a: bool(np.all(np.linalg.norm(a, axis=1) > 0.1)))
        .map(lambda a: a / np.linalg.norm(a, axis=1, keepdims=True))
    )


@st.composite
def cosine_matrices(draw: Draw, k: int) -> list[list[float]] | None:
    r"""``None`` (orthogonal :math:`\delta_b`, the shrink target) or :math:`QQ^\top` for unit rows
    :math:`Q` (symmetric, unit diagonal, PSD: a valid ``[geometry] cosines``)."""
    if k == 1 or not draw(st.booleans()):
        return None
    q = draw(_unit_rows(k, k))
    c = np.clip(q @ q.T, -1.0, 1.0)
    np.fill_diagonal(c, 1.0)
    return [[float(x) for x in row] for row in c]


@st.composite
def weight_vectors(draw: Draw, k: int) -> list[float]:
    """Mixture weights summing to 1 (shrinks to equal weights; each weight >= 0.05)."""
    if k == 1 or not draw(st.booleans()):
        return [1.0 / k] * k
    raw = draw(st.lists(st.floats(1.0, 10.0), min_size=k, max_size=k))
    total = sum(raw)
    return [x / total for x in raw]


@st.composite
def phase_lists(draw: Draw, steps: int) -> list[dict[str, Any]] | None:
    """``None`` (one phase) or an alignment phase followed by a flipped-label phase."""
    if steps < 2 or not draw(st.booleans()):
        return None
    first = draw(st.integers(1, steps - 1))
    return [{"name": "align", "steps": first}, {"name": "misalign", "steps": steps - first, "labels": "flipped"}]


def _training_defaults() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "loss": st.sampled_from(loss_names()),
        "beta": _positive(0.05, 3.0, 1.0),
        "learning_rate": _positive(0.01, 2.0, 0.5),
        "steps": st.integers(1, MAX_STEPS),
        "samples": st.integers(16, MAX_SAMPLES),
        "batch_size": st.one_of(st.just(0), st.integers(1, 64)),
        "optimizer": st.sampled_from(OPTIMIZERS),
        "seed": st.integers(0, 2**31 - 1),
        "test_fraction": st.one_of(st.just(0.0), st.floats(0.1, 0.5)),
        "runs": st.integers(1, MAX_RUNS),
        "adam_betas": st.just([0.9, 0.999]),
        "adam_eps": st.just(1e-8),
        "weight_decay": st.one_of(st.just(0.0), st.floats(1e-4, 0.1)),
    }


def _behavior_defaults(dim: int) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "positive_fraction": _positive(0.05, 0.95, 0.5),
        "distinguishability": _positive(0.0, 5.0, 1.0),
        "noise": _positive(0.1, 3.0, 1.0),
        "distribution": st.sampled_from(DISTRIBUTIONS),
        "offset": st.one_of(st.just(0.0), st.floats(0.0, 3.0)),
        "label_noise": st.one_of(st.just(0.0), st.floats(0.0, 0.45)),
        "shape": _positive(0.5, 4.0, 2.0),
        "df": _positive(2.5, 30.0, 5.0),
        "noise_scales": st.one_of(st.just(None), st.lists(st.floats(0.25, 4.0), min_size=dim, max_size=dim)),
        "noise_correlation": st.just(None),
    }


#: Behaviour values left out of the document (they are the numerics layer's defaults).
_SIMPLE: dict[str, Any] = {"label_noise": 0.0, "offset": 0.0, "shape": 2.0, "df": 5.0}

#: Keywords of :func:`scenarios` (see the module docstring).
FIELDS = (
    ("behaviors", "weights", "dim", "cosines", "reference", "phases", "name")
    + tuple(_training_defaults())
    + tuple(_behavior_defaults(1))
)


def _pick(draw: Draw, overrides: dict[str, Any], key: str, default: st.SearchStrategy[Any]) -> Any:
    """The override for ``key`` (a value, or a strategy to draw from), else a draw of ``default``."""
    value = overrides.get(key, default)
    return draw(value) if isinstance(value, st.SearchStrategy) else value


@st.composite
def scenario_documents(draw: Draw, **overrides: Any) -> dict[str, Any]:
    """The TOML document of a valid scenario (the keywords are those of :func:`scenarios`)."""
    unknown = set(overrides) - set(FIELDS)
    require(not unknown, "restrict", f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(FIELDS)}")
    k = _pick(draw, overrides, "behaviors", st.integers(1, MAX_BEHAVIORS))
    dim = _pick(draw, overrides, "dim", st.integers(k, max(k, MAX_DIM)))
    training = {key: _pick(draw, overrides, key, s) for key, s in _training_defaults().items()}
    training["loss"] = loss_document(training["loss"])  # a Loss object as its table
    if training["optimizer"] != "adamw":
        training["weight_decay"] = 0.0
    training["dim"] = dim
    weights = _pick(draw, overrides, "weights", weight_vectors(k))
    if "samples" not in overrides:  # every behaviour needs a few training and test samples
        split = training["test_fraction"]
        smallest = min(weights) * min(1 - split, split if split > 0 else 1.0)
        training["samples"] = max(training["samples"], math.ceil(4 / smallest))
    phases = _pick(draw, overrides, "phases", phase_lists(training["steps"]))
    behaviors = []
    for b in range(k):
        table: dict[str, Any] = {"name": f"b{b}", "weight": weights[b]}
        for key, default in _behavior_defaults(dim).items():
            value = _pick(draw, overrides, key, default)
            if value is not None and value != _SIMPLE.get(key):
                table[key] = value
        if dim < k + 1:  # an offset needs a direction orthogonal to every delta
            table.pop("offset", None)
        behaviors.append(table)
    doc: dict[str, Any] = {"name": overrides.get("name", "hypothesis"), "training": training, "behaviors": behaviors}
    cosines = _pick(draw, overrides, "cosines", cosine_matrices(k))
    if cosines is not None:
        doc["geometry"] = {"cosines": cosines}
    reference = _pick(
        draw,
        overrides,
        "reference",
        st.one_of(st.just(None), st.fixed_dictionaries({"vocab": st.integers(2, 16), "scale": st.floats(0.0, 1.0)})),
    )
    if reference is not None:
        doc["reference"] = reference
    if phases is not None:
        doc["phases"] = phases
        training.pop("steps")
    return doc


def scenarios(**overrides: Any) -> st.SearchStrategy[Scenario]:
    """Valid scenarios; fix or restrict any field of :data:`FIELDS` by keyword."""
    return scenario_documents(**overrides).map(parse_scenario)
