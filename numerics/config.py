r"""Training configuration of the simulator: loss, :math:`\beta`, :math:`\eta`, optimizer, phases.

A :class:`TrainConfig` validates itself on construction (every violation is a
:class:`~prefdyn.errors.PrefdynError` naming the ``training.*`` field and the rule), so code that
builds one directly (the ``persona`` command, notebooks) gets the same checks as a scenario file.

Phases
------
Training is a sequence of :class:`Phase` objects. A phase trains for ``steps`` steps on the
original labels :math:`s` (``labels="original"``) or on flipped labels :math:`-s`
(``labels="flipped"``: the misalignment experiment of Im & Li, started from the aligned head).
The optimizer state (Adam moments and step count) restarts at every phase, as a new fine-tuning
run from the previous weights would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prefdyn.errors import PrefdynError, require
from prefdyn.theory.losses import REGISTRY, Loss, loss_names

OPTIMIZERS = ("sgd", "adam", "adamw")
LABEL_MODES = ("original", "flipped")
#: How minibatches are drawn (:mod:`prefdyn.numerics.schedule`).
BATCHINGS = ("epoch", "independent")


def require_finite(value: float, name: str) -> None:
    """Reject NaN and infinities (TOML allows ``nan`` and ``inf``)."""
    require(isinstance(value, (int, float)) and not isinstance(value, bool), name, "must be a number")
    require(math.isfinite(value), name, f"must be finite, not {value}")


def canonical_loss(loss: object, where: str) -> str | Loss:
    """``loss`` as a :class:`TrainConfig` holds it, after checking it.

    Parameters
    ----------
    loss
        A registered loss name or alias (``prefdyn.theory.losses.loss_names()``), or a
        :class:`~prefdyn.theory.losses.Loss` (registered or user-defined).
    where
        The field named by the error (``training.loss``).

    Returns
    -------
    str or Loss
        A name as it was given; a registered :class:`Loss` by its name; a user loss as it is.

    Raises
    ------
    PrefdynError
        ``"<where>: unknown loss ...; known losses: ..."`` for an unregistered name, or when
        ``loss`` is neither a name nor a :class:`Loss`.
    """
    known = ", ".join(loss_names())
    if isinstance(loss, Loss):
        return loss.name if REGISTRY.get(loss.name) == loss else loss
    if not isinstance(loss, str):
        raise PrefdynError(f"{where}: must be a registered loss name ({known}) or a Loss, not {type(loss).__name__}")
    require(loss.strip().lower() in REGISTRY, where, f"unknown loss {loss!r}; known losses: {known}")
    return loss


@dataclass(frozen=True)
class Phase:
    """``steps`` optimisation steps on the ``original`` or ``flipped`` labels."""

    name: str
    steps: int
    labels: str = "original"

    def __post_init__(self) -> None:
        where = f"phases[{self.name}]"
        require(isinstance(self.steps, int) and self.steps > 0, f"{where}.steps", "must be an integer > 0")
        require(self.labels in LABEL_MODES, f"{where}.labels", f"must be one of {', '.join(LABEL_MODES)}")

    @property
    def label_sign(self) -> float:
        """+1 to train on :math:`s`, -1 to train on :math:`-s`."""
        return 1.0 if self.labels == "original" else -1.0


@dataclass(frozen=True)
class TrainConfig:
    r"""How the head is trained.

    ``loss`` is a registered loss name (``prefdyn.theory.losses.loss_names()``) or a
    :class:`~prefdyn.theory.losses.Loss` (a registered one is kept as its name, a user loss as
    it is; :func:`canonical_loss`); ``beta`` is :math:`\beta`; ``learning_rate`` is
    :math:`\eta`; ``batch_size`` 0 means full-batch gradient descent, otherwise minibatches of
    ``batch_size`` drawn as ``batching`` says (:mod:`prefdyn.numerics.schedule`): ``epoch``
    passes over a fresh seeded shuffle of the training set every epoch, whose last, smaller
    batch is kept unless ``drop_last``; ``independent`` draws every step's batch afresh,
    without replacement within the step. ``weight_decay`` is AdamW's decoupled decay, applied
    to the two answer rows (the only trainable rows: the other :math:`V-2` rows of the head get
    no gradient).
    """

    loss: str | Loss = "dpo"
    beta: float = 0.1
    learning_rate: float = 0.1
    phases: tuple[Phase, ...] = field(default_factory=lambda: (Phase("train", 100),))
    batch_size: int = 0
    optimizer: str = "sgd"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    batching: str = "epoch"
    drop_last: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "loss", canonical_loss(self.loss, "training.loss"))
        for name in ("beta", "learning_rate", "adam_eps", "weight_decay"):
            require_finite(getattr(self, name), f"training.{name}")
        require(self.beta > 0, "training.beta", "must be > 0")
        require(self.learning_rate > 0, "training.learning_rate", "must be > 0")
        require(self.adam_eps > 0, "training.adam_eps", "must be > 0")
        require(self.weight_decay >= 0, "training.weight_decay", "must be >= 0")
        require(
            self.weight_decay == 0 or self.optimizer == "adamw",
            "training.weight_decay",
            "is only used by optimizer = 'adamw'",
        )
        require(
            isinstance(self.batch_size, int) and self.batch_size >= 0,
            "training.batch_size",
            "must be an integer >= 0 (0 means full batch)",
        )
        require(self.batching in BATCHINGS, "training.batching", f"must be one of {', '.join(BATCHINGS)}")
        require(
            self.batching == "epoch" or self.batch_size > 0,
            "training.batching",
            f"{self.batching!r} draws batch_size samples a step; needs batch_size > 0",
        )
        require(isinstance(self.drop_last, bool), "training.drop_last", "must be true or false")
        require(
            not self.drop_last or (self.batching == "epoch" and self.batch_size > 0),
            "training.drop_last",
            "is only used by batching = 'epoch' with batch_size > 0",
        )
        require(self.optimizer in OPTIMIZERS, "training.optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        require(len(self.adam_betas) == 2, "training.adam_betas", "must be two numbers [beta1, beta2]")
        for b in self.adam_betas:
            require_finite(b, "training.adam_betas")
            require(0 <= b < 1, "training.adam_betas", "each must lie in [0, 1)")
        require(len(self.phases) > 0, "phases", "at least one phase is needed")

    @property
    def steps(self) -> int:
        """Total number of optimisation steps over all phases."""
        return sum(p.steps for p in self.phases)

    def phase_bounds(self) -> list[tuple[Phase, int, int]]:
        """``(phase, first_step, end_step)``: phase ``p`` performs steps ``first..end-1``
        (recorded indices ``first+1..end``; index 0 is before training)."""
        bounds, start = [], 0
        for phase in self.phases:
            bounds.append((phase, start, start + phase.steps))
            start += phase.steps
        return bounds
