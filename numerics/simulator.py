r"""Batched last-layer preference training in closed form.

Model (prefdyn's notation): :math:`\pi_W(y|x) = \operatorname{softmax}(Wg)_y`, margin
:math:`h = \beta s\,(e_1 - e_2)^\top (W - W_{\mathrm{ref}})g`, loss
:math:`L(W) = \sum_i w_i\,\phi(h_i)` with batch weights :math:`w_i = 1/|B_t|` on the step's
batch. By the ``dpo-gradient`` theorem the gradient is rank one,

.. math:: \nabla_W L = (e_1 - e_2)\,G^\top, \qquad G = \sum_i w_i\,\phi'(h_i)\,\beta\,s_i\,g_i,

so only the two answer rows move and no :math:`V`-way softmax is ever formed. One step of ``R``
independent runs is two batched products over the data: the logit changes
:math:`a = U g` (``[R, k, d] @ [d, n]``) and :math:`G = c\,g` with
:math:`c_i = w_i\phi'(h_i)\beta s_i` (``[R, 1, n] @ [n, d]``); with shared data
(``g``: ``[n, d]``) both are single GEMMs, which is the sweep mode. On per-run data a compiled
step (:mod:`prefdyn.numerics.kernels`: numba on the CPU, Triton on CUDA) computes both from one
read of the embeddings.

State: :math:`U = W_{\mathrm{ans}} - W_{\mathrm{ref,ans}}` (``[R, k, d]``). Its two rows receive
gradients :math:`+G` and :math:`-G`; SGD and Adam are odd in the gradient and AdamW's decay
toward zero keeps :math:`u_2 = -u_1` when :math:`w_{\mathrm{ref},1} + w_{\mathrm{ref},2} = 0`, so
then ``k = 1`` row is tracked (:math:`\Delta = 2u_1`); otherwise ``k = 2``.

Example
-------
>>> from prefdyn.numerics import default_scenario, sample_scenario, simulate
>>> sc = default_scenario()
>>> result = simulate(sample_scenario(sc, runs=2, seed=0), sc.training, seed=0)
>>> result.curve("accuracy").shape[0]
2
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from prefdyn.errors import PrefdynError, require

from .config import TrainConfig
from .data import PreferenceData
from .evaluate import loss_kernels
from .frames import summary_frame
from .kernels import select_step
from .metrics import (
    METRIC_ALIASES,
    NORM_METRICS,
    REPORTED_METRICS,
    SAMPLE_METRICS,
    SPLITS,
    GroupReducer,
    sample_metrics,
    weight_norms,
)
from .optim import RowOptimizer
from .schedule import BatchSchedule

if TYPE_CHECKING:
    import pandas as pd

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``auto``/``None`` -> CUDA when available, else CPU; ``cuda`` must be available."""
    name = "auto" if device is None else str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    require(name.split(":")[0] in ("cpu", "cuda"), "device", "must be cpu, cuda or auto")
    require(name.startswith("cpu") or torch.cuda.is_available(), "device", "CUDA was asked for but is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise PrefdynError(f"device: {name!r} is not a device (cpu, cpu:0, cuda, cuda:1, auto)") from None


def compute_dtype(storage: torch.dtype) -> torch.dtype:
    """Arithmetic dtype for embeddings stored as ``storage``: reduced-precision storage
    (bfloat16, float16) is computed in float32."""
    return torch.float32 if storage in (torch.bfloat16, torch.float16) else storage


@dataclass
class SimulationResult:
    """Recorded curves of ``R`` runs.

    ``curves``: ``[R, T, K, 2, M]`` (run, recorded step, behaviour, split train/test, metric in
    :data:`~prefdyn.numerics.metrics.SAMPLE_METRICS` order); ``norms``: ``[R, T, 2]``;
    ``counts``: ``[K, 2]`` samples per behaviour and split; ``rows``: ``[R, 2, d]`` final
    :math:`W - W_{\\mathrm{ref}}` on the answer rows. Stored as float64 on the CPU.
    """

    steps: list[int]
    behavior_names: tuple[str, ...]
    phases: list[dict[str, Any]]
    curves: torch.Tensor
    norms: torch.Tensor
    counts: torch.Tensor
    rows: torch.Tensor

    @property
    def runs(self) -> int:
        return self.curves.shape[0]

    def curve(self, metric: str, split: str = "train") -> torch.Tensor:
        """``[R, T, K]`` per-run curve of a per-behaviour metric (or ``[R, T]`` for a norm).

        ``metric`` is one of :data:`~prefdyn.numerics.metrics.REPORTED_METRICS` (an alias such
        as ``policy_accuracy`` returns its stored metric, ``accuracy``) or a norm.
        """
        if metric in NORM_METRICS:
            return self.norms[..., NORM_METRICS.index(metric)]
        require(metric in REPORTED_METRICS, "metric", f"must be one of {', '.join(REPORTED_METRICS + NORM_METRICS)}")
        metric = METRIC_ALIASES.get(metric, metric)
        require(split in SPLITS, "split", "must be train or test")
        return self.curves[:, :, :, SPLITS.index(split), SAMPLE_METRICS.index(metric)]

    def summary(self) -> dict[str, Any]:
        """JSON-ready mean/std across runs (population std, 0 for one run) of every curve:
        per behaviour (and, with a test split, under ``test``) every metric of
        :data:`~prefdyn.numerics.metrics.REPORTED_METRICS`, including ``policy_accuracy``."""

        def band(x: torch.Tensor) -> dict[str, list[float]]:
            return {"mean": x.mean(0).tolist(), "std": x.std(0, correction=0).tolist()}

        has_test = bool(self.counts[:, 1].sum() > 0)
        behaviors = []
        for b, name in enumerate(self.behavior_names):
            entry: dict[str, Any] = {
                "name": name,
                "train_samples": int(self.counts[b, 0]),
                "test_samples": int(self.counts[b, 1]),
            }
            entry.update({m: band(self.curve(m, "train")[..., b]) for m in REPORTED_METRICS})
            if has_test:
                entry["test"] = {m: band(self.curve(m, "test")[..., b]) for m in REPORTED_METRICS}
            behaviors.append(entry)
        return {
            "steps": list(self.steps),
            "phases": self.phases,
            "runs": self.runs,
            "behaviors": behaviors,
            **{m: band(self.curve(m)) for m in NORM_METRICS},
        }

    def to_frame(self) -> pd.DataFrame:
        """:meth:`summary` as one tidy table, shared with
        :meth:`Prediction.to_frame <prefdyn.numerics.predict.Prediction.to_frame>`
        (:mod:`prefdyn.numerics.frames`): columns ``metric, split, step, behavior, mean, std``
        (mean and population std across runs), one row per (metric, split, step, behavior) for
        the recorded steps. Per-behaviour rows have split ``train`` or, with a test split,
        ``test``; norm rows have split and behaviour ``None``.

        Examples
        --------
        >>> from prefdyn.numerics import parse_scenario, sample_scenario, simulate
        >>> sc = parse_scenario({"training": {"steps": 3, "samples": 200, "dim": 4, "test_fraction": 0.5},
        ...                      "behaviors": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]})
        >>> frame = simulate(sample_scenario(sc, runs=2, seed=0), sc.training).to_frame()
        >>> list(frame.columns)
        ['metric', 'split', 'step', 'behavior', 'mean', 'std']
        >>> len(frame) == 4 * (2 * 2 * 8 + 2)  # steps 0..3 x (2 splits x 2 behaviors x 8 metrics + 2 norms)
        True
        >>> norms = frame.query("metric == 'weight_change_opnorm' and step == 0")
        >>> norms[["split", "behavior", "mean"]].to_dict("records")
        [{'split': None, 'behavior': None, 'mean': 0.0}]
        """
        return summary_frame(self.summary(), "train")

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_frame` to ``path`` as CSV (no index column; a ``None`` split or
        behaviour is an empty field).

        Examples
        --------
        >>> import pandas as pd, tempfile, pathlib
        >>> from prefdyn.numerics import parse_scenario, sample_scenario, simulate
        >>> sc = parse_scenario({"training": {"steps": 3, "samples": 200, "dim": 4},
        ...                      "behaviors": [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.5}]})
        >>> result = simulate(sample_scenario(sc, runs=2, seed=0), sc.training)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     result.to_csv(pathlib.Path(folder) / "simulate.csv")
        ...     pd.read_csv(pathlib.Path(folder) / "simulate.csv").shape
        (72, 6)
        """
        self.to_frame().to_csv(path, index=False)

    @classmethod
    def concat(cls, parts: list[SimulationResult]) -> SimulationResult:
        """Join results of consecutive chunks of runs."""
        first = parts[0]
        return cls(
            first.steps,
            first.behavior_names,
            first.phases,
            torch.cat([p.curves for p in parts]),
            torch.cat([p.norms for p in parts]),
            first.counts,
            torch.cat([p.rows for p in parts]),
        )

    def state_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> SimulationResult:
        return cls(**state)


def _per_run(value: float | torch.Tensor | None, default: float, runs: int, **kw: Any) -> torch.Tensor:
    tensor = torch.as_tensor(default if value is None else value, **kw).reshape(-1)
    require(tensor.numel() in (1, runs), "settings", f"per-run values need {runs} entries")
    return tensor.expand(runs).contiguous()


def _record_steps(config: TrainConfig, every: int) -> list[int]:
    total = config.steps
    marks = {0, total} | {end for _, _, end in config.phase_bounds()}
    if every > 0:
        marks |= set(range(0, total, every))
    return sorted(marks)


def simulate(
    data: PreferenceData,
    config: TrainConfig,
    *,
    runs: int | None = None,
    beta: float | torch.Tensor | None = None,
    learning_rate: float | torch.Tensor | None = None,
    seed: int = 0,
    first_run: int = 0,
    run_ids: Sequence[int] | None = None,
    record_every: int = 1,
    device: str | torch.device | None = "cpu",
    dtype: torch.dtype | None = None,
    progress: Callable[[int], None] | None = None,
    check_finite: bool = True,
    kernel: str = "auto",
) -> SimulationResult:
    """Train ``R`` heads from :math:`W_{\\mathrm{ref}}` and record their curves.

    ``R`` is fixed by the data (per-run ``g`` or ``s``), else by per-run ``beta`` /
    ``learning_rate`` tensors (overriding ``config``; the sweep mode), else ``runs`` (default 1).
    ``seed`` and the runs' indices select the minibatch shuffles (:mod:`prefdyn.numerics.schedule`):
    ``first_run, first_run + 1, ...``, or ``run_ids`` (one per run; settings of a sweep trained on
    run ``r``'s data all take run ``r``'s shuffle, so they differ by their settings only).
    ``dtype`` is the storage dtype of ``g`` (default: the data's); bfloat16 storage computes in
    float32. Curves are recorded every ``record_every`` steps (0: only at 0, phase ends and the
    end); ``progress(k)`` is called after every ``k`` steps. A run that diverges (non-finite
    curves) is an error unless ``check_finite=False``. ``kernel`` chooses the step on per-run
    data: ``auto`` (a compiled single-pass step for large runs), ``fused`` or ``torch``
    (:mod:`prefdyn.numerics.kernels`).
    """
    dev = resolve_device(device)
    storage = data.g.dtype if dtype is None else dtype
    work = compute_dtype(storage)
    sizes = [t.numel() for t in (beta, learning_rate) if isinstance(t, torch.Tensor)]
    R = data.runs or (max(sizes) if sizes else None) or runs or 1
    require(runs is None or runs == R, "runs", f"the data or settings fix {R} runs")
    kernels = loss_kernels(config.loss)
    beta_t = _per_run(beta, config.beta, R, dtype=work, device=dev).unsqueeze(1)
    lr_t = _per_run(learning_rate, config.learning_rate, R, dtype=work, device=dev)
    require(bool(torch.all(beta_t > 0)), "beta", "must be > 0")
    require(bool(torch.all(lr_t > 0)), "learning_rate", "must be > 0")

    moved = data.to(dev, work)
    g_store = moved.g.to(storage)
    s = moved.s if moved.s.dim() == 2 else moved.s.unsqueeze(0)
    d = moved.dim
    ref_rows = moved.head.rows if moved.head else torch.zeros(2, d, dtype=work, device=dev)
    other = moved.head.other_logsumexp if moved.head else None
    other = None if other is None else (other if other.dim() == 2 else other.unsqueeze(0))
    ref = moved.g @ ref_rows.T  # [..., n, 2]
    ref = ref if ref.dim() == 3 else ref.unsqueeze(0)
    ref_logits = (ref[..., 0], ref[..., 1])
    ref_parts = [ref_logits[0], ref_logits[1]] + ([] if other is None else [other.expand_as(ref_logits[0])])
    ref_lse = torch.logsumexp(torch.stack(ref_parts), dim=0)

    symmetric = moved.head is None or moved.head.symmetric
    k = 1 if (config.optimizer != "adamw" or config.weight_decay == 0 or symmetric) else 2
    rows = torch.zeros(R, k, d, dtype=work, device=dev)
    row_sign = torch.tensor([1.0, -1.0], dtype=work, device=dev)[:k].view(1, k, 1)
    optimizer = RowOptimizer(config, lr_t, ref_rows[:k])
    reducer = GroupReducer(moved.behavior, moved.train, data.num_behaviors)
    train_idx = torch.nonzero(data.train.cpu()).squeeze(1)
    run_ids = range(first_run, first_run + R) if run_ids is None else run_ids
    require(len(run_ids) == R, "run_ids", f"needs one run index per run ({R})")
    schedule = BatchSchedule.from_config(train_idx, config, seed, run_ids)
    n = moved.g.shape[-2]
    full_weights = (moved.train.to(work) / train_idx.numel()).unsqueeze(0)
    fused = select_step(kernels.loss, g_store, work, kernel, config.steps)
    # the torch step's operand, widened once (the storage itself when it is the compute dtype)
    g_work = g_store.to(work) if fused is None else None

    def logits(state: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = state @ g.mT  # [R, k, n]
        return p[:, 0], (p[:, 1] if k == 2 else -p[:, 0])

    def moving(state: torch.Tensor) -> torch.Tensor:
        return state if k == 2 else torch.cat([state, -state], dim=1)

    def record(a1: torch.Tensor, a2: torch.Tensor, state: torch.Tensor) -> None:
        stats = sample_metrics(
            a1,
            a2,
            s=s,
            beta=beta_t,
            ref_logits=ref_logits,
            other_lse=other,
            ref_lse=ref_lse,
            phi=kernels.phi,
            reducer=reducer,
        )
        curves.append(stats.reshape(R, data.num_behaviors, 2, -1).to("cpu", torch.float64))
        norms.append(weight_norms(moving(state)).to("cpu", torch.float64))

    steps = _record_steps(config, record_every)
    wanted = set(steps)
    curves: list[torch.Tensor] = []
    norms: list[torch.Tensor] = []
    phases = []
    for phase, start, end in config.phase_bounds():
        phases.append({"name": phase.name, "labels": phase.labels, "start": start, "end": end})
        optimizer.reset()
        s_train = s * phase.label_sign
        for t in range(start, end):
            if schedule.full_batch:
                weights = full_weights
            else:
                idx = schedule.indices(t).to(dev)
                weights = torch.zeros(R, n, dtype=work, device=dev)
                weights.scatter_(1, idx, 1.0 / idx.shape[1])
            if fused is not None:  # one read of the embeddings
                a1, a2, grad = fused(g_store, rows, s_train, weights, beta_t)
            else:  # two batched products: U g^T, then c g
                assert g_work is not None
                a1, a2 = logits(rows, g_work)
                h = beta_t * s_train * (a1 - a2)
                c = kernels.dphi(h, beta_t) * beta_t * s_train * weights
                grad = (c.unsqueeze(1) @ g_work).squeeze(1)
            if t in wanted:
                record(a1, a2, rows)
            rows = optimizer.step(rows, row_sign * grad.unsqueeze(1))
            if progress is not None:
                progress(1)
    a1, a2 = logits(rows, g_store.to(work) if g_work is None else g_work)
    record(a1, a2, rows)
    if check_finite and not all(torch.isfinite(c).all() for c in curves):
        raise PrefdynError(
            f"loss: {kernels.loss.name!r} produced non-finite values (the loss or its derivative "
            "overflows at these margins; lower beta or the learning rate)"
        )
    return SimulationResult(
        steps=steps,
        behavior_names=data.behavior_names,
        phases=phases,
        curves=torch.stack(curves, dim=1),
        norms=torch.stack(norms, dim=1),
        counts=reducer.counts.reshape(-1, 2).to("cpu", torch.float64),
        rows=moving(rows).to("cpu", torch.float64),
    )
