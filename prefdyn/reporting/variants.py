"""Scenarios the report derives from the user's scenario (same training table, other data).

Each variant edits a copy of the scenario's parsed TOML document and re-validates it with
:func:`prefdyn.numerics.parse_scenario`, so a variant is itself a valid scenario
(:func:`prefdyn.numerics.scenario.scenario_toml`, the one scenario writer, writes it as a file
``prefdyn simulate`` accepts unchanged).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from prefdyn.numerics import Scenario, parse_scenario

#: Distinguishabilities of the synthetic speed sweep (used when no persona data is given).
SWEEP_DISTINGUISHABILITY = tuple(float(x) for x in np.linspace(0.25, 3.0, 8))


def _document(scenario: Scenario, suffix: str) -> dict[str, Any]:
    doc = copy.deepcopy(scenario.source)
    doc["name"] = f"{scenario.name}-{suffix}"
    return doc


def align_then_flip(scenario: Scenario) -> Scenario:
    """The misalignment run: ``T`` steps on the original labels, then ``T`` on flipped labels
    (``T`` = the scenario's steps; a scenario that already flips labels is kept as it is)."""
    if any(p.labels == "flipped" for p in scenario.training.phases):
        return scenario
    doc = _document(scenario, "misalign")
    doc["training"].pop("steps", None)
    steps = scenario.training.steps
    doc["phases"] = [
        {"name": "align", "steps": steps, "labels": "original"},
        {"name": "misalign", "steps": steps, "labels": "flipped"},
    ]
    return parse_scenario(doc)


def alone(scenario: Scenario, index: int) -> Scenario:
    """Behaviour ``index`` by itself (weight 1) with the samples it had in the mixture."""
    doc = _document(scenario, f"{scenario.behaviors[index].name}-alone")
    behavior = dict(doc["behaviors"][index], weight=1.0)
    doc["behaviors"] = [behavior]
    doc.pop("geometry", None)
    doc["training"]["samples"] = max(1, round(scenario.samples * scenario.behaviors[index].weight))
    return parse_scenario(doc)


def speed_sweep(scenario: Scenario) -> Scenario:
    """Orthogonal isotropic behaviours of :data:`SWEEP_DISTINGUISHABILITY`, equal weights,
    trained by one head with the scenario's training table."""
    doc = _document(scenario, "speed-sweep")
    k = len(SWEEP_DISTINGUISHABILITY)
    doc["behaviors"] = [
        {"name": f"d={d:.2f}", "weight": 1.0 / k, "distinguishability": d, "noise": 1.0}
        for d in SWEEP_DISTINGUISHABILITY
    ]
    doc.pop("geometry", None)
    doc["training"]["dim"] = max(int(doc["training"].get("dim", 16)), k)
    return parse_scenario(doc)
