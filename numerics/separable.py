r"""Linear separability of a preference set through the origin, and its hard-margin SVM direction.

For the signed embeddings :math:`z_i = s_i g_i` of a training set, the margin

.. math:: \gamma = \max_{\|w\| = 1}\ \min_i z_i^\top w

is positive exactly when :math:`\{z_i\}` is linearly separable through the origin; then it is
attained at :math:`w^\star = \hat w/\|\hat w\|`, where :math:`\hat w = \arg\min\{\|w\| : z_i^\top w \ge 1\}`
is the hard-margin SVM vector, and full-batch GD with an exponential-tailed loss converges in
direction to :math:`w^\star` (theorem ``implicit-bias``). When :math:`n \le d` a generic set is
separable whatever its signs.

How it is computed (SciPy, per run):

1. *SVM dual*: :math:`\min_{0 \le \alpha \le C}\ \frac12\|Z^\top\alpha\|^2 - \mathbf 1^\top\alpha`
   on the :math:`n\times n` Gram matrix :math:`K = ZZ^\top` of the data scaled to
   :math:`\max_i\|z_i\| = 1` (:math:`C =` :data:`CAP`), :math:`\hat w = Z^\top\alpha`. When the
   :math:`z_i` are linearly independent (:math:`K` invertible, condition number below
   :math:`10^{12}`: the usual case :math:`n \le d`) the dual is the non-negative least-squares
   problem :math:`\min_{\alpha\ge0}\|Z^\top\alpha - b\|^2`, :math:`b = Z^\top K^{-1}\mathbf 1`; sets of at
   most :data:`NNLS_MAX` samples are solved so, exactly, by :func:`scipy.optimize.nnls`. Larger
   sets, dependent ones, and any NNLS answer that is not certified go to
   :func:`scipy.optimize.minimize` (L-BFGS-B with the bounds).
2. *Certificate*: any :math:`\alpha \ge 0` brackets the margin,
   :math:`\min_i z_i^\top\hat w/\|\hat w\| \le \gamma \le \|Z^\top\alpha\|/\mathbf 1^\top\alpha` (the right side
   is the norm of a point of the convex hull of the :math:`z_i`, and :math:`\gamma` is the distance from the
   origin to that hull, or 0); both ends meet at the optimum of a separable set.
3. *Decision* (``tol``): *separable* when the left end is positive (the returned direction itself
   separates the set: a proof) and the bracket is narrower than ``tol`` times it; the reported
   margin is the left end, ``gap`` the bracket's width. *Not separable* when the right end is at
   most ``tol`` times :math:`\max_i\|z_i\|` (a convex combination of the :math:`z_i` that close to the
   origin: no direction has a margin above that). Anything between is a
   :class:`~prefdyn.errors.PrefdynError` (a set too close to the boundary to decide).

The Gram matrix needs :math:`8n^2` bytes; a set whose Gram matrix does not fit in the available
memory is refused before any work.

Example
-------
>>> import torch
>>> z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [2.0, 0.0]], dtype=torch.float64)
>>> result = separable(z)
>>> bool(result.separable[0]), round(float(result.margin[0]), 6), result.direction[0].tolist()
(True, 1.0, [1.0, 0.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from prefdyn.errors import PrefdynError, require

from .data import PreferenceData
from .memory import HEADROOM, available_bytes, human

#: Default relative tolerance of the decision and of the margin's certificate.
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Separability:
    r"""Per-run result of :func:`separable` (``R`` runs, dimension ``d``; float64 on the CPU).

    ``separable``: ``[R]`` bool; ``margin``: ``[R]`` :math:`\gamma` (the margin achieved by
    ``direction``; 0 where not separable); ``direction``: ``[R, d]`` unit SVM direction
    :math:`w^\star` (zeros where not separable); ``gap``: ``[R]`` width of the certified bracket
    of :math:`\gamma` (0 where not separable); ``support``: ``[R, n]`` bool, the samples with a
    positive dual weight (margin :math:`\gamma` up to the tolerance).
    """

    separable: torch.Tensor
    margin: torch.Tensor
    direction: torch.Tensor
    gap: torch.Tensor
    support: torch.Tensor


def signed_embeddings(data: PreferenceData | torch.Tensor) -> torch.Tensor:
    r""":math:`z_i = s_i g_i` of the training samples, ``[R, n, d]`` float64, from
    :class:`~prefdyn.numerics.data.PreferenceData` (its ``train`` mask) or from ``z`` itself
    (``[n, d]`` or ``[R, n, d]``)."""
    if isinstance(data, PreferenceData):
        g = data.g if data.g.dim() == 3 else data.g.unsqueeze(0)
        s = data.s if data.s.dim() == 2 else data.s.unsqueeze(0)
        runs = max(g.shape[0], s.shape[0])
        z = (s.unsqueeze(-1).to(torch.float64) * g.to(torch.float64)).expand(runs, -1, -1)
        return z[:, data.train.cpu()].cpu()
    require(isinstance(data, torch.Tensor), "separable", "needs PreferenceData or a tensor z = s g")
    require(data.dim() in (2, 3), "separable.z", f"must be [n, d] or [R, n, d], not {list(data.shape)}")
    require(data.is_floating_point(), "separable.z", "must be a floating-point tensor")
    z = (data if data.dim() == 3 else data.unsqueeze(0)).detach().to("cpu", torch.float64)
    require(z.shape[1] > 0 and z.shape[2] > 0, "separable.z", "needs at least one sample and one dimension")
    require(bool(torch.isfinite(z).all()), "separable.z", "must be finite")
    return z


#: Upper bound of the dual weights (on data scaled to :math:`\max_i\|z_i\| = 1`): the dual of a
#: separable set has :math:`\mathbf 1^\top\alpha^\star = 1/\gamma^2`, below it for every margin above
#: :math:`10^{-5}`; on a non-separable set the weights run to it.
CAP = 1e10
#: Largest set solved by NNLS first (exact and fast on small sets; L-BFGS-B is faster on large ones).
NNLS_MAX = 64


def _svm(z: np.ndarray, tol: float) -> tuple[bool, np.ndarray, float, float, np.ndarray]:
    r"""``(separable, w_unit, margin, gap, support)`` of one run ``z`` (``[n, d]``) from the dual on its
    Gram matrix, decided by the certificate of the module docstring."""
    from scipy.optimize import minimize, nnls

    scale = float(np.linalg.norm(z, axis=1).max())
    n, d = z.shape
    if scale == 0.0:
        return False, np.zeros(d), 0.0, 0.0, np.zeros(n, dtype=bool)
    unit = z / scale  # conditioning: the margin scales with the data
    gram = unit @ unit.T
    ones = np.ones(n)

    def objective(alpha: np.ndarray) -> tuple[float, np.ndarray]:
        k_alpha = gram @ alpha
        return 0.5 * float(alpha @ k_alpha) - float(alpha.sum()), k_alpha - ones

    def certified(alpha: np.ndarray) -> tuple[float, float, np.ndarray]:
        w = unit.T @ alpha
        length = float(np.linalg.norm(w))
        upper = length / float(alpha.sum()) if alpha.sum() > 0 else 1.0
        lower = float((unit @ w).min()) / length if length > 0 else -1.0
        return lower, upper, w / max(length, 1e-300)

    if n <= min(d, NNLS_MAX) and np.linalg.cond(gram) < 1e12:
        # independent z_i: the dual is the non-negative least-squares problem ||Z^T alpha - b||^2 with
        # Z b = 1 (b = Z^T K^{-1} 1), solved exactly by scipy's active-set NNLS
        alpha, _ = nnls(unit.T, unit.T @ np.linalg.solve(gram, ones))
        lower, upper, w = certified(alpha)
        if lower > 0 and upper - lower <= tol * lower:
            return True, w, lower * scale, (upper - lower) * scale, alpha > tol * alpha.max()
    solution = minimize(
        objective,
        np.zeros(n),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, CAP)] * n,
        options={"maxiter": 50_000, "maxfun": 100_000, "ftol": 1e-15, "gtol": 1e-12},
    )
    alpha = solution.x
    lower, upper, w = certified(alpha)
    if lower > 0 and upper - lower <= tol * lower:
        return True, w, lower * scale, (upper - lower) * scale, alpha > tol * alpha.max()
    if upper <= tol:
        return False, np.zeros(d), 0.0, 0.0, np.zeros(n, dtype=bool)
    raise PrefdynError(
        f"separable: cannot decide to the tolerance {tol:g} (margin bracket [{max(lower, 0.0) * scale:.6g}, "
        f"{upper * scale:.6g}]); the set is nearly non-separable"
    )


def separable(data: PreferenceData | torch.Tensor, *, tol: float = TOLERANCE) -> Separability:
    r"""Decide the linear separability through the origin of :math:`\{s_ig_i\}` per run and return
    the hard-margin SVM direction and margin (see the module docstring for the method and the
    meaning of ``tol``).

    Parameters
    ----------
    data
        :class:`~prefdyn.numerics.data.PreferenceData` (its training samples) or ``z = s g`` as a
        ``[n, d]`` or ``[R, n, d]`` tensor.
    tol
        Relative tolerance in :math:`(0, 10^{-2}]`: separable when the returned direction separates
        the set and the margin's certified bracket is narrower than ``tol`` times the margin; not
        separable when a convex combination of the :math:`z_i` lies within ``tol`` times
        :math:`\max_i\|z_i\|` (Euclidean) of the origin.

    Returns
    -------
    Separability
        Tensors per run.

    Raises
    ------
    PrefdynError
        On bad input, when the :math:`n\times n` Gram matrix would not fit in memory, or when the
        solver does not certify the margin to ``tol``.
    """
    require(isinstance(tol, float) and 0.0 < tol <= 1e-2, "separable.tol", "must be a float in (0, 0.01]")
    z = signed_embeddings(data)
    runs, n, _ = z.shape
    available = available_bytes()
    need = 8 * n * n * 3  # the Gram matrix and two working copies
    if available is not None and need > HEADROOM * available:
        raise PrefdynError(
            f"separable: the {n} x {n} Gram matrix needs about {human(need)}, but {human(available)} are available"
        )
    flags, margins, directions, gaps = [], [], [], []
    supports = torch.zeros(runs, n, dtype=torch.bool)
    for r in range(runs):
        flag, w, margin, gap, support = _svm(z[r].numpy(), tol)
        flags.append(flag)
        margins.append(margin)
        gaps.append(gap)
        directions.append(w)
        supports[r] = torch.from_numpy(support)
    return Separability(
        separable=torch.tensor(flags),
        margin=torch.tensor(margins, dtype=torch.float64),
        direction=torch.from_numpy(np.stack(directions)).to(torch.float64),
        gap=torch.tensor(gaps, dtype=torch.float64),
        support=supports,
    )
