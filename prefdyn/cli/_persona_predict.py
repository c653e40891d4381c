"""``prefdyn persona predict``: real last-layer learning curves predicted from measured class
statistics (Gaussian moment model through the population flow), checked against real runs.

Registered by :mod:`prefdyn.cli.persona` with its shared ``--data``/``--model``/... and
training options (``--loss --beta --lr --steps --batch-size --threshold``, paper defaults).
``--joint`` trains all behaviours on one head (else each alone); ``--out DIR`` also writes the
JSON document, CSV/LaTeX tables and the figures (PDF + PNG).
"""

from __future__ import annotations

import argparse
from typing import Any

from ._persona_options import (
    common_options,
    finish,
    load,
    out_folder,
    spearman_text,
    train_settings,
    training_options,
    training_progress,
    with_out,
)
from ._types import positive

COLUMNS = (
    "name",
    "distinguishability",
    "loss_error_max",
    "loss_error_mean",
    "accuracy_error_max",
    "predicted_speed",
    "observed_speed",
)


def register_predict(actions: Any) -> None:
    """Add the ``predict`` action (with the options every persona action takes)."""
    p = actions.add_parser(
        "predict", help="predicted vs observed learning curves from the moment model (population flow)"
    )
    common_options(p)
    training_options(p)
    p.add_argument(
        "--joint", action="store_true", help="all behaviours on one shared head (default: each behaviour alone)"
    )
    p.add_argument("--permutations", type=positive(int), default=10000, help="permutations for the Spearman p-values")
    p.set_defaults(func=with_out(run_predict))


def _text(doc: dict[str, Any]) -> str:
    """Summary lines: curve errors on the training split (the moment model is fitted to it, so
    the two are like for like), printed ``< r`` below the observation's resolution ``r``."""
    from prefdyn.formatting import sig

    s = doc["summary"]
    loss_r, acc_r = s.get("loss_resolution"), s.get("accuracy_resolution")
    out = (
        f"{doc['mode']} heads, {s['behaviors']} behaviour(s), training split (the moment model "
        f"is fitted to it): max |loss error| median {sig(s['median_max_loss_error'], resolution=loss_r)}, "
        f"worst {sig(s['max_loss_error'], resolution=loss_r)}; max |reward accuracy error| median "
        f"{sig(s['median_max_accuracy_error'], resolution=acc_r)}, worst "
        f"{sig(s['max_accuracy_error'], resolution=acc_r)} (a tie counts 1/2); theory "
        f"{sig(doc['theory_seconds'], 3)} s\n"
    )
    if loss_r is not None and s["max_loss_error"] < loss_r:
        out += (
            f"  (every loss error is below the float resolution {sig(loss_r, 1)} of the observed "
            "curves: at these settings the losses barely move; raise --beta or --lr)\n"
        )
    out += spearman_text("predicted vs observed speed (mean loss decrease)", doc["rho_predicted_observed_speed"])
    out += spearman_text("distinguishability vs observed speed", doc["rho_distinguishability_observed_speed"])
    harm = doc["harmed"]
    if harm is not None:
        out += (
            f"harmed (final training loss > initial): observed {harm['observed'] or 'none'}; "
            f"predicted {harm['predicted'] or 'none'}; precision {sig(harm['precision'])}, "
            f"recall {sig(harm['recall'])}\n"
        )
    return out


def run_predict(args: argparse.Namespace) -> int:
    from prefdyn.studies.curves import predict_corpus
    from prefdyn.tables import to_text

    _, _, data = load(args)
    progress = training_progress(args, 1 if args.joint else len(data.behaviors))
    report = predict_corpus(
        data,
        train_settings(args),
        joint=args.joint,
        threshold=args.threshold,
        permutations=args.permutations,
        progress=lambda name: progress.update(1, name),
    )
    progress.close()
    doc = report.to_json()
    rows: list[dict[str, Any]] = [
        {
            "name": r.name,
            "distinguishability": r.distinguishability,
            "loss_error_max": r.loss_error_max,
            "loss_error_mean": r.loss_error_mean,
            "accuracy_error_max": r.accuracy_error_max,
            "predicted_speed": r.predicted_speed.mean_loss_decrease,
            "observed_speed": r.observed_speed.mean_loss_decrease,
        }
        for r in report.behaviors
    ]
    if args.out is not None:
        from prefdyn.studies.figures import plot_persona_curves

        plot_persona_curves(doc, out_folder(args), f"predict-{doc['mode']}")
    return finish(args, doc, to_text(rows, COLUMNS) + _text(doc), {"predict": (rows, COLUMNS)})
