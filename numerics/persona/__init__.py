r"""Real data: persona-format preference sets embedded by a real model (Im & Li 2024, Sec. 5).

Pipeline (each step a small module):

* :func:`load_persona` (:mod:`.loader`): JSONL from a file, folder or glob -> behaviours;
* :func:`resolve_embedder` (:mod:`.embed`): the bundled all-MiniLM-L6-v2 (fresh two-response
  head) or a local causal LM (last-prompt-token hidden state, real ``lm_head``);
* :func:`embed_corpus` (:mod:`.embedded`, :mod:`.cache`): cached features per behaviour;
* :mod:`.stats`: distinguishability, concentration, trace, bootstrap CIs, priority level,
  Spearman's rho;
* :mod:`.training`: adapter to the batched simulator :func:`prefdyn.numerics.simulator.simulate`;
* :mod:`.experiments`: speed correlation, pair priority, misalignment;
* :mod:`.finetune`: full DPO fine-tuning of the encoder (feature learning).

Torch-free at import time; the submodules import torch.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "load_persona": "loader", "PersonaCorpus": "loader",
    "resolve_embedder": "embed", "embed_corpus": "embedded", "EmbeddedCorpus": "embedded",
    "behaviour_stats": "stats", "priority_level": "stats", "spearman": "stats",
    "TrainSettings": "training", "train": "training", "train_each": "training",
    "speed_correlation": "experiments", "pair_priority": "experiments",
    "pair_sweep": "experiments", "misalignment": "experiments",
    "finetune": "finetune", "FinetuneSettings": "finetune",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
