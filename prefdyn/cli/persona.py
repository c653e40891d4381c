"""``prefdyn persona stats|train|pair|misalign|finetune|predict|embed``: the paper's measurements on real data
(what every action shares: :data:`DESCRIPTION`, the ``--help`` text)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from ._persona_options import (
    common_options,
    finish,
    load,
    load_corpus,
    spearman_text,
    train_settings,
    training_options,
    training_progress,
    with_out,
)
from ._types import number, positive

#: The ``--help`` text: what every action shares (plain text, no markup).
DESCRIPTION = (
    "The paper's measurements on real data. Every action loads persona-format JSONL (--data: a file, a folder or a "
    "glob), embeds it with --model (default: the bundled all-MiniLM-L6-v2; or a local Hugging Face causal-LM or "
    "sentence-transformers folder), served from the on-disk cache when possible, and prints a summary (--json: one "
    "JSON document). --out DIR also writes the JSON document and, for stats and train, CSV and LaTeX (booktabs) "
    "tables."
)

STATS_COLUMNS = (
    "name",
    "n",
    "balance",
    "distinguishability",
    "distinguishability_lo",
    "distinguishability_hi",
    "distinguishability_debiased",
    "concentration",
    "concentration_lo",
    "concentration_hi",
    "trace",
    "trace_lo",
    "trace_hi",
)
TRAIN_COLUMNS = (
    "name",
    "distinguishability",
    "steps_to_threshold",
    "loss_auc",
    "final_train_loss",
    "final_test_loss",
    "final_train_accuracy",
    "final_test_accuracy",
)


def _stats(args: argparse.Namespace) -> int:
    from prefdyn.studies.stats import behavior_stats, delta, priority_level
    from prefdyn.tables import to_text

    _, _, data = load(args)
    rows = [behavior_stats(b.name, b.g, b.sign, resamples=args.resamples, seed=args.seed).row() for b in data.behaviors]
    deltas = {b.name: delta(b.g, b.sign) for b in data.behaviors}
    names = list(deltas)
    priority = [
        {"first": i, "second": j, "gap": priority_level(deltas[i], deltas[j])[2]}
        for a, i in enumerate(names)
        for j in names[a + 1 :]
    ]
    doc = {"model": data.model, "template": data.template, "responses": list(data.responses), "behaviors": rows}
    if args.priority:
        doc["priority"] = priority
    tables = {"stats": (rows, STATS_COLUMNS), "priority": (priority, ("first", "second", "gap"))}
    return finish(
        args, doc, to_text(rows, ("name", "n", "balance", "distinguishability", "concentration", "trace")), tables
    )


def _curves(result: Any, b: int) -> dict[str, list[float]]:
    return {
        f"{split}_{m}": result.curve(m, split)[0, :, b].tolist()
        for split in ("train", "test")
        for m in ("loss", "accuracy")
    }


def _train(args: argparse.Namespace) -> int:
    from prefdyn.studies.experiments import correlate_speeds, distinguishability
    from prefdyn.studies.training import train_each
    from prefdyn.tables import to_text

    _, _, data = load(args)
    settings = train_settings(args)
    progress = training_progress(args, len(data.behaviors))
    each = train_each(data, settings, args.threshold, progress=lambda name: progress.update(1, name))
    progress.close()
    dist = distinguishability(data)
    rows = [
        {"name": k, "distinguishability": dist[k], **asdict(s), "steps_to_threshold_censored": s.censored}
        for k, (s, _) in each.items()
    ]
    doc: dict[str, Any] = {
        "settings": asdict(settings),
        "threshold": args.threshold,
        "behaviors": [{**row, "curves": _curves(each[row["name"]][1], 0)} for row in rows],
    }
    # steps_to_threshold = T + 1 means "never within T steps": printed >T
    text = (
        "last-layer training per behaviour; losses and accuracies on the split named in the column (a tie counts 1/2)\n"
    )
    text += to_text(rows, TRAIN_COLUMNS, censored={"steps_to_threshold": settings.steps})
    if len(rows) >= 3:
        speeds = {k: s for k, (s, _) in each.items()}
        corr = correlate_speeds(dist, speeds, args.threshold, permutations=args.permutations, seed=args.seed).to_json()
        doc["rho_steps_to_threshold"] = corr["rho_steps_to_threshold"]
        doc["rho_loss_auc"] = corr["rho_loss_auc"]
        text += spearman_text("distinguishability, steps to threshold", corr["rho_steps_to_threshold"])
        text += spearman_text("distinguishability, loss AUC", corr["rho_loss_auc"])
    return finish(args, doc, text, {"train": (rows, TRAIN_COLUMNS)})


def _pair_json(r: Any) -> dict[str, Any]:
    return {
        "first": r.first,
        "second": r.second,
        "priority": list(r.priority),
        "gap": r.gap,
        "predicted_first": r.predicted_first,
        "observed_first": r.observed_first,
        "agrees": r.agrees,
        "joint": [asdict(s) for s in r.joint],
        "alone": [asdict(s) for s in r.alone],
    }


def _pair(args: argparse.Namespace) -> int:
    from prefdyn.studies.experiments import default_pair, pair_priority, pair_sweep

    _, _, data = load(args)
    settings = train_settings(args)
    if args.pairs > 1 and len(data.behaviors) > 2:
        total = min(args.pairs, len(data.behaviors) * (len(data.behaviors) - 1) // 2)
        progress = training_progress(args, total, "pairs")
        results, corr = pair_sweep(
            data,
            settings,
            args.threshold,
            args.pairs,
            permutations=args.permutations,
            progress=lambda name: progress.update(1, name),
        )
        progress.close()
        agree = sum(r.agrees for r in results) / len(results)
        doc: dict[str, Any] = {
            "pairs": [_pair_json(r) for r in results],
            "agreement": agree,
            "rho_gap_lead": None if corr is None else asdict(corr),
        }
        text = (
            f"{len(results)} pairs: prediction agrees with the observed order (training-split "
            f"loss AUC) in {agree:.1%}\n"
        )
        if corr is not None:
            text += spearman_text("priority gap, joint loss-AUC lead", asdict(corr))
        return finish(args, doc, text)
    first, second = data.names if len(data.names) == 2 else default_pair(data)
    r = pair_priority(data, first, second, settings, args.threshold)
    from prefdyn.formatting import sig, signed

    text = (
        f"pair {r.first} / {r.second}: priority p = {sig(r.priority[0])} / "
        f"{sig(r.priority[1])}, gap = {signed(r.gap)} -> predicted first: {r.predicted_first}; "
        f"observed first (smaller joint training-loss AUC): {r.observed_first}\n"
        f"  final train accuracy joint {sig(r.joint[0].final_train_accuracy)} / "
        f"{sig(r.joint[1].final_train_accuracy)}, alone {sig(r.alone[0].final_train_accuracy)}"
        f" / {sig(r.alone[1].final_train_accuracy)}\n"
    )
    return finish(args, _pair_json(r), text)


def _misalign_text(m: Any, label: str = "") -> str:
    from prefdyn.formatting import count_text, sig

    limit = m.flip_steps
    return (
        f"{label}steps to flip (training split): from reference "
        f"{count_text(m.steps_to_flip_from_reference, limit)}, from aligned "
        f"{count_text(m.steps_to_flip_from_aligned, limit)} of {limit} flipped steps (aligned "
        f"train accuracy {sig(m.aligned_train_accuracy)}); first-step size ratio "
        f"aligned/reference {sig(m.first_step_ratio)}\n"
    )


def _misalign_json(m: Any) -> dict[str, Any]:
    """The misalignment document; ``steps_to_flip_censored`` says which count means "never
    within ``flip_steps``" (stored as ``flip_steps + 1``)."""
    return {
        **asdict(m),
        "first_step_ratio": m.first_step_ratio,
        "steps_to_flip_censored": {
            "from_reference": m.steps_to_flip_from_reference > m.flip_steps,
            "from_aligned": m.steps_to_flip_from_aligned > m.flip_steps,
        },
    }


def _misalign(args: argparse.Namespace) -> int:
    from prefdyn.studies.experiments import misalignment

    _, _, data = load(args)
    progress = training_progress(args, 5, "trainings")
    m = misalignment(data, train_settings(args), args.flip_steps, progress=lambda name: progress.update(1, name))
    progress.close()
    return finish(args, _misalign_json(m), _misalign_text(m))


def _finetune(args: argparse.Namespace) -> int:
    from prefdyn.numerics.persona import resolve_embedder
    from prefdyn.studies.finetune import FinetuneSettings, finetune
    from prefdyn.threads import configure_threads

    corpus = load_corpus(args)
    configure_threads(args.threads, work=None)  # fine-tuning an encoder: large work
    if args.behaviors is None:
        corpus = corpus.select(corpus.names[: args.subset])
    ft = FinetuneSettings(
        samples=args.samples,
        steps=args.ft_steps,
        batch_size=args.ft_batch,
        learning_rate=args.ft_lr,
        head_learning_rate=args.head_lr,
        beta=args.ft_beta,
        seed=args.seed,
    )
    r = finetune(corpus, resolve_embedder(args.model, args.device), ft, train_settings(args), args.template)
    doc = {
        "settings": asdict(ft),
        **{k: v for k, v in asdict(r).items() if not k.startswith("misalign")},
        "misalign_base": _misalign_json(r.misalign_base),
        "misalign_tuned": _misalign_json(r.misalign_tuned),
    }
    from prefdyn.formatting import sig

    text = "".join(
        f"{b}: distinguishability (all samples) {sig(r.distinguishability_base[b])} -> "
        f"{sig(r.distinguishability_tuned[b])} (held-out "
        f"{sig(r.test_distinguishability_base[b])} -> "
        f"{sig(r.test_distinguishability_tuned[b])})\n"
        for b in r.behaviors
    )
    text += f"DPO loss (training batches) {sig(r.loss[0])} -> {sig(r.loss[-1])} over {len(r.loss)} steps\n"
    text += _misalign_text(r.misalign_base, "base features:  ")
    text += _misalign_text(r.misalign_tuned, "tuned features: ")
    return finish(args, doc, text)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "persona",
        help="measurements on persona-format preference data embedded by a real model",
        description=DESCRIPTION,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = actions.add_parser("stats", help="per-behaviour geometry with bootstrap CIs")
    common_options(p)
    p.add_argument("--resamples", type=number(int, minimum=10), default=200, help="bootstrap resamples (>= 10)")
    p.add_argument("--priority", action="store_true", help="list pairwise priority levels")
    p.set_defaults(func=with_out(_stats))

    p = actions.add_parser("train", help="last-layer DPO per behaviour; rho(distinguishability, speed)")
    common_options(p)
    training_options(p)
    p.add_argument("--permutations", type=positive(int), default=10000)
    p.set_defaults(func=with_out(_train))

    p = actions.add_parser("pair", help="joint training of a pair vs the priority prediction")
    common_options(p)
    training_options(p)
    p.add_argument("--pairs", type=positive(int), default=1, help="> 1: that many random pairs among --behaviours")
    p.add_argument("--permutations", type=positive(int), default=10000)
    p.set_defaults(func=with_out(_pair))

    p = actions.add_parser("misalign", help="flipped labels from the reference / aligned head")
    common_options(p)
    training_options(p)
    p.add_argument("--flip-steps", type=positive(int), default=None, help="steps on flipped labels (default: --steps)")
    p.set_defaults(func=with_out(_misalign))

    p = actions.add_parser("finetune", help="full DPO fine-tuning of the encoder + head")
    common_options(p)
    training_options(p)
    g = p.add_argument_group("fine-tuning (CPU-feasible defaults)")
    g.add_argument(
        "--subset", type=positive(int), default=4, help="behaviours used when --behaviours is not given (the first N)"
    )
    g.add_argument("--samples", type=positive(int), default=128, help="per behaviour")
    g.add_argument("--ft-steps", type=positive(int), default=60)
    g.add_argument("--ft-batch", type=positive(int), default=32)
    g.add_argument("--ft-lr", type=positive(float), default=2e-5)
    g.add_argument("--head-lr", type=positive(float), default=1e-2)
    g.add_argument("--ft-beta", type=positive(float), default=0.1)
    p.set_defaults(func=with_out(_finetune))

    from ._persona_predict import register_predict  # theory vs real curves

    register_predict(actions)

    from ._persona_embed import register_embed  # fill the cache, here or on a Ray cluster

    register_embed(actions)
