r"""Feature learning: full DPO fine-tuning of a sentence encoder and its two-response head.

Im & Li (2024, Sec. 5.3) claim that alignment makes behaviours *more distinguishable* in the
model's features, and that this is why misalignment of an aligned model is fast
(``misalignment-rate``: with :math:`\delta \to \kappa\delta` the first flipped step grows by another
:math:`\kappa^2`). This module measures both on a behaviour subset.

Model: :math:`\pi_\theta(y|x) = \operatorname{softmax}(W f_\theta(x))_y` over the two responses,
:math:`f_\theta` the encoder (all-MiniLM-L6-v2 by default, unit-norm output), :math:`W` fresh
(:math:`W_{\mathrm{ref}} = 0`, so :math:`\pi_{\mathrm{ref}}` is uniform whatever the encoder).
The DPO margin is :math:`h = \beta s\,(w_1 - w_2)^\top f_\theta(x)` and the loss
:math:`-\log\sigma(h)`; encoder and head train jointly with AdamW (separate learning rates: the
head starts at zero and must grow before any gradient reaches the encoder).

Afterwards the distinguishability :math:`\|\delta_b\|` of the base and of the fine-tuned
features is measured per behaviour (on the held-out samples and on all of them), and the
last-layer misalignment experiment (:func:`~.experiments.misalignment`) runs on each set of
frozen features.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from prefdyn.errors import require
from prefdyn.numerics.persona.corpus import EmbeddedBehavior, EmbeddedCorpus, format_prompt
from prefdyn.numerics.persona.embedders import AnswerHead, SentenceEmbedder
from prefdyn.numerics.persona.loader import PersonaCorpus
from prefdyn.numerics.seeds import generator

from .experiments import Misalignment, misalignment
from .stats import delta
from .training import TrainSettings, split_mask


@dataclass(frozen=True)
class FinetuneSettings:
    """CPU-feasible defaults: ``samples`` per behaviour, ``steps`` AdamW steps of ``batch_size``."""

    samples: int = 128
    steps: int = 60
    batch_size: int = 32
    learning_rate: float = 2e-5
    head_learning_rate: float = 1e-2
    beta: float = 0.1
    weight_decay: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class FinetuneResult:
    """Distinguishability before/after (all samples, held-out samples), the DPO loss curve and
    the last-layer misalignment on the base and on the fine-tuned features."""

    behaviors: list[str]
    distinguishability_base: dict[str, float]
    distinguishability_tuned: dict[str, float]
    test_distinguishability_base: dict[str, float]
    test_distinguishability_tuned: dict[str, float]
    loss: list[float]
    misalign_base: Misalignment
    misalign_tuned: Misalignment


def _subset(corpus: PersonaCorpus, samples: int, seed: int) -> PersonaCorpus:
    """``samples`` random records of each behaviour (seeded by ``seed`` and the name; files are
    in generation order, so a prefix would not be representative)."""
    parts = []
    for b in corpus.behaviors:
        stream = generator(seed, zlib.crc32(b.name.encode()), "data")
        pick = sorted(torch.randperm(len(b.records), generator=stream)[:samples].tolist())
        parts.append(replace(b, records=tuple(b.records[i] for i in pick)))
    return PersonaCorpus(corpus.responses, tuple(parts))


def _encode(model: Any, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return (
            model.encode(list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
            .float()
            .cpu()
        )


def _features(model: Any, corpus: PersonaCorpus, template: str, head: AnswerHead) -> EmbeddedCorpus:
    parts = tuple(
        EmbeddedBehavior(
            b.name,
            _encode(model, [format_prompt(template, r) for r in b.records]),
            torch.tensor(b.signs, dtype=torch.float32),
            None,
        )
        for b in corpus.behaviors
    )
    return EmbeddedCorpus(f"{model.__class__.__name__}", template, corpus.responses, head, parts)


def _norms(corpus: EmbeddedCorpus, masks: dict[str, torch.Tensor] | None) -> dict[str, float]:
    out = {}
    for b in corpus.behaviors:
        keep = torch.ones_like(b.sign, dtype=torch.bool) if masks is None else masks[b.name]
        out[b.name] = float(delta(b.g[keep], b.sign[keep]).norm())
    return out


def _dpo_finetune(model: Any, texts: list[str], signs: torch.Tensor, settings: FinetuneSettings) -> list[float]:
    """AdamW on encoder + head; returns the per-step minibatch loss."""
    gen = torch.Generator().manual_seed(settings.seed)
    head = torch.zeros(2, _encode(model, texts[:1]).shape[1], requires_grad=True)
    optimizer = torch.optim.AdamW(
        [
            {"params": list(model.parameters()), "lr": settings.learning_rate},
            {"params": [head], "lr": settings.head_learning_rate},
        ],
        weight_decay=settings.weight_decay,
    )
    model.train()
    losses = []
    for _ in range(settings.steps):
        idx = torch.randperm(len(texts), generator=gen)[: settings.batch_size]
        prepare = getattr(model, "preprocess", None) or model.tokenize
        batch = prepare([texts[i] for i in idx])
        f = model(batch)["sentence_embedding"]
        h = settings.beta * signs[idx] * (f @ (head[0] - head[1]))
        loss = torch.nn.functional.softplus(-h).mean()  # -log sigmoid(h)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def finetune(
    corpus: PersonaCorpus,
    embedder: SentenceEmbedder,
    settings: FinetuneSettings,
    last_layer: TrainSettings,
    template: str | None = None,
) -> FinetuneResult:
    """Fine-tune a copy of ``embedder``'s encoder on ``corpus`` (``settings.samples`` per
    behaviour, training split only) and measure the features before and after."""
    require(
        isinstance(embedder, SentenceEmbedder),
        "model",
        "finetune needs a sentence-transformers encoder (the default minilm)",
    )
    torch.manual_seed(settings.seed)
    template = template or embedder.default_template
    sub = _subset(corpus, settings.samples, settings.seed)
    masks = dict(
        zip(
            sub.names,
            torch.split(
                split_mask(sub.names, [len(b.records) for b in sub.behaviors], last_layer.test_fraction, settings.seed),
                [len(b.records) for b in sub.behaviors],
            ),
            strict=True,
        )
    )
    head = embedder.head(sub.responses)
    base = _features(embedder.model, sub, template, head)
    model = copy.deepcopy(embedder.model)
    texts, signs = [], []
    for b in sub.behaviors:
        for record, keep in zip(b.records, masks[b.name].tolist(), strict=True):
            if keep:
                texts.append(format_prompt(template, record))
                signs.append(float(record.sign))
    losses = _dpo_finetune(model, texts, torch.tensor(signs), settings)
    tuned = _features(model, sub, template, head)
    held_out = {k: ~v for k, v in masks.items()}
    return FinetuneResult(
        behaviors=sub.names,
        distinguishability_base=_norms(base, None),
        distinguishability_tuned=_norms(tuned, None),
        test_distinguishability_base=_norms(base, held_out),
        test_distinguishability_tuned=_norms(tuned, held_out),
        loss=losses,
        misalign_base=misalignment(base, last_layer),
        misalign_tuned=misalignment(tuned, last_layer),
    )
