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
    with_out,
)
from ._types import positive

COLUMNS = ("name", "distinguishability", "loss_error_max", "loss_error_mean",
           "accuracy_error_max", "predicted_speed", "observed_speed")


def register_predict(actions: Any) -> None:
    """Add the ``predict`` action (with the options every persona action takes)."""
    p = actions.add_parser("predict", help="predicted vs observed learning curves from the "
                                           "moment model (population flow)")
    common_options(p)
    training_options(p)
    p.add_argument("--joint", action="store_true",
                   help="all behaviours on one shared head (default: each behaviour alone)")
    p.add_argument("--permutations", type=positive(int), default=10000,
                   help="permutations for the Spearman p-values")
    p.set_defaults(func=with_out(run_predict))


def _text(doc: dict[str, Any]) -> str:
    s = doc["summary"]
    out = (f"{doc['mode']} heads, {s['behaviours']} behaviour(s): max |loss error| median "
           f"{s['median_max_loss_error']:.4f}, worst {s['max_loss_error']:.4f}; max |accuracy "
           f"error| median {s['median_max_accuracy_error']:.4f}, worst "
           f"{s['max_accuracy_error']:.4f}; theory {doc['theory_seconds']:.2f} s\n")
    out += spearman_text("predicted vs observed speed (mean loss decrease)",
                 doc["rho_predicted_observed_speed"])
    out += spearman_text("distinguishability vs observed speed", doc["rho_distinguishability_observed_speed"])
    harm = doc["harmed"]
    if harm is not None:
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
        out += (f"harmed (final loss > initial): observed {harm['observed'] or 'none'}; "
                f"predicted {harm['predicted'] or 'none'}; precision {fmt(harm['precision'])}, "
                f"recall {fmt(harm['recall'])}\n")
    return out


def run_predict(args: argparse.Namespace) -> int:
    from prefdyn.numerics.persona.predict import predict_corpus
    from prefdyn.numerics.persona.tables import to_text

    _, _, data = load(args)
    report = predict_corpus(data, train_settings(args), joint=args.joint, threshold=args.threshold,
                            permutations=args.permutations)
    doc = report.to_json()
    rows: list[dict[str, Any]] = [{"name": r.name, "distinguishability": r.distinguishability,
             "loss_error_max": r.loss_error_max, "loss_error_mean": r.loss_error_mean,
             "accuracy_error_max": r.accuracy_error_max,
             "predicted_speed": r.predicted_speed.mean_loss_decrease,
             "observed_speed": r.observed_speed.mean_loss_decrease} for r in report.behaviours]
    if args.out is not None:
        from prefdyn.numerics.persona.predict_figures import all_figures

        all_figures(doc, out_folder(args), f"predict-{doc['mode']}")
    return finish(args, doc, to_text(rows, COLUMNS) + _text(doc), {"predict": (rows, COLUMNS)})
