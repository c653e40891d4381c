r"""Theory meets data: predicted vs observed last-layer learning curves on embedded preference data.

For an embedded corpus and training settings, :func:`predict_corpus`

1. fits the Gaussian moment model of the training split
   (:func:`~prefdyn.numerics.population.fit_mixture`: per behaviour and label class, the
   empirical mean and covariance);
2. runs the population flow on it (:func:`~prefdyn.numerics.population.population_gd`): every
   behaviour alone (``joint=False``, one head each, batched) or all on one shared head (``joint=True``, weights
   :math:`p_b = n_b/n`) -- full-batch GD exactly as the recursion, minibatch SGD in expectation;
3. trains the real heads with the same settings and split (:func:`.training.train_each` /
   :func:`.training.train`, i.e. the batched simulator) and compares, per behaviour, the
   training-split loss and reward accuracy :math:`[h > 0]` curves.

Approximations behind the prediction (see :mod:`prefdyn.numerics.population`): the Gaussian moment closure of
each class's projection :math:`s\Delta^\top g` and, for minibatches, the neglect of the minibatch
covariance term. Nothing is fitted to the observed curves.

Per behaviour: curve errors :math:`\max_t|\hat L_t - L_t|` and :math:`\frac1{T+1}\sum_t|\hat L_t
- L_t|` (and the same for accuracy) and two speed summaries of a loss curve
:math:`L_0, \dots, L_T` (:func:`curve_speed`): the mean loss decrease
:math:`L_0 - \frac1T\sum_{t=1}^T L_t` (larger = faster; the primary speed) and the steps to a
threshold :math:`\min\{t : L_t \le \tau\}` (:math:`T + 1` when never reached).

Across behaviours: Spearman's :math:`\rho` (with a pairs-bootstrap CI and permutation p-value,
:func:`.stats.spearman`) between predicted and observed mean loss decrease, and between the
distinguishability :math:`\|\hat\mu_b^+ - \hat\mu_b^-\|` alone and the observed decrease (the
paper's predictor, for comparison). Joint mode: a behaviour is *harmed* when its final training
loss exceeds its initial loss :math:`L_T > L_0`; the theory's harmed set is scored by precision
:math:`|\hat H\cap H|/|\hat H|` and recall :math:`|\hat H\cap H|/|H|` (``None`` when undefined).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from prefdyn.errors import require
from prefdyn.numerics.persona.corpus import EmbeddedCorpus
from prefdyn.numerics.population import fit_mixture, population_gd, scenario_mixture
from prefdyn.numerics.sampling import sample_scenario
from prefdyn.numerics.scenario import Scenario
from prefdyn.numerics.simulator import compute_dtype, simulate

from .experiments import distinguishability
from .stats import Correlation, spearman
from .training import TrainSettings, first_below, loss_area, preference_data, train, train_each

#: the observed accuracy compared with the population accuracy :math:`\sum_s q^s\Phi(m/r)`
OBSERVED_ACCURACY = "reward_accuracy"


@dataclass(frozen=True)
class CurveSpeed:
    """Speed summaries of one loss curve (module docstring)."""

    mean_loss_decrease: float
    steps_to_threshold: int


def curve_speed(loss: torch.Tensor, threshold: float) -> CurveSpeed:
    """:class:`CurveSpeed` of a loss curve ``[T + 1]`` (index 0 = before training)."""
    return CurveSpeed(float(loss[0] - loss_area(loss)), first_below(loss, threshold))


@dataclass(frozen=True)
class BehaviorPrediction:
    """Predicted and observed training curves of one behaviour, their errors and speeds."""

    name: str
    distinguishability: float
    predicted_loss: list[float]
    observed_loss: list[float]
    predicted_accuracy: list[float]
    observed_accuracy: list[float]
    loss_error_max: float
    loss_error_mean: float
    accuracy_error_max: float
    accuracy_error_mean: float
    predicted_speed: CurveSpeed
    observed_speed: CurveSpeed

    @property
    def observed_harmed(self) -> bool:
        return self.observed_loss[-1] > self.observed_loss[0]

    @property
    def predicted_harmed(self) -> bool:
        return self.predicted_loss[-1] > self.predicted_loss[0]


def _errors(pred: torch.Tensor, obs: torch.Tensor) -> tuple[float, float]:
    gap = (pred - obs).abs()
    return float(gap.max()), float(gap.mean())


def compare_curves(
    names: list[str],
    dist: dict[str, float],
    predicted: dict[str, torch.Tensor],
    observed: dict[str, torch.Tensor],
    threshold: float,
) -> list[BehaviorPrediction]:
    """Per-behaviour comparison; ``predicted`` / ``observed`` map ``loss`` and ``accuracy`` to
    ``[T + 1, K]`` curves in ``names`` order."""
    out = []
    for b, name in enumerate(names):
        pl, ol = predicted["loss"][:, b], observed["loss"][:, b]
        pa, oa = predicted["accuracy"][:, b], observed["accuracy"][:, b]
        out.append(
            BehaviorPrediction(
                name,
                dist[name],
                pl.tolist(),
                ol.tolist(),
                pa.tolist(),
                oa.tolist(),
                *_errors(pl, ol),
                *_errors(pa, oa),
                curve_speed(pl, threshold),
                curve_speed(ol, threshold),
            )
        )
    return out


@dataclass(frozen=True)
class HarmScore:
    """Observed and predicted harmed behaviours (joint mode) and the prediction's scores."""

    observed: list[str]
    predicted: list[str]
    precision: float | None
    recall: float | None


def harm_score(rows: list[BehaviorPrediction]) -> HarmScore:
    """Precision and recall of the predicted harmed set against the observed one."""
    obs = [r.name for r in rows if r.observed_harmed]
    pred = [r.name for r in rows if r.predicted_harmed]
    hits = len(set(obs) & set(pred))
    return HarmScore(obs, pred, hits / len(pred) if pred else None, hits / len(obs) if obs else None)


@dataclass(frozen=True)
class PredictionReport:
    """Everything :func:`predict_corpus` measured (module docstring)."""

    settings: TrainSettings
    joint: bool
    threshold: float
    behaviors: list[BehaviorPrediction]
    rho_speed: Correlation | None
    rho_steps: Correlation | None
    rho_distinguishability: Correlation | None
    harm: HarmScore | None
    seconds_theory: float
    #: smallest loss error the observed curves resolve: the float spacing of their dtype at the
    #: largest observed loss (``eps * max|L|``)
    loss_resolution: float = 0.0
    #: smallest accuracy error they resolve: an observed accuracy is a multiple of
    #: :math:`1/(2n_b)` (a tie counts one half), so errors below :math:`1/(2\min_b n_b)` are
    #: below the observation's resolution
    accuracy_resolution: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Aggregate curve errors (median and max over behaviours), the split they are measured
        on and the resolutions below which an error is indistinguishable from 0."""
        loss_max = [r.loss_error_max for r in self.behaviors]
        acc_max = [r.accuracy_error_max for r in self.behaviors]
        return {
            "behaviors": len(self.behaviors),
            "split": "train",
            "median_max_loss_error": statistics.median(loss_max),
            "max_loss_error": max(loss_max),
            "mean_loss_error": statistics.fmean(r.loss_error_mean for r in self.behaviors),
            "median_max_accuracy_error": statistics.median(acc_max),
            "max_accuracy_error": max(acc_max),
            "loss_resolution": self.loss_resolution,
            "accuracy_resolution": self.accuracy_resolution,
        }

    def to_json(self) -> dict[str, Any]:
        corr = lambda c: None if c is None else asdict(c)
        return {
            "settings": asdict(self.settings),
            "mode": "joint" if self.joint else "single",
            "threshold": self.threshold,
            "summary": self.summary(),
            "rho_predicted_observed_speed": corr(self.rho_speed),
            "rho_predicted_observed_steps": corr(self.rho_steps),
            "rho_distinguishability_observed_speed": corr(self.rho_distinguishability),
            "harmed": None if self.harm is None else asdict(self.harm),
            "theory_seconds": self.seconds_theory,
            "behaviors": [asdict(r) for r in self.behaviors],
        }


def observed_curves(
    corpus: EmbeddedCorpus, settings: TrainSettings, joint: bool, progress: Callable[[str], None] | None = None
) -> dict[str, torch.Tensor]:
    """Real training curves ``[T + 1, K]`` (training split): ``loss`` and ``accuracy``
    (:data:`OBSERVED_ACCURACY`), one shared head (``joint``) or one head per behaviour
    (``progress(name)`` after each)."""
    if joint:
        results = [train(corpus, settings)]
        pick = lambda res, metric: res.curve(metric, "train")[0]
    else:
        results = [res for _, res in train_each(corpus, settings, threshold=0.0, progress=progress).values()]
        pick = lambda res, metric: res.curve(metric, "train")[0, :, 0:1]
    return {
        key: torch.cat([pick(r, metric) for r in results], dim=1)
        for key, metric in (("loss", "loss"), ("accuracy", OBSERVED_ACCURACY))
    }


def _correlations(rows: list[BehaviorPrediction], permutations: int, seed: int) -> tuple[Correlation | None, ...]:
    if len(rows) < 3:
        return None, None, None
    kw = {"permutations": permutations, "seed": seed}
    obs = [r.observed_speed.mean_loss_decrease for r in rows]
    return (
        spearman([r.predicted_speed.mean_loss_decrease for r in rows], obs, **kw),
        spearman(
            [r.predicted_speed.steps_to_threshold for r in rows],
            [r.observed_speed.steps_to_threshold for r in rows],
            **kw,
        ),
        spearman([r.distinguishability for r in rows], obs, **kw),
    )


def predict_corpus(
    corpus: EmbeddedCorpus,
    settings: TrainSettings,
    *,
    joint: bool,
    threshold: float = 0.6,
    permutations: int = 10000,
    progress: Callable[[str], None] | None = None,
) -> PredictionReport:
    """Predict, train and compare (module docstring); ``progress(name)`` after each behaviour
    trained alone."""

    require(settings.steps > 0, "steps", "must be > 0")
    start = time.perf_counter()
    data = preference_data(corpus, settings.test_fraction, settings.seed)
    mix = fit_mixture(data)
    curves = population_gd(mix, config=settings.config(), heads="joint" if joint else "independent")
    seconds = time.perf_counter() - start
    observed = observed_curves(corpus, settings, joint, progress)
    rows = compare_curves(
        corpus.names,
        distinguishability(corpus),
        {"loss": curves.loss[:, 0], "accuracy": curves.accuracy[:, 0]},
        observed,
        threshold,
    )
    rho_speed, rho_steps, rho_dist = _correlations(rows, permutations, settings.seed)
    train_counts = torch.bincount(data.behavior[data.train], minlength=data.num_behaviors)
    # the observed curves are computed in the embeddings' arithmetic dtype (then stored as float64)
    loss_resolution = torch.finfo(compute_dtype(data.g.dtype)).eps * float(observed["loss"].abs().max())
    return PredictionReport(
        settings,
        joint,
        threshold,
        rows,
        rho_speed,
        rho_steps,
        rho_dist,
        harm_score(rows) if joint else None,
        seconds,
        loss_resolution,
        1 / (2 * int(train_counts.min())),
    )


def scenario_errors(scenario: Scenario, *, runs: int, seed: int = 0, fitted: bool = False) -> torch.Tensor:
    r"""The same comparison on a synthetic scenario: ``[runs, K]`` max-over-steps absolute
    training-loss error of the population flow against ``runs`` simulated trainings of the
    scenario (one shared head, as the scenario trains). The flow runs on the scenario's hidden
    Gaussian structure (:func:`~prefdyn.numerics.population.scenario_mixture`), or with ``fitted`` on each run's
    own moment model (:func:`~prefdyn.numerics.population.fit_mixture`). For Gaussian data both errors are
    sampling errors, :math:`O(n^{-1/2})` in the number of training samples :math:`n`."""
    data = sample_scenario(scenario, runs, seed)
    observed = simulate(data, scenario.training, seed=seed).curve("loss", "train")
    if fitted:
        predicted = torch.stack(
            [population_gd(fit_mixture(data.shared(r)), config=scenario.training).loss[:, 0] for r in range(runs)]
        )
    else:
        predicted = population_gd(scenario_mixture(scenario), config=scenario.training).loss[:, 0]
    return (predicted - observed).abs().amax(dim=1)
