r"""SGD, Adam and AdamW on the tracked answer rows, elementwise as ``torch.optim`` does.

The simulator tracks :math:`U = W_{\mathrm{ans}} - W_{\mathrm{ref,ans}}`, the change of the two
answer rows (the only rows with a nonzero gradient), batched over runs: ``rows`` has shape
``[R, k, d]``. Every update here is elementwise in the parameter, so applying it to the answer
rows equals applying ``torch.optim`` to the whole head (a row with zero gradient keeps zero Adam
moments and does not move). With gradient :math:`G_t`, step :math:`t \ge 1` of a phase:

* SGD: :math:`U \leftarrow U - \eta G_t`;
* Adam (Kingma & Ba 2015, ``torch.optim.Adam``): :math:`m \leftarrow \beta_1 m + (1-\beta_1)G_t`,
  :math:`v \leftarrow \beta_2 v + (1-\beta_2)G_t^2`,
  :math:`U \leftarrow U - \frac{\eta}{1-\beta_1^t}\, m / (\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon)`;
* AdamW (Loshchilov & Hutter 2019): first :math:`W \leftarrow (1-\eta\lambda)W`, i.e.
  :math:`U \leftarrow U - \eta\lambda(W_{\mathrm{ref,ans}} + U)`, then the Adam step.

``lr`` may differ per run (``[R]``), which is how sweeps batch learning rates.
"""

from __future__ import annotations

import torch

from .config import TrainConfig


class RowOptimizer:
    """Optimizer state for ``rows`` ``[R, k, d]``; ``anchor`` ``[k, d]`` is
    :math:`W_{\\mathrm{ref}}` on the tracked rows (used by AdamW's decay)."""

    def __init__(self, config: TrainConfig, lr: torch.Tensor, anchor: torch.Tensor):
        self.kind = config.optimizer
        self.lr = lr.reshape(-1, 1, 1)
        self.beta1, self.beta2 = config.adam_betas
        self.eps = config.adam_eps
        self.weight_decay = config.weight_decay
        self.anchor = anchor
        self.reset()

    def reset(self) -> None:
        """Forget the moments and the step count (start of a phase)."""
        self.t = 0
        self.m: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def step(self, rows: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """The updated rows (a new tensor)."""
        if self.kind == "sgd":
            return rows - self.lr * grad
        self.t += 1
        if self.m is None or self.v is None:
            self.m, self.v = torch.zeros_like(grad), torch.zeros_like(grad)
        if self.kind == "adamw" and self.weight_decay:
            rows = rows - (self.lr * self.weight_decay) * (self.anchor + rows)
        self.m = self.m.lerp(grad, 1 - self.beta1)
        self.v = self.v * self.beta2 + (1 - self.beta2) * grad * grad
        step_size = self.lr / (1 - self.beta1**self.t)
        denom = self.v.sqrt() / (1 - self.beta2**self.t) ** 0.5 + self.eps
        return rows - step_size * self.m / denom
