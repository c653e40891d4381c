r"""The theory's curves for a scenario (what ``prefdyn predict`` prints), as a library call.

Gaussian scenarios (every behaviour ``distribution = "gaussian"``): population gradient descent on
the scenario's hidden Gaussian mixture (:func:`~prefdyn.numerics.population.population_gd`, joint
head, the ``population-flow`` theorem with Gauss-Hermite moments), exact in the population limit
:math:`n \to \infty`, minibatch SGD in expectation, Adam on the population gradient. The reference
head :math:`W_{\rm ref}` is the one ``simulate`` draws from the scenario's ``[reference]`` table and
``seed``. ``accuracy`` and ``policy_accuracy`` are the policy accuracy
:math:`\Pr(\log\pi_W(y_w|x) > \log\pi_W(y_l|x))`, the reward formula at :math:`\Delta + w` with
:math:`w = (e_1 - e_2)^\top W_{\rm ref}`; ``reward_accuracy`` is :math:`\Pr(h > 0)`; they coincide
when :math:`W_{\rm ref} = 0` (a tie counts one half in all three). With a :math:`V > 2` reference
of nonzero scale the log-prob changes have no exact form: they are absent and
:attr:`Prediction.unavailable` says why.

Other noise families: ``bounds-only``, one curve per behaviour, ``accuracy_lower_bound``
(``accuracy-subexponential``) where the family has a :math:`\psi_\alpha` bound
(:func:`~prefdyn.numerics.bounds.psi_alpha_constant`: Gaussian, Laplace, generalised normal of shape
:math:`\ge 1`) and the training is one SGD phase on clean labels with a smooth loss;
:math:`W_{\rm ref} = 0` only (the bound is on the reward accuracy).

Both carry ``stable-step-size``'s :math:`\eta_{\max} = 1/(\beta^2 L_2\,\lambda_{\max}(\mathbb E gg^\top))`
(:func:`~prefdyn.numerics.population.max_learning_rate`) and whether it verifies monotone descent
of the predicted loss at the scenario's learning rate (:class:`StepSize`). A learning rate above a
certified :math:`\eta_{\max}` is warned about, not refused: the population curves are exact at any
step size, only the guarantee that the loss decreases is lost.

Example
-------
>>> from prefdyn.numerics import parse_scenario, predict
>>> sc = parse_scenario({"training": {"loss": "dpo", "beta": 1.0, "learning_rate": 2.0, "steps": 1, "dim": 16},
...                      "behaviors": [{"name": "strong", "weight": 0.5, "distinguishability": 3.0},
...                                    {"name": "weak", "weight": 0.5, "distinguishability": 1.0}]})
>>> prediction = predict(sc, threads=1)
>>> [round(b["accuracy"]["mean"][1], 4) for b in prediction.summary()["behaviors"]]
[0.9226, 0.5628]
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch

from prefdyn.errors import require
from prefdyn.theory.losses import get_loss
from prefdyn.theory.symbols import beta as beta_symbol
from prefdyn.threads import configure_threads

from .bounds import accuracy_lower_bound, psi_alpha_constant
from .config import TrainConfig
from .frames import summary_frame
from .metrics import NORM_METRICS, REPORTED_METRICS
from .population import GaussianMixture, max_learning_rate, population_gd, scenario_mixture
from .quadrature import DEFAULT_NODES
from .sampling import reference_matrix
from .scenario import Scenario, behavior_noise_factor

if TYPE_CHECKING:
    import pandas as pd

#: What the population curves model, as the summary says it.
MODEL = "population limit (n -> infinity); minibatch SGD in expectation; Adam on the population gradient"
#: The simulated split the population curves compare with, like with like: held-out data.
COMPARE_WITH_SPLIT = "test"
#: The ``split`` of a prediction's rows in :meth:`Prediction.to_frame`.
POPULATION_SPLIT = "population"
#: How a prediction is made: exact population-GD curves, or lower bounds only.
Method = Literal["population-gd", "bounds-only"]
#: The curve of a bounds-only prediction.
LOWER_BOUND = "accuracy_lower_bound"
#: The Trajectory field behind each predicted curve (``accuracy`` is the policy accuracy, as in simulate).
_SOURCES = {"accuracy": "policy_accuracy", "reward_accuracy": "accuracy"}


@dataclass(frozen=True)
class StepSize:
    """Whether ``stable-step-size`` verifies monotone descent of the predicted loss at the
    scenario's learning rate (SGD with :math:`\\eta \\le \\eta_{\\max}`), why, and a warning when an
    SGD learning rate exceeds a certified :math:`\\eta_{\\max}` (``None`` otherwise)."""

    descent_verified: bool
    reason: str
    warning: str | None = None

    def summary(self) -> dict[str, Any]:
        """``descent_verified``, ``reason`` and, when there is one, ``warning``."""
        doc: dict[str, Any] = {"descent_verified": self.descent_verified, "reason": self.reason}
        if self.warning is not None:
            doc["warning"] = self.warning
        return doc


@dataclass(frozen=True)
class ReferenceInfo:
    r"""The reference head the prediction used: vocabulary :math:`V`, entry scale, the seed that
    drew it, and :math:`\|w_1 - w_2\|`, the norm of its logit-gap vector."""

    vocab: int
    scale: float
    seed: int
    gap_norm: float


@dataclass(frozen=True, eq=False)
class Prediction:
    r"""The theory's curves for one scenario (module docstring).

    Attributes
    ----------
    scenario : str
        The scenario's name.
    method : str
        ``population-gd`` (exact curves) or ``bounds-only`` (lower bounds).
    steps : list of int
        ``0 .. T``.
    phases : list of dict or None
        The training phases (``name``, ``labels``, ``start``, ``end``) the curves follow; ``None``
        for ``bounds-only``, which follows no trajectory.
    behavior_names : tuple of str
        The behaviours, in the scenario's order.
    curves : dict of str to torch.Tensor
        Per-behaviour curves ``[T + 1, K]`` (float64): the metrics of
        :data:`~prefdyn.numerics.metrics.REPORTED_METRICS` that exist (``population-gd``), or
        ``accuracy_lower_bound`` where a bound exists (``bounds-only``).
    norms : dict of str to torch.Tensor
        :math:`\|W_t - W_{\rm ref}\|_{op}` and :math:`\|\cdot\|_F`, ``[T + 1]`` (``population-gd``;
        empty for ``bounds-only``).
    unavailable : dict of str to str
        Each curve of the method that does not exist, and why.
    max_learning_rate : float or None
        ``stable-step-size``'s finite :math:`\eta_{\max}`; ``None`` where it gives no finite step
        (:math:`L_2 = \infty`: no step is verified; :math:`L_2 = 0`: every step is;
        ``step_size.reason`` says which).
    step_size : StepSize
        Whether descent is verified at the scenario's learning rate.
    reference : ReferenceInfo or None
        The reference head; ``None`` for :math:`W_{\rm ref} = 0`, :math:`V = 2`.
    """

    scenario: str
    method: Method
    steps: list[int]
    phases: list[dict[str, object]] | None
    behavior_names: tuple[str, ...]
    curves: dict[str, torch.Tensor]
    norms: dict[str, torch.Tensor]
    unavailable: dict[str, str]
    max_learning_rate: float | None
    step_size: StepSize
    reference: ReferenceInfo | None

    def summary(self) -> dict[str, Any]:
        """The JSON document of ``prefdyn predict --json``, in the shape of
        :meth:`SimulationResult.summary <prefdyn.numerics.simulator.SimulationResult.summary>`:
        each curve ``{"mean": prediction, "std": zeros}``; an absent quantity is ``null`` or
        absent, never a placeholder number.

        Both methods: ``scenario``, ``runs`` (1), ``steps``, ``model``, ``compare_with_split``,
        ``max_learning_rate``, ``step_size``, ``reference`` (when :math:`W_{\\rm ref} \\ne 0`),
        ``prediction`` (the method) and ``behaviors`` (``name`` and curves). ``population-gd``
        adds ``phases``, the two norm curves and, when a curve is missing, ``unavailable``;
        ``bounds-only`` adds ``bounds_available`` and ``reason`` (``null`` when available).

        Examples
        --------
        >>> from prefdyn.numerics import default_scenario, predict
        >>> doc = predict(default_scenario(), threads=1).summary()
        >>> doc["prediction"], doc["compare_with_split"], doc["behaviors"][0]["accuracy"]["std"][-1]
        ('population-gd', 'test', 0.0)
        """

        def band(x: torch.Tensor) -> dict[str, list[float]]:
            return {"mean": x.tolist(), "std": [0.0] * len(x)}

        doc: dict[str, Any] = {
            "scenario": self.scenario,
            "runs": 1,
            "steps": list(self.steps),
            "model": MODEL,
            "compare_with_split": COMPARE_WITH_SPLIT,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size.summary(),
        }
        if self.reference is not None:
            doc["reference"] = asdict(self.reference)
        behaviors = [
            {"name": name, **{m: band(c[:, k]) for m, c in self.curves.items()}}
            for k, name in enumerate(self.behavior_names)
        ]
        if self.method == "bounds-only":
            return {
                **doc,
                "prediction": self.method,
                "bounds_available": LOWER_BOUND in self.curves,
                "reason": self.unavailable.get(LOWER_BOUND),
                "behaviors": behaviors,
            }
        doc.update(
            {
                "prediction": self.method,
                "phases": self.phases,
                "behaviors": behaviors,
                **{m: band(x) for m, x in self.norms.items()},
            }
        )
        if self.unavailable:
            doc["unavailable"] = dict(self.unavailable)
        return doc

    def to_frame(self) -> pd.DataFrame:
        """The curves as one tidy table, shared with
        :meth:`SimulationResult.to_frame <prefdyn.numerics.simulator.SimulationResult.to_frame>`
        (:mod:`prefdyn.numerics.frames`: columns ``metric, split, step, behavior, mean, std``, one
        row per (metric, split, step, behavior)). Per-behaviour rows have split ``population``
        (compare them with a simulation's ``test`` rows); norm rows have split and behaviour
        ``None``; ``std`` is 0.

        Examples
        --------
        >>> from prefdyn.numerics import default_scenario, predict
        >>> frame = predict(default_scenario(), threads=1).to_frame()
        >>> list(frame.columns)
        ['metric', 'split', 'step', 'behavior', 'mean', 'std']
        >>> row = frame.query("metric == 'reward_accuracy' and step == 0 and behavior == 'faint'")
        >>> row[["split", "mean"]].to_dict("records")
        [{'split': 'population', 'mean': 0.5}]
        """
        return summary_frame(self.summary(), POPULATION_SPLIT)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_frame` to ``path`` as CSV (no index column; a ``None`` split or
        behaviour is an empty field).

        Examples
        --------
        >>> import pandas as pd, tempfile, pathlib
        >>> from prefdyn.numerics import default_scenario, predict
        >>> prediction = predict(default_scenario(), threads=1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder) / "predict.csv"
        ...     prediction.to_csv(path)
        ...     len(pd.read_csv(path)) == len(prediction.to_frame())
        True
        """
        self.to_frame().to_csv(path, index=False)


def predict(scenario: Scenario, *, threads: int | None = None) -> Prediction:
    r"""The theory's curves for ``scenario`` (module docstring).

    Parameters
    ----------
    scenario : Scenario
        Any scenario; its ``seed`` draws the ``[reference]`` head exactly as ``simulate`` does.
    threads : int, optional
        torch intra-op threads (``None``: :func:`prefdyn.threads.configure_threads`' policy for
        one population-GD step).

    Returns
    -------
    Prediction
        ``population-gd`` for a Gaussian scenario, else ``bounds-only``.

    Raises
    ------
    PrefdynError
        A bounds-only prediction (non-Gaussian behaviours) with a reference head of nonzero scale;
        a loss whose :math:`L_2` cannot be certified.
    """
    # one population-GD step: K behaviours x 4 components of d x d products and quadrature nodes
    K, d = len(scenario.behaviors), scenario.dim
    configure_threads(threads, work=8.0 * K * 4 * d * (d + DEFAULT_NODES))
    config = scenario.training
    mix = scenario_mixture(scenario)
    eta_max = max_learning_rate(mix, config.loss, config.beta)
    w_ref = reference_matrix(scenario, scenario.seed)
    reference = (
        None
        if w_ref is None
        else ReferenceInfo(
            scenario.reference.vocab, scenario.reference.scale, scenario.seed, float((w_ref[0] - w_ref[1]).norm())
        )
    )
    method: Method
    phases: list[dict[str, object]] | None
    if all(b.distribution == "gaussian" for b in scenario.behaviors):
        traj = population_gd(mix, config=config, reference=w_ref)
        sources = {m: getattr(traj, _SOURCES.get(m, m)) for m in REPORTED_METRICS}
        method, phases = "population-gd", traj.phases
        curves = {m: x[:, 0] for m, x in sources.items() if x is not None}
        norms = {m: getattr(traj, m)[:, 0] for m in NORM_METRICS}
        unavailable = {
            m: "no exact form: with a V > 2 reference head of nonzero scale log pi depends on the "
            "log-sum-exp of the other V - 2 reference logits"
            for m, x in sources.items()
            if x is None
        }
    else:
        require(
            scenario.reference.scale == 0,
            "reference.scale",
            "the bounds-only prediction (non-Gaussian behaviors) needs W_ref = 0 (scale = 0)",
        )
        bound, reason = accuracy_bound(scenario, mix)
        method, phases, norms = "bounds-only", None, {}
        curves = {} if bound is None else {LOWER_BOUND: bound}
        unavailable = {} if reason is None else {LOWER_BOUND: reason}
    return Prediction(
        scenario=scenario.name,
        method=method,
        steps=list(range(config.steps + 1)),
        phases=phases,
        behavior_names=tuple(b.name for b in scenario.behaviors),
        curves=curves,
        norms=norms,
        unavailable=unavailable,
        max_learning_rate=eta_max if eta_max is not None and math.isfinite(eta_max) else None,
        step_size=_step_size(config, eta_max),
        reference=reference,
    )


def accuracy_bound(scenario: Scenario, mix: GaussianMixture) -> tuple[torch.Tensor | None, str | None]:
    r"""``accuracy-subexponential``'s t-step lower bounds on each behaviour's reward accuracy.

    Parameters
    ----------
    scenario : Scenario
        The scenario (its training recipe and noise families).
    mix : GaussianMixture
        Its class means and weights (:func:`~prefdyn.numerics.population.scenario_mixture`).

    Returns
    -------
    tuple
        ``[T + 1, K]`` bounds and ``None``, or ``None`` and why there is none (an optimizer other
        than SGD, several phases, label noise, a non-smooth loss, a noise family without a
        :math:`\psi_\alpha` bound).

    Examples
    --------
    >>> from prefdyn.numerics import default_scenario
    >>> from prefdyn.numerics.population import scenario_mixture
    >>> sc = default_scenario()
    >>> bound, reason = accuracy_bound(sc, scenario_mixture(sc))
    >>> tuple(bound.shape), reason
    ((101, 4), None)
    """
    config = scenario.training
    factors = [torch.as_tensor(behavior_noise_factor(b, scenario.dim)) for b in scenario.behaviors]
    constants = [psi_alpha_constant(b.distribution, b.shape, f) for b, f in zip(scenario.behaviors, factors)]
    L2 = float(get_loss(config.loss).smoothness.subs(beta_symbol, config.beta))  # certified (rounded up)
    usable = (
        config.optimizer == "sgd"
        and len(config.phases) == 1
        and math.isfinite(L2)
        and all(b.label_noise == 0 for b in scenario.behaviors)
    )
    known = [c for c in constants if c is not None]
    if not usable or len(known) < len(constants):
        return None, (
            "no psi_alpha bound for this noise family, optimizer, phases, label noise or loss "
            "(needs gaussian/laplace/gennorm shape >= 1, sgd, one phase, no label noise, smooth loss)"
        )
    bound = accuracy_lower_bound(
        mix.means,
        mix.positive_fraction,
        mix.weights,
        torch.tensor([c[0] for c in known], dtype=torch.float64),
        torch.tensor([c[1] for c in known], dtype=torch.float64),
        smoothness=L2,
        second_moment_top=float(torch.linalg.eigvalsh(mix.second_moment())[-1]),
        beta=config.beta,
        learning_rate=config.learning_rate,
        steps=config.steps,
    )
    return bound, None


def _step_size(config: TrainConfig, eta_max: float | None) -> StepSize:
    """:class:`StepSize` at ``config``'s learning rate, given :math:`\\eta_{\\max}` (``None``:
    :math:`L_2 = \\infty`; ``inf``: :math:`L_2 = 0`, a linear loss)."""
    lr = config.learning_rate
    if config.optimizer != "sgd":
        return StepSize(False, f"stable-step-size covers SGD, not {config.optimizer}")
    if eta_max is None:
        return StepSize(False, "L2 = sup|phi''| is infinite: no step size is verified")
    if math.isinf(eta_max):
        return StepSize(True, "L2 = sup|phi''| = 0 (a linear loss): every step size descends")
    if lr <= eta_max:
        return StepSize(True, f"learning_rate {lr:.6g} <= eta_max {eta_max:.6g}")
    return StepSize(
        False,
        f"learning_rate {lr:.6g} > eta_max {eta_max:.6g}",
        f"training.learning_rate = {lr:.6g} exceeds the certified eta_max = {eta_max:.6g} "
        "(stable-step-size): the predicted loss may increase",
    )
