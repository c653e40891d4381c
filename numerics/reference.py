r"""Plain reference trainer: one run, the full :math:`V\times d` head, autograd, ``torch.optim``.

It computes :math:`\log\pi_W(y|x) = \operatorname{log\_softmax}(Wg)_y` over all :math:`V` rows and
:math:`h = \beta[(\log\pi_W - \log\pi_{\mathrm{ref}})(y_w|x) - (\log\pi_W - \log\pi_{\mathrm{ref}})(y_l|x)]`
with no closed form at all; the loss is the batch mean of :math:`\phi(h)`. It exists to prove
the batched closed-form simulator (:mod:`prefdyn.numerics.simulator`) right, and as the naive
baseline of the benchmarks. The two answer rows (rows 0 and 1) are the trainable parameter;
the other :math:`V-2` rows are constant (their gradient is identically zero, so for SGD and Adam
this equals training the whole head; AdamW's decay acts on the answer rows, as in the simulator).
"""

from __future__ import annotations

import torch

from .config import TrainConfig
from .evaluate import loss_kernels
from .schedule import BatchSchedule


def _optimizer(config: TrainConfig, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.learning_rate)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.learning_rate, betas=config.adam_betas, eps=config.adam_eps)
    return torch.optim.AdamW(
        params,
        lr=config.learning_rate,
        betas=config.adam_betas,
        eps=config.adam_eps,
        weight_decay=config.weight_decay,
    )


def train_reference(
    g: torch.Tensor,
    s: torch.Tensor,
    train: torch.Tensor,
    w_ref: torch.Tensor,
    config: TrainConfig,
    *,
    seed: int = 0,
    run: int = 0,
) -> torch.Tensor:
    """Train one run and return :math:`W - W_{\\mathrm{ref}}` on the answer rows after every step,
    ``[steps + 1, 2, d]``.

    ``g``: ``[n, d]``; ``s``: ``[n]`` (+1: row 0 is preferred); ``train``: ``[n]`` bool;
    ``w_ref``: ``[V, d]`` (rows 0, 1 are the responses). ``seed``/``run`` select the same
    minibatch shuffles as run ``run`` of the simulator.
    """
    kernels = loss_kernels(config.loss)
    beta = torch.tensor(config.beta, dtype=g.dtype)
    answers = torch.nn.Parameter(w_ref[:2].clone())
    others = w_ref[2:]
    ref_logp = torch.log_softmax(g @ w_ref.T, dim=-1)
    schedule = BatchSchedule.from_config(torch.nonzero(train).squeeze(1), config, seed, [run])
    history = [torch.zeros_like(answers.detach())]
    for phase, start, end in config.phase_bounds():
        optimizer = _optimizer(config, [answers])
        for t in range(start, end):
            idx = schedule.indices(t)[0]
            logp = torch.log_softmax(g[idx] @ torch.cat([answers, others]).T, dim=-1) - ref_logp[idx]
            labels = s[idx] * phase.label_sign
            winner = torch.where(labels > 0, 0, 1)
            rho = logp.gather(1, winner[:, None]) - logp.gather(1, (1 - winner)[:, None])
            loss = kernels.phi(beta * rho.squeeze(1), beta).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(answers.detach() - w_ref[:2])
    return torch.stack(history)
