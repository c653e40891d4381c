r"""The simulator's input: embeddings, preference signs, behaviours, split, reference head.

:class:`PreferenceData` is data-agnostic: structured sampling (:mod:`prefdyn.numerics.sampling`)
builds it, and so does the real-data pipeline from model embeddings.

Shapes (``R`` runs, ``n`` samples, ``d`` embedding dimension):

* ``g``: ``[R, n, d]`` (every run has its own sample) or ``[n, d]`` (one data set shared by
  every run, as in sweeps and on real data);
* ``s``: ``[R, n]`` or ``[n]``, :math:`s_i = +1` when the first response is preferred
  (after label noise);
* ``behavior``: ``[n]`` integer behaviour index in ``0..K-1``; ``train``: ``[n]`` bool
  (``False`` = held-out test sample). Both are shared by every run.

Reference head
--------------
:class:`ReferenceHead` describes :math:`W_{\mathrm{ref}} \in \mathbb R^{V\times d}` without
materialising it: the two answer rows :math:`w_1, w_2` (first / second response) and, per sample,
:math:`\ell_i = \log\sum_{v\notin\{1,2\}} e^{w_v^\top g_i}` (``None`` when :math:`V = 2`). Only the
answer rows move (:math:`\nabla_W\phi = \phi'(h)\beta(e_w - e_l)g^\top`), so for the trained head
:math:`\log\pi_W(y_k|x) = z_k - \operatorname{LSE}(z_1, z_2, \ell)` with :math:`z_k = w_k^\top g`
exactly, for any vocabulary size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from prefdyn.errors import require


@dataclass(frozen=True)
class ReferenceHead:
    """The two answer rows of :math:`W_{\\mathrm{ref}}` (``rows``: ``[2, d]``) and the fixed
    log-sum-exp of the other :math:`V-2` logits per sample (``other_logsumexp``: ``[n]`` or
    ``[R, n]``; ``None`` for a two-response head)."""

    rows: torch.Tensor
    other_logsumexp: torch.Tensor | None = None

    @classmethod
    def from_matrix(cls, w_ref: torch.Tensor, g: torch.Tensor, answers: tuple[int, int] = (0, 1)) -> ReferenceHead:
        """From a full ``[V, d]`` head and the embeddings it will see (rows ``answers`` are the
        first / second response tokens)."""
        require(w_ref.dim() == 2 and w_ref.shape[0] >= 2, "head", "W_ref must be [V >= 2, d]")
        keep = torch.ones(w_ref.shape[0], dtype=torch.bool, device=w_ref.device)
        keep[list(answers)] = False
        others = w_ref[keep]
        lse = torch.logsumexp(g @ others.T, dim=-1) if others.shape[0] else None
        return cls(w_ref[list(answers)].clone(), lse)

    @property
    def symmetric(self) -> bool:
        """Whether :math:`w_1 + w_2 = 0` (then AdamW's decay keeps the two moving rows
        antisymmetric and one row suffices)."""
        return bool(torch.all(self.rows[0] + self.rows[1] == 0))


@dataclass(frozen=True)
class PreferenceData:
    """Embeddings, signs, behaviour index and split for ``R`` runs (see the module docstring)."""

    g: torch.Tensor
    s: torch.Tensor
    behavior: torch.Tensor
    train: torch.Tensor
    behavior_names: tuple[str, ...]
    head: ReferenceHead | None = None

    def __post_init__(self) -> None:
        require(self.g.dim() in (2, 3), "data.g", "must be [n, d] or [R, n, d]")
        n, d = self.g.shape[-2:]
        require(self.s.shape[-1] == n and self.s.dim() in (1, 2), "data.s", f"must be [n] or [R, n] with n = {n}")
        require(self.behavior.shape == (n,), "data.behavior", f"must be [n] with n = {n}")
        require(self.train.shape == (n,) and self.train.dtype == torch.bool, "data.train", "must be a bool [n] mask")
        require(bool(self.train.any()), "data.train", "needs at least one training sample")
        require(
            int(self.behavior.min()) >= 0 and int(self.behavior.max()) < len(self.behavior_names),
            "data.behavior",
            f"indices must lie in 0..{len(self.behavior_names) - 1}",
        )
        if self.g.dim() == 3 and self.s.dim() == 2:
            require(self.g.shape[0] == self.s.shape[0], "data.s", "must have as many runs as data.g")
        if self.head is not None:
            require(self.head.rows.shape == (2, d), "head.rows", f"must be [2, {d}]")

    @property
    def runs(self) -> int | None:
        """Number of runs fixed by the data (``None`` when the data are shared)."""
        for t in (self.g, self.s):
            if t.dim() == (3 if t is self.g else 2):
                return t.shape[0]
        return None

    @property
    def dim(self) -> int:
        return self.g.shape[-1]

    @property
    def num_behaviors(self) -> int:
        return len(self.behavior_names)

    def shared(self, run: int = 0) -> PreferenceData:
        """Run ``run``'s sample as a shared data set (``g``: ``[n, d]``, ``s``: ``[n]``)."""
        g = self.g[run] if self.g.dim() == 3 else self.g
        s = self.s[run] if self.s.dim() == 2 else self.s
        head = self.head
        if head is not None and head.other_logsumexp is not None and head.other_logsumexp.dim() == 2:
            head = ReferenceHead(head.rows, head.other_logsumexp[run])
        return replace(self, g=g, s=s, head=head)

    def to(self, device: torch.device | str, dtype: torch.dtype) -> PreferenceData:
        """Move to ``device``; floating tensors to ``dtype``."""
        head = self.head
        if head is not None:
            lse = head.other_logsumexp
            head = ReferenceHead(head.rows.to(device, dtype), None if lse is None else lse.to(device, dtype))
        return replace(
            self,
            g=self.g.to(device, dtype),
            s=self.s.to(device, dtype),
            behavior=self.behavior.to(device),
            train=self.train.to(device),
            head=head,
        )
