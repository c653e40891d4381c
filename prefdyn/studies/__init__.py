r"""The paper's real-data experiments on an embedded persona corpus, generalised.

Each module is one study of a corpus from :mod:`prefdyn.numerics.persona`:

* :mod:`.stats`: distinguishability, concentration, trace, bootstrap CIs, priority level,
  Spearman's :math:`\rho` (Im & Li 2024, Table 1);
* :mod:`.training`: the adapter to the batched simulator :func:`prefdyn.numerics.simulate`;
* :mod:`.experiments`: speed correlation, pair priority, misalignment;
* :mod:`.finetune`: full DPO fine-tuning of the encoder (feature learning);
* :mod:`.curves`: predicted against observed learning curves;
* :mod:`.figures`: the figures of those curves.

Torch-free at import time; the submodules import torch.
"""

from __future__ import annotations

from prefdyn._lazy import lazy_attributes

_EXPORTS = {
    "behavior_stats": "stats",
    "priority_level": "stats",
    "spearman": "stats",
    "TrainSettings": "training",
    "train": "training",
    "train_each": "training",
    "speed_correlation": "experiments",
    "pair_priority": "experiments",
    "pair_sweep": "experiments",
    "misalignment": "experiments",
    "finetune": "finetune",
    "FinetuneSettings": "finetune",
    "predict_corpus": "curves",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_attributes(__name__, {name: f".{module}" for name, module in _EXPORTS.items()})
