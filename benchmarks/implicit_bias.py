"""Measurement: DPO's direction against the hard-margin SVM direction on separable data.

Run as a script (never a test)::

    python benchmarks/implicit_bias.py [--steps 100 1000 10000] [--fraction 0.5] [--json]

For each data set, full-batch GD (:func:`prefdyn.numerics.simulate`, float64, DPO, ``beta = 1``,
``eta = fraction * eta_max`` with ``eta_max = 1/(beta^2 L_2 lambda_max)`` of ``stable-step-size``)
is run from ``W_ref`` for each horizon ``t``; reported: ``cos(Delta_t, w_svm)`` with ``w_svm`` from
:func:`prefdyn.numerics.separable`, the smallest margin ``min_i h_i(t)`` and
``beta * gamma * ||Delta_t||`` (both ``~ log t`` by theorem ``implicit-bias``), and the training
accuracy. Data sets:

* ``synthetic``: the sampled scenario below (two Gaussian behaviours, 200 training samples in
  ``d = 384``), separable since ``n < d``;
* ``persona:<behaviour>``: the 120 statements of each persona file of
  ``tests/data/anthropic-evals-persona``, embedded by the bundled all-MiniLM-L6-v2
  (``d = 384``; cached features are reused, nothing is downloaded).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from prefdyn.numerics import PreferenceData, TrainConfig, parse_scenario, sample_scenario, separable, simulate
from prefdyn.numerics.config import Phase
from prefdyn.theory.losses import get_loss

ROOT = Path(__file__).resolve().parent.parent
PERSONA = ROOT / "tests" / "data" / "anthropic-evals-persona"
SYNTHETIC = {
    "training": {"samples": 200, "dim": 384, "seed": 0, "steps": 1},
    "behaviors": [
        {"name": "a", "weight": 0.5, "distinguishability": 1.0},
        {"name": "b", "weight": 0.5, "distinguishability": 2.0},
    ],
}


def synthetic() -> PreferenceData:
    """The sampled synthetic set (one run, float64)."""
    scenario = parse_scenario(SYNTHETIC)
    return sample_scenario(scenario, 1, dtype=torch.float64).shared(0)


def persona() -> dict[str, PreferenceData]:
    """Each persona behaviour as its own data set (MiniLM features, all samples for training)."""
    from prefdyn.numerics.persona import embed_corpus, load_persona, resolve_embedder

    corpus = embed_corpus(load_persona(PERSONA), resolve_embedder("minilm", "cpu"))
    out = {}
    for behavior in corpus.behaviors:
        count = behavior.g.shape[0]
        out[f"persona:{behavior.name}"] = PreferenceData(
            behavior.g.to(torch.float64),
            behavior.sign.to(torch.float64),
            torch.zeros(count, dtype=torch.long),
            torch.ones(count, dtype=torch.bool),
            (behavior.name,),
        )
    return out


def measure(data: PreferenceData, horizons: list[int], fraction: float) -> dict:
    """The figures of one data set at each horizon."""
    svm = separable(data)
    z = data.s.unsqueeze(-1) * data.g
    top = float(torch.linalg.eigvalsh(z.T @ z / z.shape[0])[-1])
    beta = 1.0
    rate = fraction / (beta**2 * float(get_loss("dpo").smoothness) * top)
    rows = []
    for steps in horizons:
        config = TrainConfig("dpo", beta, rate, (Phase("train", steps),))
        result = simulate(data, config, record_every=0, dtype=torch.float64)
        delta = result.rows[0, 0] - result.rows[0, 1]
        margins = beta * (z @ delta)
        rows.append(
            {
                "t": steps,
                "cos": float(delta @ svm.direction[0] / delta.norm()),
                "min_margin": float(margins.min()),
                "beta_gamma_norm": float(beta * svm.margin[0] * delta.norm()),
                "log_t": math.log(steps),
                "train_accuracy": float((margins > 0).double().mean()),
            }
        )
    n, d = data.g.shape
    return {"n": n, "d": d, "separable": bool(svm.separable[0]), "gamma": float(svm.margin[0]), "runs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sets = {"synthetic": synthetic(), **persona()}
    report = {name: measure(data, args.steps, args.fraction) for name, data in sets.items()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        "| data set | n | d | gamma | t | cos(Delta_t, w_svm) | min_i h_i | beta gamma ||Delta|| | log t | train acc |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, entry in report.items():
        for row in entry["runs"]:
            print(
                f"| {name} | {entry['n']} | {entry['d']} | {entry['gamma']:.4f} | {row['t']} | {row['cos']:.4f} | "
                f"{row['min_margin']:.3f} | {row['beta_gamma_norm']:.3f} | {row['log_t']:.3f} | "
                f"{row['train_accuracy']:.3f} |"
            )


if __name__ == "__main__":
    main()
