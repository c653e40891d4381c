"""``prefdyn predict``: theory curves for a scenario, in the JSON shape of ``prefdyn simulate``.

A thin wrapper over :func:`prefdyn.numerics.predict.predict` (which documents the curves): parse
the arguments, predict, print the table or the JSON document of
:meth:`~prefdyn.numerics.predict.Prediction.summary`. A learning rate above the certified
``eta_max`` is warned about on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING, Any

from ._types import SEED, add_threads_option, positive

if TYPE_CHECKING:
    from prefdyn.numerics.scenario import Scenario


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="theory curves for a scenario (population GD; bounds where no exact form exists)",
        description="Predict per-behavior accuracy, loss, margin and weight-norm curves from the theory, "
        "in the JSON shape of `prefdyn simulate` (std = 0).",
    )
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in scenario)")
    parser.add_argument("--steps", type=positive(int), help="total steps (replaces a single phase's length)")
    parser.add_argument(
        "--seed", type=SEED, help="seed of the [reference] head, as in simulate (default: training.seed)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_threads_option(parser)
    parser.set_defaults(func=run)


def _with_overrides(scenario: Scenario, *, steps: int | None, seed: int | None) -> Scenario:
    """``scenario`` with ``--steps`` (the length of its single phase) and ``--seed`` applied."""
    from prefdyn.errors import require

    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    if steps is None:
        return scenario
    phases = scenario.training.phases
    require(len(phases) == 1, "--steps", "the scenario has several phases; edit their steps instead")
    training = dataclasses.replace(scenario.training, phases=(dataclasses.replace(phases[0], steps=steps),))
    return dataclasses.replace(scenario, training=training)


def _table(doc: dict[str, Any]) -> str:
    from prefdyn.formatting import sig

    T = doc["steps"][-1]
    eta = doc["max_learning_rate"]
    stable = f"eta_max (monotone loss) = {eta:.4g}" if eta is not None else "no eta_max (phi'' unbounded or zero)"
    lines = [f"{doc['scenario']}: {doc['prediction']}, {T} steps, {stable}"]
    if doc["prediction"] == "population-gd":
        if "reference" in doc:
            ref = doc["reference"]
            lines.append(
                f"reference head: V = {ref['vocab']}, scale {sig(ref['scale'])}, seed {ref['seed']}, "
                f"||w_1 - w_2|| = {sig(ref['gap_norm'])}"
            )
        lines.append(
            "population limit (n -> infinity; a tie counts 1/2): compare with the held-out "
            "(test) split of `prefdyn simulate`, not the training split"
        )
        lines.append(
            f"{'behavior':<20} {'pol.acc(0)':>10} {'pol.acc(1)':>10} {'pol.acc(T)':>10} {'rew.acc(T)':>10} "
            f"{'margin(T)':>10} {'loss(T)':>10}"
        )
        for b in doc["behaviors"]:
            pol, rew = b["policy_accuracy"]["mean"], b["reward_accuracy"]["mean"]
            cells = [pol[0], pol[min(1, T)], pol[-1], rew[-1], b["margin"]["mean"][-1], b["loss"]["mean"][-1]]
            lines.append(f"{b['name']:<20} " + " ".join(f"{sig(v):>10}" for v in cells))
        lines.append(f"||W_T - W_ref||_op = {sig(doc['weight_change_opnorm']['mean'][-1])}")
    else:
        for b in doc["behaviors"]:
            curve = b.get("accuracy_lower_bound")
            text = f"accuracy >= {sig(curve['mean'][-1])} (lower bound, population)" if curve else "no bound"
            lines.append(f"{b['name']:<20} {text}")
        if doc["reason"] is not None:
            lines.append(doc["reason"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from prefdyn.cli._output import emit_json
    from prefdyn.numerics.predict import predict
    from prefdyn.numerics.scenario import default_scenario, load_scenario

    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    prediction = predict(_with_overrides(scenario, steps=args.steps, seed=args.seed), threads=args.threads)
    if prediction.step_size.warning is not None:
        print(f"prefdyn predict: warning: {prediction.step_size.warning}", file=sys.stderr)
    doc = prediction.summary()
    if args.json:
        emit_json(doc)
    else:
        print(_table(doc))
    return 0
