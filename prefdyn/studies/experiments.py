r"""The paper's experiments on embedded persona data (Im & Li 2024, Sec. 5), generalised.

* :func:`speed_correlation`: every behaviour trained alone; Spearman's :math:`\rho` between
  distinguishability :math:`\|\delta_b\|` and learning speed (steps to a loss threshold, and the
  area under the loss curve), with a permutation p-value and a bootstrap CI. The theory
  (``update-rate``) predicts a *negative* :math:`\rho` for both: the first-step margin growth is
  :math:`\propto\|\delta_b\|^2`.
* :func:`pair_priority`: two behaviours trained jointly by one head; the observed ordering
  (which one's loss area is smaller) against the priority level's prediction
  (:math:`\mathrm{gap}_{ij} > 0`: :math:`i` first), and each one's accuracy alone vs jointly.
* :func:`misalignment`: labels flipped, from the reference head and from the aligned head
  (trained ``settings.steps`` first). Steps to flip = the first flipped-phase step at which the
  majority of training samples prefer the flipped answer (reward accuracy on the original
  labels :math:`< \tfrac12`); first-step size :math:`\|W_{t_0+1} - W_{t_0}\|_F`. ``misalignment-rate``
  predicts the ratio aligned/reference :math:`\to 2` at a stationary point of the alignment.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from prefdyn.errors import require
from prefdyn.numerics.persona.corpus import EmbeddedCorpus

from .stats import Correlation, delta, priority_level, spearman
from .training import Speed, TrainSettings, speed, train, train_each


@dataclass(frozen=True)
class SpeedCorrelation:
    """Per-behaviour speeds and the two rank correlations with distinguishability."""

    threshold: float
    distinguishability: dict[str, float]
    speeds: dict[str, Speed]
    rho_steps: Correlation
    rho_auc: Correlation

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "rho_steps_to_threshold": asdict(self.rho_steps),
            "rho_loss_auc": asdict(self.rho_auc),
            "behaviors": [
                {"name": k, "distinguishability": self.distinguishability[k], **asdict(v)}
                for k, v in self.speeds.items()
            ],
        }


def distinguishability(corpus: EmbeddedCorpus) -> dict[str, float]:
    r""":math:`\|\mu_b^+ - \mu_b^-\|` of every behaviour (on all its samples)."""
    return {b.name: float(delta(b.g, b.sign).norm()) for b in corpus.behaviors}


def correlate_speeds(
    dist: dict[str, float],
    speeds: dict[str, Speed],
    threshold: float,
    *,
    permutations: int = 10000,
    resamples: int = 2000,
    seed: int = 0,
) -> SpeedCorrelation:
    """Spearman's rho of distinguishability against both speed measures of ``speeds``."""
    require(len(speeds) >= 3, "behaviors", "the correlation needs at least three")
    x = [dist[k] for k in speeds]
    kw = {"permutations": permutations, "resamples": resamples, "seed": seed}
    return SpeedCorrelation(
        threshold,
        dist,
        speeds,
        spearman(x, [s.steps_to_threshold for s in speeds.values()], **kw),
        spearman(x, [s.loss_auc for s in speeds.values()], **kw),
    )


def speed_correlation(
    corpus: EmbeddedCorpus,
    settings: TrainSettings,
    threshold: float,
    *,
    permutations: int = 10000,
    resamples: int = 2000,
) -> SpeedCorrelation:
    """Train each behaviour alone and correlate its speed with its distinguishability."""
    require(len(corpus.behaviors) >= 3, "behaviors", "the correlation needs at least three")
    speeds = {k: v[0] for k, v in train_each(corpus, settings, threshold).items()}
    return correlate_speeds(
        distinguishability(corpus),
        speeds,
        threshold,
        permutations=permutations,
        resamples=resamples,
        seed=settings.seed,
    )


@dataclass(frozen=True)
class PairResult:
    """One jointly trained pair ``(i, j)`` against its priority prediction."""

    first: str
    second: str
    priority: tuple[float, float]
    gap: float
    predicted_first: str
    observed_first: str
    joint: tuple[Speed, Speed]
    alone: tuple[Speed, Speed]

    @property
    def agrees(self) -> bool:
        return self.predicted_first == self.observed_first


def pair_priority(
    corpus: EmbeddedCorpus,
    first: str,
    second: str,
    settings: TrainSettings,
    threshold: float,
    alone: dict[str, Speed] | None = None,
) -> PairResult:
    """Train ``first`` and ``second`` with one head and compare with the priority level."""
    require(first != second, "behaviors", "a pair needs two different behaviours")
    pair = corpus.select([first, second])
    d_i, d_j = (delta(b.g, b.sign) for b in pair.behaviors)
    p_i, p_j, gap = priority_level(d_i, d_j)
    joint = train(pair, settings)
    speeds = (speed(joint, 0, threshold), speed(joint, 1, threshold))
    if alone is None:
        each = train_each(pair, settings, threshold)
        alone = {k: v[0] for k, v in each.items()}
    observed = first if speeds[0].loss_auc <= speeds[1].loss_auc else second
    return PairResult(
        first, second, (p_i, p_j), gap, first if gap >= 0 else second, observed, speeds, (alone[first], alone[second])
    )


def pair_sweep(
    corpus: EmbeddedCorpus,
    settings: TrainSettings,
    threshold: float,
    pairs: int,
    *,
    permutations: int = 10000,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[PairResult], Correlation | None]:
    """``pairs`` random behaviour pairs (seeded): each pair's result, and Spearman's rho between
    the priority gap and the observed joint loss-area difference :math:`A_j - A_i` (a positive
    rho means the priority level predicts which behaviour is learned first; ``None`` for fewer
    than three pairs). ``progress(name)`` is called after each pair."""
    names = corpus.names
    require(len(names) >= 2, "behaviors", "pairs need at least two behaviours")
    every = list(itertools.combinations(names, 2))
    chosen = random.Random(settings.seed).sample(every, min(pairs, len(every)))
    alone = {
        k: v[0]
        for k, v in train_each(corpus.select(sorted({n for p in chosen for n in p})), settings, threshold).items()
    }
    results = []
    for i, j in chosen:
        results.append(pair_priority(corpus, i, j, settings, threshold, alone))
        if progress is not None:
            progress(f"{i} / {j}")
    gaps = [r.gap for r in results]
    lead = [r.joint[1].loss_auc - r.joint[0].loss_auc for r in results]
    if len(results) < 3:
        return results, None
    return results, spearman(gaps, lead, permutations=permutations, seed=settings.seed)


@dataclass(frozen=True)
class Misalignment:
    """Flipped-label training from the reference head and from the aligned head."""

    steps_to_flip_from_reference: int
    steps_to_flip_from_aligned: int
    first_step_from_reference: float
    first_step_from_aligned: float
    aligned_train_accuracy: float
    reward_accuracy_from_reference: list[float]
    reward_accuracy_from_aligned: list[float]
    #: steps on flipped labels; a steps-to-flip above it means the majority never flipped
    #: (right-censored, printed ``>flip_steps``)
    flip_steps: int = 0

    @property
    def first_step_ratio(self) -> float:
        return self.first_step_from_aligned / self.first_step_from_reference


def _flip_curve(result: Any, start: int) -> list[float]:
    """Reward accuracy on the original labels (all behaviours pooled, training split) from the
    start of the flipped phase."""
    acc = result.curve("reward_accuracy", "train")[0]  # [T, K]
    counts = result.counts[:, 0]
    pooled = (acc * counts).sum(1) / counts.sum()
    return [float(a) for a in pooled[start:]]


def _steps_to_flip(curve: list[float]) -> int:
    """First step ``t >= 1`` with a majority on the flipped side (``len(curve)``, one more than
    the flipped steps, if never: right-censored)."""
    return next((t for t in range(1, len(curve)) if curve[t] < 0.5), len(curve))


def misalignment(
    corpus: EmbeddedCorpus,
    settings: TrainSettings,
    flip_steps: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Misalignment:
    """Flip the labels from :math:`W_{\\mathrm{ref}}` and after ``settings.steps`` of alignment
    (five trainings; ``progress(name)`` after each)."""
    flip = flip_steps or settings.steps
    n = settings.steps
    plans = {
        "from reference": (("misalign", flip, "flipped"),),
        "from aligned": (("align", n, "original"), ("misalign", flip, "flipped")),
        "one flipped step": (("misalign", 1, "flipped"),),
        "aligned": (("align", n, "original"),),
        "aligned + one flipped step": (("align", n, "original"), ("misalign", 1, "flipped")),
    }
    runs = {}
    for name, plan in plans.items():
        runs[name] = train(corpus, settings, *plan)
        if progress is not None:
            progress(name)
    base, aligned, one_step = runs["from reference"], runs["from aligned"], runs["one flipped step"]
    before, after = runs["aligned"], runs["aligned + one flipped step"]
    from_ref, from_aligned = _flip_curve(base, 0), _flip_curve(aligned, n)
    acc = before.curve("accuracy", "train")[0, -1]
    counts = before.counts[:, 0]
    return Misalignment(
        steps_to_flip_from_reference=_steps_to_flip(from_ref),
        steps_to_flip_from_aligned=_steps_to_flip(from_aligned),
        first_step_from_reference=float(one_step.rows[0].norm()),
        first_step_from_aligned=float((after.rows[0] - before.rows[0]).norm()),
        aligned_train_accuracy=float((acc * counts).sum() / counts.sum()),
        reward_accuracy_from_reference=from_ref,
        reward_accuracy_from_aligned=from_aligned,
        flip_steps=flip,
    )


def default_pair(corpus: EmbeddedCorpus) -> tuple[str, str]:
    """The most and the least distinguishable behaviour of ``corpus``."""
    dist = distinguishability(corpus)
    ordered = sorted(dist, key=dist.__getitem__)
    require(len(ordered) >= 2, "behaviors", "a pair needs at least two behaviours")
    return ordered[-1], ordered[0]
