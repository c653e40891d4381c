"""``prefdyn predict``: theory curves for a scenario, in the JSON shape of ``prefdyn simulate``.

Gaussian scenarios: population gradient descent (``population-flow``, Gauss-Hermite on tensors),
exact in the population limit; curves carry ``mean`` = the prediction and ``std`` = 0. As in
``simulate``, ``accuracy`` and ``policy_accuracy`` are the policy accuracy
P(log pi_W(y_w|x) > log pi_W(y_l|x)) (:func:`~prefdyn.numerics.population.gaussian_policy_accuracy`,
the reward formula at Delta + w with w = (e_1 - e_2)^T W_ref from the scenario's ``[reference]``
and ``--seed``, the head ``simulate`` draws) and ``reward_accuracy`` is P(h > 0); they coincide
when W_ref = 0. With a V > 2 reference head of nonzero scale the log-prob changes have no exact
form and are left out (``unavailable`` says so).
Other noise families: ``prediction = "bounds-only"`` and one curve per behaviour,
``accuracy_lower_bound`` (``accuracy-subexponential``), where the family has a psi_alpha bound
(W_ref = 0 only: the bound is on the reward accuracy).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from ._types import SEED, add_threads_option, positive

CURVES = ("loss", "accuracy", "policy_accuracy", "reward_accuracy", "margin", "margin_std", "chosen_logp_change",
          "rejected_logp_change")
#: the Trajectory field behind each predicted curve (``accuracy`` is the policy accuracy, as in simulate)
SOURCES = {"accuracy": "policy_accuracy", "reward_accuracy": "accuracy"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="theory curves for a scenario (population GD; bounds where no exact form exists)",
        description="Predict per-behaviour accuracy, loss, margin and weight-norm curves from the theory, "
        "in the JSON shape of `prefdyn simulate` (std = 0).",
    )
    parser.add_argument("scenario", nargs="?", help="scenario TOML file (default: the built-in scenario)")
    parser.add_argument("--steps", type=positive(int), help="total steps (replaces a single phase's length)")
    parser.add_argument("--seed", type=SEED, help="seed of the [reference] head, as in simulate (default: training.seed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_threads_option(parser)
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


def predict_document(scenario: Any, seed: int | None = None) -> dict[str, Any]:
    """The ``predict`` JSON document for a parsed scenario (see the module docstring); ``seed``
    (default: the scenario's) draws the ``[reference]`` head exactly as ``simulate --seed`` does."""
    import torch

    from prefdyn.errors import require
    from prefdyn.numerics.population import max_learning_rate, population_gd, scenario_mixture
    from prefdyn.numerics.sampling import reference_matrix
    from prefdyn.numerics.scenario import behavior_noise_factor

    config = scenario.training
    seed = scenario.seed if seed is None else seed
    w_ref = reference_matrix(scenario, seed)
    mix = scenario_mixture(scenario)
    factors = [torch.as_tensor(behavior_noise_factor(b, scenario.dim)) for b in scenario.behaviors]
    head = {"scenario": scenario.name, "runs": 1, "steps": list(range(config.steps + 1)),
            "model": "population limit (n -> infinity); minibatch SGD in expectation; Adam on the population gradient",
            # like with like: the population curves estimate held-out data, not the training split
            "compare_with_split": "test",
            "max_learning_rate": _finite_or_none(eta_max := max_learning_rate(mix, config.loss, config.beta)),
            "step_size": _step_size(config, eta_max)}
    if w_ref is not None:
        head["reference"] = {"vocab": scenario.reference.vocab, "scale": scenario.reference.scale, "seed": seed,
                             "gap_norm": float((w_ref[0] - w_ref[1]).norm())}
    gaussian = all(b.distribution == "gaussian" for b in scenario.behaviors)
    if not gaussian:
        require(scenario.reference.scale == 0, "reference.scale",
                "the bounds-only prediction (non-Gaussian behaviours) needs W_ref = 0 (scale = 0)")
        return {**head, **_bounds_only(scenario, mix, factors)}
    traj = population_gd(mix, config.loss, beta=config.beta, learning_rate=config.learning_rate, config=config,
                         reference=w_ref)
    curves = [m for m in CURVES if getattr(traj, SOURCES.get(m, m)) is not None]
    behaviors = []
    for k, b in enumerate(scenario.behaviors):
        entry: dict[str, Any] = {"name": b.name}
        for metric in curves:
            entry[metric] = _band(getattr(traj, SOURCES.get(metric, metric))[:, 0, k].tolist())
        behaviors.append(entry)
    doc = {**head, "prediction": "population-gd", "phases": traj.phases, "behaviors": behaviors,
           "weight_change_opnorm": _band(traj.weight_change_opnorm[:, 0].tolist()),
           "weight_change_frobenius": _band(traj.weight_change_frobenius[:, 0].tolist())}
    missing = [m for m in CURVES if m not in curves]
    if missing:
        doc["unavailable"] = {m: "no exact form: with a V > 2 reference head of nonzero scale log pi depends on "
                                 "the log-sum-exp of the other V - 2 reference logits" for m in missing}
    return doc


def _bounds_only(scenario: Any, mix: Any, factors: list[Any]) -> dict[str, Any]:
    import torch

    from prefdyn.numerics.bounds import accuracy_lower_bound, psi_alpha_constant
    from prefdyn.theory.losses import get_loss
    from prefdyn.theory.symbols import beta

    config = scenario.training
    constants = [psi_alpha_constant(b.distribution, b.shape, f) for b, f in zip(scenario.behaviors, factors)]
    L2 = float(get_loss(config.loss).smoothness.subs(beta, config.beta))  # certified (rounded up), oo if none
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


def _finite_or_none(eta: float | None) -> float | None:
    """``stable-step-size``'s eta_max, or ``None`` where it gives no finite step (a non-smooth
    loss: no guarantee; a linear one: any step)."""
    return eta if eta is not None and 0 < eta < float("inf") else None


def _step_size(config: Any, eta_max: float | None) -> dict[str, Any]:
    """Whether ``stable-step-size`` verifies monotone descent of the predicted (population) loss
    at the scenario's learning rate: SGD with ``learning_rate <= eta_max`` (certified L2).

    Choice: a learning rate above a certified eta_max is *warned about* (``warning`` here, printed
    to stderr by the command), not refused: the population-GD curves are exact at any step size,
    only the guarantee that the loss decreases is lost. An L2 that cannot be certified is refused
    upstream (:func:`~prefdyn.numerics.population.max_learning_rate` raises a one-line
    PrefdynError, exit 2); L2 = oo (hinge) gives ``eta_max = None`` and no guarantee."""
    lr = config.learning_rate
    if config.optimizer != "sgd":
        return {"descent_verified": False, "reason": f"stable-step-size covers SGD, not {config.optimizer}"}
    if eta_max is None:
        return {"descent_verified": False, "reason": "L2 = sup|phi''| is infinite: no step size is verified"}
    if lr <= eta_max:
        return {"descent_verified": True, "reason": f"learning_rate {lr:.6g} <= eta_max {eta_max:.6g}"}
    return {"descent_verified": False, "reason": f"learning_rate {lr:.6g} > eta_max {eta_max:.6g}",
            "warning": f"training.learning_rate = {lr:.6g} exceeds the certified eta_max = {eta_max:.6g} "
                       "(stable-step-size): the predicted loss may increase"}


def _table(doc: dict[str, Any]) -> str:
    from prefdyn.formatting import sig

    T = doc["steps"][-1]
    eta = doc["max_learning_rate"]
    stable = f"eta_max (monotone loss) = {eta:.4g}" if eta is not None else "no eta_max (phi'' unbounded or zero)"
    lines = [f"{doc['scenario']}: {doc['prediction']}, {T} steps, {stable}"]
    if doc["prediction"] == "population-gd":
        if "reference" in doc:
            ref = doc["reference"]
            lines.append(f"reference head: V = {ref['vocab']}, scale {sig(ref['scale'])}, seed {ref['seed']}, "
                         f"||w_1 - w_2|| = {sig(ref['gap_norm'])}")
        lines.append("population limit (n -> infinity; a tie counts 1/2): compare with the held-out "
                     "(test) split of `prefdyn simulate`, not the training split")
        lines.append(f"{'behavior':<20} {'pol.acc(0)':>10} {'pol.acc(1)':>10} {'pol.acc(T)':>10} {'rew.acc(T)':>10} "
                     f"{'margin(T)':>10} {'loss(T)':>10}")
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
        if doc["reason"]:
            lines.append(doc["reason"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from prefdyn.cli._output import emit_json
    from prefdyn.numerics.quadrature import DEFAULT_NODES
    from prefdyn.numerics.scenario import default_scenario, load_scenario
    from prefdyn.threads import configure_threads

    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    # one population-GD step: K behaviours x 4 components of d x d products and quadrature nodes
    K, d = len(scenario.behaviors), scenario.dim
    configure_threads(args.threads, work=8.0 * K * 4 * d * (d + DEFAULT_NODES))
    doc = predict_document(_with_steps(scenario, args.steps), seed=args.seed)
    if "warning" in doc["step_size"]:
        print(f"prefdyn predict: warning: {doc['step_size']['warning']}", file=sys.stderr)
    if args.json:
        emit_json(doc)
    else:
        print(_table(doc))
    return 0
