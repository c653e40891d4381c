r"""Per-step measurements of a batch of runs, per behaviour and split.

For sample :math:`i` with answer-row logit changes :math:`a_{k,i} = u_k^\top g_i`
(:math:`u_k` = row :math:`k` of :math:`W - W_{\mathrm{ref}}`), reference logits
:math:`r_{k,i} = w_{\mathrm{ref},k}^\top g_i` and the fixed log-sum-exp :math:`\ell_i` of the other
:math:`V-2` logits:

* ``margin``: :math:`h_i = \beta s_i (a_{1,i} - a_{2,i})` (the implicit-reward margin
  :math:`\beta\rho`); ``margin_std`` is its standard deviation within the behaviour;
* ``loss``: :math:`\phi(h_i)`;
* ``reward_accuracy``: :math:`[h_i > 0] + \tfrac12[h_i = 0]` (a tie counts one half, see below);
* ``accuracy``, also reported as ``policy_accuracy`` (the policy accuracy of Im & Li, ICML 2024,
  as their code measures it):
  :math:`[\log\pi_W(y_w|x_i) > \log\pi_W(y_l|x_i)] = [s_i(z_{1,i} - z_{2,i}) > 0]` (plus
  :math:`\tfrac12` for a tie) with
  :math:`z = r + a` (the softmax normaliser cancels), i.e. the reference's own logit gap
  :math:`s_i(r_{1,i} - r_{2,i})` plus :math:`\rho_i`. With :math:`W_{\mathrm{ref}} = 0` it equals
  ``reward_accuracy`` exactly;
* ``chosen_logp_change`` / ``rejected_logp_change``:
  :math:`\log\pi_W(y|x_i) - \log\pi_{\mathrm{ref}}(y|x_i) = a_{y,i} - [\mathrm{LSE}(z_{1,i}, z_{2,i},
  \ell_i) - \mathrm{LSE}(r_{1,i}, r_{2,i}, \ell_i)]` for :math:`y = y_w` and :math:`y_l`.

Each is averaged over a behaviour's samples of one split (train or test), per run. Labels are
always the data's :math:`s`, also while a phase trains on flipped labels.

Ties: a gap of exactly 0 (the model is indifferent between the two answers) counts
:math:`\tfrac12`, the expected score of a fair coin flip between them, in both accuracies:
:math:`\operatorname{acc} = \frac1n\sum_i([x_i > 0] + \tfrac12[x_i = 0])`. So before training
(:math:`h = 0`) ``reward_accuracy`` is exactly 1/2, while ``policy_accuracy`` is then the
reference's own accuracy (1/2 as well when :math:`W_{\mathrm{ref}} = 0`). The population
theory (:mod:`prefdyn.numerics.population`) uses the same convention.

Weight change per run: :math:`\|W_t - W_{\mathrm{ref}}\|_F = \|U\|_F` and
:math:`\|W_t - W_{\mathrm{ref}}\|_{op} = \sqrt{\lambda_{\max}(UU^\top)}` of the :math:`2\times d`
matrix :math:`U` of the two moving rows (a :math:`2\times2` eigenvalue in closed form).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: Per-sample quantities averaged per behaviour and split, in storage order.
SAMPLE_METRICS = (
    "loss",
    "accuracy",
    "reward_accuracy",
    "margin",
    "margin_std",
    "chosen_logp_change",
    "rejected_logp_change",
)
#: Other names under which a stored metric is reported (``SimulationResult.curve`` and the JSON
#: summary): ``policy_accuracy`` is ``accuracy`` under its explicit name.
METRIC_ALIASES = {"policy_accuracy": "accuracy"}
#: Per-behaviour metrics a summary reports, in order (stored metrics and their aliases).
REPORTED_METRICS = (
    "loss",
    "accuracy",
    "policy_accuracy",
    "reward_accuracy",
    "margin",
    "margin_std",
    "chosen_logp_change",
    "rejected_logp_change",
)
#: Per-run weight-change norms.
NORM_METRICS = ("weight_change_opnorm", "weight_change_frobenius")
SPLITS = ("train", "test")


class GroupReducer:
    r"""Averages per-sample values over groups (behaviour :math:`b`, split): group index
    :math:`2b + \text{split}`, computed as one product with a ``[n, 2K]`` indicator matrix.

    The sums are taken in float64 whatever the training dtype: a float32 sum of :math:`n`
    values carries a relative error up to about :math:`n\,2^{-24}`, which for the loss at step 0
    (:math:`\log 2` on every sample) is larger than a whole training run's change at small
    learning rates. Per-sample values keep the training dtype's resolution.
    """

    def __init__(self, behavior: torch.Tensor, train: torch.Tensor, num_behaviors: int):
        group = behavior * 2 + (~train).long()
        self.group = group
        self.indicator = torch.nn.functional.one_hot(group, 2 * num_behaviors).to(torch.float64)
        self.counts = self.indicator.sum(0)

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """``[R, n]`` -> ``[R, 2K]`` group means in float64 (0 for an empty group)."""
        return (x.to(torch.float64) @ self.indicator) / self.counts.clamp(min=1)

    def std(self, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """Within-group (population) standard deviation, two-pass for accuracy."""
        deviation = x - mean[:, self.group]
        return self.mean(deviation * deviation).sqrt()


def tie_half_indicator(x: torch.Tensor) -> torch.Tensor:
    r""":math:`[x > 0] + \tfrac12[x = 0]` elementwise, in ``x``'s dtype: the score of one
    comparison when a tie (the model is indifferent) counts one half.

    >>> tie_half_indicator(torch.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return (x > 0).to(x.dtype) + 0.5 * (x == 0).to(x.dtype)


def sample_metrics(
    a1: torch.Tensor,
    a2: torch.Tensor,
    *,
    s: torch.Tensor,
    beta: torch.Tensor,
    ref_logits: tuple[torch.Tensor, torch.Tensor],
    other_lse: torch.Tensor | None,
    ref_lse: torch.Tensor,
    phi: Callable[..., torch.Tensor],
    reducer: GroupReducer,
) -> torch.Tensor:
    """``[R, 2K, len(SAMPLE_METRICS)]`` for one step (see the module docstring)."""
    h = beta * s * (a1 - a2)
    z1, z2 = ref_logits[0] + a1, ref_logits[1] + a2
    parts = [z1, z2] if other_lse is None else [z1, z2, other_lse.expand_as(z1)]
    shift = torch.logsumexp(torch.stack(parts), dim=0) - ref_lse
    chosen = s > 0
    values = {
        "loss": phi(h, beta),
        "accuracy": tie_half_indicator(s * (z1 - z2)),
        "reward_accuracy": tie_half_indicator(h),
        "margin": h,
        "chosen_logp_change": torch.where(chosen, a1, a2) - shift,
        "rejected_logp_change": torch.where(chosen, a2, a1) - shift,
    }
    means = {k: reducer.mean(v) for k, v in values.items()}
    means["margin_std"] = reducer.std(h, means["margin"])
    return torch.stack([means[k] for k in SAMPLE_METRICS], dim=-1)


def weight_norms(moving_rows: torch.Tensor) -> torch.Tensor:
    """``[R, 2, d]`` -> ``[R, 2]``: operator and Frobenius norm of each run's ``2 x d`` matrix."""
    gram_a = (moving_rows[:, 0] ** 2).sum(-1)
    gram_c = (moving_rows[:, 1] ** 2).sum(-1)
    gram_b = (moving_rows[:, 0] * moving_rows[:, 1]).sum(-1)
    half_gap = torch.sqrt(((gram_a - gram_c) / 2) ** 2 + gram_b**2)
    top = ((gram_a + gram_c) / 2 + half_gap).clamp(min=0)
    return torch.stack([top.sqrt(), (gram_a + gram_c).sqrt()], dim=-1)
