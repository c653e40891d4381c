"""``prefdyn predict``: theory curves for a scenario, in the JSON shape of ``prefdyn simulate``.

Gaussian scenarios: population gradient descent (``population-flow``, Gauss-Hermite on tensors),
exact in the population limit; curves carry ``mean`` = the prediction and ``std`` = 0.
Other noise families: ``prediction = "bounds-only"`` and one curve per behaviour,
``accuracy_lower_bound`` (``accuracy-subexponential``), where the family has a psi_alpha bound.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ._types import positive

CURVES = ("loss", "accuracy", "reward_accuracy", "margin", "margin_std", "chosen_logp_change", "rejected_logp_change")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="theory curves for a scenario (population GD; bounds where no exact form exists)",
        description="Predict per-behaviour accuracy, loss, margin and weight-norm curves from the theory, "
        "in the JSON shape of `prefdyn simulate` (std = 0).",
    )
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in scenario)")
    parser.add_argument("--steps", type=positive(int), help="total steps (replaces a single phase's length)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _band(values: list[float]) -> dict[str, list[float]]:
    return {"mean": values, "std": [0.0] * len(values)}


def _with_steps(scenario: Any, steps: int | None) -> Any:
    from prefdyn.errors import require

    if steps is None:
        return scenario
    phases = scenario.training.phases
    require(len(phases) == 1, "--steps", "the scenario has several phases; edit their steps instead")
    training = dataclasses.replace(scenario.training, phases=(dataclasses.replace(phases[0], steps=steps),))
    return dataclasses.replace(scenario, training=training)


def predict_document(scenario: Any) -> dict[str, Any]:
    """The ``predict`` JSON document for a parsed scenario (see the module docstring)."""
    import torch

    from prefdyn.errors import require
    from prefdyn.numerics.population import max_learning_rate, population_gd, scenario_mixture
    from prefdyn.numerics.scenario import behavior_noise_factor

    require(scenario.reference.scale == 0, "reference.scale", "predict needs W_ref = 0 (scale = 0)")
    config = scenario.training
    mix = scenario_mixture(scenario)
    factors = [torch.as_tensor(behavior_noise_factor(b, scenario.dim)) for b in scenario.behaviors]
    head = {"scenario": scenario.name, "runs": 1, "steps": list(range(config.steps + 1)),
            "model": "population limit (n -> infinity); minibatch SGD in expectation; Adam on the population gradient",
            "max_learning_rate": _finite_or_none(max_learning_rate(mix, config.loss, config.beta))}
    gaussian = all(b.distribution == "gaussian" for b in scenario.behaviors)
    if not gaussian:
        return {**head, **_bounds_only(scenario, mix, factors)}
    traj = population_gd(mix, config.loss, beta=config.beta, learning_rate=config.learning_rate, config=config)
    behaviors = []
    for k, b in enumerate(scenario.behaviors):
        entry: dict[str, Any] = {"name": b.name}
        for metric in CURVES:
            source = "accuracy" if metric == "reward_accuracy" else metric
            entry[metric] = _band(getattr(traj, source)[:, 0, k].tolist())
        behaviors.append(entry)
    norm = _band(traj.weight_change_opnorm[:, 0].tolist())
    return {**head, "prediction": "population-gd", "phases": traj.phases, "behaviors": behaviors,
            "weight_change_opnorm": norm, "weight_change_frobenius": norm}


def _bounds_only(scenario: Any, mix: Any, factors: list[Any]) -> dict[str, Any]:
    import torch

    from prefdyn.numerics.bounds import accuracy_lower_bound, psi_alpha_constant
    from prefdyn.theory.losses import get_loss
    from prefdyn.theory.theorems.stable_step_size import smoothness

    config = scenario.training
    constants = [psi_alpha_constant(b.distribution, b.shape, f) for b, f in zip(scenario.behaviors, factors)]
    L2 = float(smoothness(get_loss(config.loss)).subs("beta", config.beta))
    usable = (all(c is not None for c in constants) and config.optimizer == "sgd" and len(config.phases) == 1
              and all(b.label_noise == 0 for b in scenario.behaviors) and L2 < float("inf"))
    behaviors = [{"name": b.name} for b in scenario.behaviors]
    if usable:
        alpha = torch.tensor([c[0] for c in constants], dtype=torch.float64)  # type: ignore[index]
        K_b = torch.tensor([c[1] for c in constants], dtype=torch.float64)  # type: ignore[index]
        bound = accuracy_lower_bound(
            mix.means, mix.positive_fraction, mix.weights, alpha, K_b, smoothness=L2,
            second_moment_top=float(torch.linalg.eigvalsh(mix.second_moment())[-1]),
            beta=config.beta, learning_rate=config.learning_rate, steps=config.steps,
        )
        for k, entry in enumerate(behaviors):
            entry["accuracy_lower_bound"] = _band(bound[:, k].tolist())
    reason = "" if usable else ("no psi_alpha bound for this noise family, optimizer, phases, label noise or loss "
                                "(needs gaussian/laplace/gennorm shape >= 1, sgd, one phase, no label noise, smooth loss)")
    return {"prediction": "bounds-only", "bounds_available": usable, "reason": reason, "behaviors": behaviors}


def _finite_or_none(eta: float) -> float | None:
    """``stable-step-size``'s eta_max, or ``None`` where it gives no finite step (a non-smooth
    loss: no guarantee; a linear one: any step)."""
    return eta if 0 < eta < float("inf") else None


def _table(doc: dict[str, Any]) -> str:
    T = doc["steps"][-1]
    eta = doc["max_learning_rate"]
    stable = f"eta_max (monotone loss) = {eta:.4g}" if eta is not None else "no eta_max (phi'' unbounded or zero)"
    lines = [f"{doc['scenario']}: {doc['prediction']}, {T} steps, {stable}"]
    if doc["prediction"] == "population-gd":
        lines.append(f"{'behaviour':<20} {'acc(1)':>8} {'acc(T)':>8} {'margin(T)':>10} {'loss(T)':>8}")
        for b in doc["behaviors"]:
            acc = b["accuracy"]["mean"]
            lines.append(f"{b['name']:<20} {acc[min(1, T)]:8.4f} {acc[-1]:8.4f} {b['margin']['mean'][-1]:10.4f} {b['loss']['mean'][-1]:8.4f}")
        lines.append(f"||W_T - W_ref||_op = {doc['weight_change_opnorm']['mean'][-1]:.4f}")
    else:
        for b in doc["behaviors"]:
            curve = b.get("accuracy_lower_bound")
            text = f"accuracy >= {curve['mean'][-1]:.4f} (lower bound)" if curve else "no bound"
            lines.append(f"{b['name']:<20} {text}")
        if doc["reason"]:
            lines.append(doc["reason"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from prefdyn.cli._output import emit_json
    from prefdyn.numerics.scenario import default_scenario, load_scenario

    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    doc = predict_document(_with_steps(scenario, args.steps))
    if args.json:
        emit_json(doc)
    else:
        print(_table(doc))
    return 0
