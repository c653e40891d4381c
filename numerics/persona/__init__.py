r"""Real data as a data source: persona-format preference sets embedded by a real model.

Beside synthetic sampling (:mod:`prefdyn.numerics.sampling`), this package turns a persona corpus
into the tensors the simulator trains on (Im & Li 2024, Sec. 5):

* :func:`load_persona` (:mod:`.loader`): JSONL from a file, folder or glob -> behaviours;
* :func:`resolve_embedder` (:mod:`.embedders`): the bundled all-MiniLM-L6-v2 (fresh two-response
  head) or a local causal LM (last-prompt-token hidden state, real ``lm_head``);
* :func:`embed_corpus` (:mod:`.corpus`, :mod:`.cache`): cached features per behaviour.

The experiments run on such a corpus live in :mod:`prefdyn.studies`. Torch-free at import time;
the submodules import torch.
"""

from __future__ import annotations

from prefdyn._lazy import lazy_attributes

_EXPORTS = {
    "load_persona": "loader",
    "PersonaCorpus": "loader",
    "resolve_embedder": "embedders",
    "embed_corpus": "corpus",
    "EmbeddedCorpus": "corpus",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_attributes(__name__, {name: f".{module}" for name, module in _EXPORTS.items()})
