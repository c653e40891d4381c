r"""Last-layer preference training on embedded persona data, through the batched simulator.

This module is the adapter from an :class:`~.embedded.EmbeddedCorpus` to
:class:`prefdyn.numerics.data.PreferenceData` and :func:`prefdyn.numerics.simulator.simulate`;
it trains nothing itself. The head is the embedder's (:math:`W_{\mathrm{ref}} = 0`, :math:`V = 2`
for MiniLM; the real ``lm_head`` rows plus the per-sample log-sum-exp of the other :math:`V-2`
logits for a causal LM).

Defaults are the paper's last-layer runs (Im & Li 2024, Sec. 5): DPO, SGD, batch 128, 100
steps, :math:`\eta = 0.1`, :math:`\beta = 0.01`, a seeded 90/10 train/test split stratified per
behaviour. Batches are drawn by epochs over a reshuffled training set (``batching = "epoch"``,
the last batch of an epoch keeping the remainder); the authors' loop draws every step's batch
afresh, which is ``batching = "independent"`` (:mod:`prefdyn.numerics.schedule`). Training runs
in the embeddings' dtype (float32) unless ``dtype`` says float64; a loss change float32 does not
resolve is warned about (:mod:`prefdyn.numerics.resolution`).

Learning speed of a behaviour from its training-loss curve :math:`L_0, \dots, L_T`:

* ``steps_to_threshold``: :math:`\min\{t : L_t \le \tau\}` (:math:`T + 1` when never reached,
  i.e. right-censored, printed ``>T``; ties are ranked equally by Spearman's rho);
* ``loss_auc``: :math:`\frac1T\sum_{t=1}^{T} L_t`, the normalised area under the loss curve
  (smaller = faster; :func:`loss_area`, the one definition, also of the report's speed sweep and
  of :func:`.curves.curve_speed`'s mean loss decrease :math:`L_0 -` area).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from prefdyn.errors import require
from prefdyn.numerics.config import Phase, TrainConfig
from prefdyn.numerics.data import PreferenceData, ReferenceHead
from prefdyn.numerics.persona.corpus import EmbeddedCorpus
from prefdyn.numerics.resolution import warn_unresolved_loss
from prefdyn.numerics.seeds import generator
from prefdyn.numerics.simulator import SimulationResult, compute_dtype, simulate

#: Training dtypes by name (:attr:`TrainSettings.dtype`).
TRAIN_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class TrainSettings:
    """Last-layer training knobs (paper defaults); ``test_fraction`` of each behaviour is held
    out, chosen by ``seed``; ``batching`` is :class:`TrainConfig`'s; ``dtype`` (``float32`` or
    ``float64``; ``None``: the embeddings' own) is the training dtype."""

    loss: str = "dpo"
    optimizer: str = "sgd"
    batch_size: int = 128
    steps: int = 100
    learning_rate: float = 0.1
    beta: float = 0.01
    weight_decay: float = 0.0
    test_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    batching: str = "epoch"
    dtype: str | None = None

    def config(self, *phases: tuple[str, int, str]) -> TrainConfig:
        """A :class:`TrainConfig`; ``phases`` are ``(name, steps, labels)`` (default: one
        ``train`` phase of ``steps`` on the original labels)."""
        plan = phases or (("train", self.steps, "original"),)
        return TrainConfig(
            loss=self.loss,
            beta=self.beta,
            learning_rate=self.learning_rate,
            phases=tuple(Phase(*p) for p in plan),
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            weight_decay=self.weight_decay,
            batching=self.batching,
        )


def split_mask(names: Sequence[str], counts: Sequence[int], test_fraction: float, seed: int) -> torch.Tensor:
    """Train mask over the concatenated behaviours: in each behaviour of ``n_b`` samples,
    ``round(test_fraction * n_b)`` random ones are held out (seeded by ``seed`` and the
    behaviour's *name*, so a behaviour gets the same split alone and in any set); at least one
    sample always trains."""
    require(0 <= test_fraction < 1, "test_fraction", "must lie in [0, 1)")
    masks = []
    for name, n in zip(names, counts, strict=True):
        held = min(round(test_fraction * n), n - 1)
        mask = torch.ones(n, dtype=torch.bool)
        stream = generator(seed, zlib.crc32(name.encode()), "data")
        mask[torch.randperm(n, generator=stream)[:held]] = False
        masks.append(mask)
    return torch.cat(masks)


def preference_data(corpus: EmbeddedCorpus, test_fraction: float = 0.1, seed: int = 0) -> PreferenceData:
    """The simulator's input for all behaviours of ``corpus`` (one head shared by all)."""
    parts = corpus.behaviors
    lse = [b.lse_other for b in parts]
    other = None if any(x is None for x in lse) else torch.cat(lse)  # type: ignore[arg-type]
    return PreferenceData(
        g=torch.cat([b.g for b in parts]),
        s=torch.cat([b.sign for b in parts]),
        behavior=torch.cat([torch.full((len(b.sign),), i) for i, b in enumerate(parts)]),
        train=split_mask(corpus.names, [len(b.sign) for b in parts], test_fraction, seed),
        behavior_names=tuple(corpus.names),
        head=ReferenceHead(corpus.head.rows.float(), other),
    )


def train(corpus: EmbeddedCorpus, settings: TrainSettings, *phases: tuple[str, int, str]) -> SimulationResult:
    """One head trained jointly on every behaviour of ``corpus`` (see :meth:`TrainSettings.config`
    for ``phases``), in ``settings.dtype``; a loss change that dtype does not resolve is warned
    about (:func:`~prefdyn.numerics.resolution.warn_unresolved_loss`)."""
    data = preference_data(corpus, settings.test_fraction, settings.seed)
    require(settings.dtype in (None, *TRAIN_DTYPES), "dtype", f"must be one of {', '.join(TRAIN_DTYPES)}")
    dtype = data.g.dtype if settings.dtype is None else TRAIN_DTYPES[settings.dtype]
    result = simulate(data, settings.config(*phases), seed=settings.seed, device=settings.device, dtype=dtype)
    warn_unresolved_loss(result, compute_dtype(dtype))
    return result


@dataclass(frozen=True)
class Speed:
    """Learning speed of one behaviour (module docstring)."""

    steps_to_threshold: int
    loss_auc: float
    final_train_loss: float
    final_test_loss: float
    final_train_accuracy: float
    final_test_accuracy: float
    #: the training length :math:`T`: ``steps_to_threshold > steps`` means never reached
    #: (right-censored; printed ``>T``)
    steps: int = 0

    @property
    def censored(self) -> bool:
        """Whether the threshold was never reached within :attr:`steps` steps."""
        return self.steps_to_threshold > self.steps


def first_below(loss: torch.Tensor, threshold: float) -> int:
    """Index of the first point of a loss curve ``[T + 1]`` at or below ``threshold``;
    ``T + 1`` (one past the end: censored) when it never gets there."""
    below = torch.nonzero(loss <= threshold)
    return int(below[0]) if len(below) else len(loss)


def loss_area(loss: torch.Tensor) -> torch.Tensor:
    r"""The normalised area under loss curves, :math:`\frac1T\sum_{t=1}^{T} L_t` (smaller =
    faster; module docstring).

    Parameters
    ----------
    loss : torch.Tensor
        Curves ``[..., T + 1]`` along the last axis, index 0 before training.

    Returns
    -------
    torch.Tensor
        One area per curve, ``[...]``.
    """
    return loss[..., 1:].mean(-1)


def speed(result: SimulationResult, behavior: int, threshold: float) -> Speed:
    """Speed of run 0 of ``result`` on ``behavior`` (index)."""
    loss = result.curve("loss", "train")[0, :, behavior]
    steps = result.steps
    index = first_below(loss, threshold)
    reached = steps[index] if index < len(loss) else steps[-1] + 1

    def last(metric: str, split: str) -> float:
        return float(result.curve(metric, split)[0, -1, behavior])

    return Speed(
        reached,
        float(loss_area(loss)),
        last("loss", "train"),
        last("loss", "test"),
        last("accuracy", "train"),
        last("accuracy", "test"),
        steps[-1],
    )


def train_each(
    corpus: EmbeddedCorpus, settings: TrainSettings, threshold: float, progress: Callable[[str], None] | None = None
) -> dict[str, tuple[Speed, SimulationResult]]:
    """Each behaviour trained alone (its own fresh head), with its speed and curves;
    ``progress(name)`` is called after each behaviour."""
    out = {}
    for name in corpus.names:
        result = train(corpus.select([name]), settings)
        out[name] = (speed(result, 0, threshold), result)
        if progress is not None:
            progress(name)
    return out
