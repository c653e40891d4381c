"""On-disk cache of embeddings and reference heads.

Root: ``$PREFDYN_CACHE`` if set, else ``~/.cache/prefdyn``; entries live under
``<root>/embeddings/<key>.pt``. A key is the SHA-256 of a JSON description of what was computed
(model identity, the data file's content hash, the prompt template, the response pair), so a
changed file, template, model or answer pair is a different entry and stale data can never be
served. Writes go to a temporary file renamed into place, so a killed run leaves no torn entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch


def cache_root() -> Path:
    """``$PREFDYN_CACHE`` or ``~/.cache/prefdyn``."""
    return Path(os.environ.get("PREFDYN_CACHE") or Path.home() / ".cache" / "prefdyn")


def cache_key(**parts: Any) -> str:
    """Content key: SHA-256 of the canonical JSON of ``parts``."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class EmbeddingCache:
    """A folder of ``torch.save`` dictionaries of tensors, addressed by :func:`cache_key`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "embeddings"

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return torch.load(path, map_location="cpu", weights_only=True)

    def put(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(f".tmp{os.getpid()}")
        torch.save(tensors, tmp)
        tmp.replace(self._path(key))
