r"""Per-behaviour geometry of embedded preference data (Im & Li 2024, Sec. 4-5, Table 1).

For behaviour :math:`b` with features :math:`g_i` and signs :math:`s_i` (+1: the first
response, " Yes" on the persona data, matches the behaviour), split into the classes
:math:`\pm`:

* distinguishability :math:`\|\delta_b\|_2`, :math:`\delta_b = \mu_b^+ - \mu_b^-`
  (class means);
* concentration :math:`\max(\|\Sigma_b^+\|_2, \|\Sigma_b^-\|_2)` (largest spectral norm of the
  two class covariances, :math:`\Sigma = \frac1n\sum_i (g_i-\mu)(g_i-\mu)^\top`);
* trace :math:`\max(\operatorname{tr}\Sigma_b^+, \operatorname{tr}\Sigma_b^-)`;
* class balance :math:`q_b = n_b^+/n_b`;
* the debiased distinguishability
  :math:`\big(\|\hat\delta\|^2 - \operatorname{tr}\hat\Sigma^+/(n^+-1)
  - \operatorname{tr}\hat\Sigma^-/(n^--1)\big)_+^{1/2}`: the plug-in
  :math:`\|\hat\delta\|` overestimates :math:`\|\delta\|` by the sampling noise of the two
  means, :math:`E\|\hat\delta\|^2 = \|\delta\|^2 + \operatorname{tr}\Sigma^+/n^+
  + \operatorname{tr}\Sigma^-/n^-`, which matters when :math:`d` is comparable to :math:`n`;
* basic bootstrap CIs :math:`[\hat\theta - (q_{hi} - \theta^*), \hat\theta - (q_{lo} - \theta^*)]`,
  resampling within each class, where :math:`q` are quantiles of the replicates and
  :math:`\theta^*` is the quantity's value in the resampled population (the plug-in estimate;
  for the debiased distinguishability, the plug-in :math:`\|\hat\delta\|`). A percentile
  interval of a norm would double its upward bias instead. The plug-in concentration is itself
  biased upward when :math:`d/n` is not small (Marchenko-Pastur); the interval corrects that
  to first order only.

The authors' pairwise priority level (``priority``):
:math:`\bar b = \frac12(\delta_i+\delta_j)`, :math:`p_i = \langle \bar b, \delta_i\rangle/\|\bar b\|`,
:math:`\mathrm{gap}_{ij} = (p_i - p_j)/\max(\|\delta_i\|, \|\delta_j\|)`; a positive gap predicts
that :math:`i` is learned first when the two are trained jointly.

:func:`spearman` gives Spearman's :math:`\rho` with a two-sided p-value and a bootstrap CI
(resampling pairs). The p-value is exact for :math:`n \le` :data:`EXACT_MAX_N`: the share of
all :math:`n!` permutations of ``y`` whose :math:`|\rho|` is at least the observed one (so it is
a multiple of :math:`1/n!` and never below the test's resolution, :math:`2/n!` without ties:
:math:`5.0\times10^{-5}` for :math:`n = 8`); for larger :math:`n` a seeded Monte-Carlo
permutation test over :math:`P` random permutations, :math:`(1 + \#\{|\rho_\pi| \ge |\rho|\})
/(1 + P)`, whose resolution is :math:`1/(1 + P)`. ``method`` and ``p_resolution`` say which, and
:func:`prefdyn.formatting.p_value_text` prints a p-value at the resolution as ``< r``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.stats import rankdata

from prefdyn.errors import require

_POWER_ITERATIONS = 40


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class BehaviorStats:
    """Point estimates and ``level`` bootstrap CIs of one behaviour's geometry."""

    name: str
    n: int
    balance: float
    distinguishability: float
    distinguishability_debiased: float
    concentration: float
    trace: float
    mean_norm: float
    distinguishability_ci: Interval
    distinguishability_debiased_ci: Interval
    concentration_ci: Interval
    trace_ci: Interval

    def row(self) -> dict[str, float | int | str]:
        """Flat dictionary (CIs as ``*_lo`` / ``*_hi``) for JSON/CSV/LaTeX tables."""
        out: dict[str, float | int | str] = {}
        for key, value in asdict(self).items():
            if isinstance(value, dict):
                out[f"{key.removesuffix('_ci')}_lo"] = value["low"]
                out[f"{key.removesuffix('_ci')}_hi"] = value["high"]
            else:
                out[key] = value
        return out


def class_split(g: torch.Tensor, sign: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``g`` with ``sign > 0`` and with ``sign < 0``; both classes must be non-empty."""
    pos, neg = g[sign > 0].double(), g[sign < 0].double()
    require(
        len(pos) > 1 and len(neg) > 1,
        "data",
        "each behaviour needs at least two examples of each answer to measure its class geometry",
    )
    return pos, neg


def delta(g: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    r""":math:`\delta = \mu^+ - \mu^-`, shape ``[d]`` (float64)."""
    pos, neg = class_split(g, sign)
    return pos.mean(0) - neg.mean(0)


def _weighted_moments(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    r"""Bootstrap-weighted moments of ``x`` ``[n, d]`` for weights ``w`` ``[B, n]`` summing to
    n: means ``[B, d]``, covariance traces ``[B]`` and spectral norms ``[B]`` (power iteration on
    :math:`v \mapsto X^\top(w\odot Xv)/n - \mu\mu^\top v`, warm-started at the full-sample top
    eigenvector, never forming the ``[B, d, d]`` covariances)."""
    n = x.shape[0]
    mean = w @ x / n
    trace = w @ (x * x).sum(1) / n - (mean * mean).sum(1)
    cov = torch.cov(x.T, correction=0).reshape(x.shape[1], x.shape[1])
    v = torch.linalg.eigh(cov).eigenvectors[:, -1].expand_as(mean).clone()
    for _ in range(_POWER_ITERATIONS):
        u = (w * (v @ x.T)) @ x / n - mean * (mean * v).sum(1, keepdim=True)
        v = u / u.norm(dim=1, keepdim=True).clamp_min(1e-300)
    spectral = (w * (v @ x.T) ** 2).sum(1) / n - (mean * v).sum(1) ** 2
    return mean, trace, spectral


def _basic_interval(estimate: float, world: float, samples: torch.Tensor, level: float) -> Interval:
    lo, hi = torch.quantile(samples, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=samples.dtype))
    return Interval(estimate - (float(hi) - world), estimate - (float(lo) - world))


def _bootstrap_weights(n: int, resamples: int, gen: torch.Generator) -> torch.Tensor:
    idx = torch.randint(n, (resamples, n), generator=gen)
    return torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(
        1, idx, torch.ones(resamples, n, dtype=torch.float64)
    )


def behavior_stats(
    name: str, g: torch.Tensor, sign: torch.Tensor, *, resamples: int = 200, level: float = 0.95, seed: int = 0
) -> BehaviorStats:
    """Geometry of one behaviour with class-stratified percentile bootstrap CIs."""
    require(resamples >= 10, "resamples", "must be at least 10")
    require(0 < level < 1, "level", "must lie in (0, 1)")
    gen = torch.Generator().manual_seed(seed)
    pos, neg = class_split(g, sign)
    full = [_weighted_moments(x, torch.ones(1, len(x), dtype=torch.float64)) for x in (pos, neg)]
    boot = [_weighted_moments(x, _bootstrap_weights(len(x), resamples, gen)) for x in (pos, neg)]
    dist, debiased, conc, trace = [], [], [], []
    for (mean_p, tr_p, sp_p), (mean_n, tr_n, sp_n) in (full, boot):
        sq = ((mean_p - mean_n) ** 2).sum(1)
        dist.append(sq.sqrt())
        noise = tr_p / (len(pos) - 1) + tr_n / (len(neg) - 1)
        debiased.append((sq - noise).clamp_min(0).sqrt())
        conc.append(torch.maximum(sp_p, sp_n))
        trace.append(torch.maximum(tr_p, tr_n))
    point = {k: float(v[0][0]) for k, v in {"dist": dist, "deb": debiased, "conc": conc, "trace": trace}.items()}
    return BehaviorStats(
        name=name,
        n=len(sign),
        balance=len(pos) / len(sign),
        distinguishability=point["dist"],
        distinguishability_debiased=point["deb"],
        concentration=point["conc"],
        trace=point["trace"],
        mean_norm=float(g.double().norm(dim=1).mean()),
        distinguishability_ci=_basic_interval(point["dist"], point["dist"], dist[1], level),
        distinguishability_debiased_ci=_basic_interval(point["deb"], point["dist"], debiased[1], level),
        concentration_ci=_basic_interval(point["conc"], point["conc"], conc[1], level),
        trace_ci=_basic_interval(point["trace"], point["trace"], trace[1], level),
    )


def priority_level(delta_i: torch.Tensor, delta_j: torch.Tensor) -> tuple[float, float, float]:
    r"""The authors' priority level :math:`(p_i, p_j, \mathrm{gap}_{ij})` (module docstring)."""
    b_bar = (delta_i + delta_j) / 2
    norm = b_bar.norm().clamp_min(1e-300)
    p_i, p_j = float(b_bar @ delta_i / norm), float(b_bar @ delta_j / norm)
    scale = float(torch.maximum(delta_i.norm(), delta_j.norm()).clamp_min(1e-300))
    return p_i, p_j, (p_i - p_j) / scale


#: Largest :math:`n` whose permutation null is enumerated exactly (:math:`10! = 3\,628\,800`
#: permutations, about a second); above it the p-value is a seeded Monte-Carlo permutation test.
EXACT_MAX_N = 10


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho, its two-sided p-value and a bootstrap CI.

    ``method`` is ``"exact"`` (all :math:`n!` permutations enumerated; ``permutations`` is then
    :math:`n!`) or ``"permutation"`` (``permutations`` random ones, seeded);
    ``p_resolution`` is the smallest p-value the test can give."""

    rho: float
    p_value: float
    ci: Interval
    n: int
    permutations: int
    resamples: int
    method: str = "permutation"
    p_resolution: float = 0.0


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair of ``x``, ``y`` (``[R, n]``), average ranks for ties."""
    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx -= rx.mean(1, keepdims=True)
    ry -= ry.mean(1, keepdims=True)
    den = np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1))
    return np.divide((rx * ry).sum(1), den, out=np.zeros(len(rx)), where=den > 0)


def all_permutations(n: int) -> np.ndarray:
    """Every permutation of ``range(n)`` as rows of an ``[n!, n]`` int8 array (built by
    inserting ``k`` at every position of the permutations of ``range(k)``)."""
    require(0 <= n <= EXACT_MAX_N, "n", f"exact enumeration needs n <= {EXACT_MAX_N}")
    perms = np.zeros((1, 0), dtype=np.int8)
    for k in range(n):
        m = perms.shape[0]
        out = np.empty((m * (k + 1), k + 1), dtype=np.int8)
        for pos in range(k + 1):
            block = out[pos * m : (pos + 1) * m]
            block[:, :pos] = perms[:, :pos]
            block[:, pos] = k
            block[:, pos + 1 :] = perms[:, pos:]
        perms = out
    return perms


def exact_spearman_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""``(p, resolution)`` of the exact two-sided permutation test of Spearman's :math:`\rho`:
    :math:`p = \#\{\pi : |S_\pi| \ge |S|\}/n!` over all :math:`n!` permutations :math:`\pi` of
    ``y``, with :math:`S_\pi = \sum_i \tilde r^x_i\tilde r^y_{\pi(i)}` on doubled centred
    (average, for ties) ranks -- integers, so the comparison is exact; the resolution is the
    smallest p any data with these ranks can give, :math:`\#\{\pi : |S_\pi| = \max|S|\}/n!`."""
    n = len(x)
    rx = np.rint(2 * rankdata(x) - (n + 1)).astype(np.int64)
    ry = np.rint(2 * rankdata(y) - (n + 1)).astype(np.int64)
    observed = abs(int(rx @ ry))
    perms = all_permutations(n)
    at_least = top = 0
    largest = -1
    for start in range(0, len(perms), 1 << 19):
        stat = np.abs(ry[perms[start : start + (1 << 19)]] @ rx)
        at_least += int((stat >= observed).sum())
        chunk_max = int(stat.max())
        if chunk_max > largest:
            largest, top = chunk_max, int((stat == chunk_max).sum())
        elif chunk_max == largest:
            top += int((stat == chunk_max).sum())
    total = math.factorial(n)
    return at_least / total, top / total


def spearman(
    x: np.ndarray | list[float],
    y: np.ndarray | list[float],
    *,
    permutations: int = 10000,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Correlation:
    r""":math:`\rho_S(x, y)` with a two-sided p-value and a percentile CI over resampled
    ``(x, y)`` pairs.

    For :math:`n \le` :data:`EXACT_MAX_N` the p-value is exact (:func:`exact_spearman_p`, all
    :math:`n!` permutations; ``permutations`` is ignored); otherwise
    :math:`(1 + \#\{|\rho_\pi| \ge |\rho|\})/(1 + P)` over :math:`P` = ``permutations`` random
    permutations of ``y`` drawn with ``seed``, resolution :math:`1/(1 + P)`."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    require(xa.shape == ya.shape and xa.ndim == 1, "spearman", "x and y must be equal-length 1-D")
    require(len(xa) >= 3, "spearman", "needs at least three behaviours")
    rng = np.random.default_rng(seed)
    rho = float(_spearman_rows(xa[None], ya[None])[0])
    if len(xa) <= EXACT_MAX_N:
        p_value, resolution = exact_spearman_p(xa, ya)
        method, count = "exact", math.factorial(len(xa))
    else:
        perm = rng.permuted(np.broadcast_to(ya, (permutations, len(ya))), axis=1)
        null = _spearman_rows(np.broadcast_to(xa, perm.shape), perm)
        p_value = (1 + int((np.abs(null) >= abs(rho) - 1e-12).sum())) / (1 + permutations)
        method, count, resolution = "permutation", permutations, 1 / (1 + permutations)
    idx = rng.integers(len(xa), size=(resamples, len(xa)))
    boot = _spearman_rows(xa[idx], ya[idx])
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return Correlation(rho, p_value, Interval(float(lo), float(hi)), len(xa), count, resamples, method, resolution)
