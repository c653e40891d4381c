"""On-disk cache of embeddings and reference heads.

Root: ``$PREFDYN_CACHE`` if set, else ``~/.cache/prefdyn``; entries live under
``<root>/embeddings/<key>.pt``. A key is the SHA-256 of a JSON description of what was computed
(model identity, the data file's content hash, the prompt template, the response pair and, for
features, the batching scheme and batch size), so a changed file, template, model, answer pair or
batching is a different entry and stale data can never be served.

Each entry is a sealed file (:func:`~prefdyn.files.write_sealed`: SHA-256, length, and its own
key as provenance) written to a unique temporary file, ``fsync``'ed and renamed into place, under
the cache's lock (:class:`~prefdyn.files.FolderLock`; a writer waits up to a minute for
another). Its tensors are read back with ``torch.load(weights_only=True)``, which runs no code.
An empty, truncated or altered entry, or one stored under another key, is named on stderr and
recomputed; an entry of the older unsealed format is recomputed too.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import torch

from prefdyn.files import Corrupt, FolderLock, Foreign, cache_root, read_sealed, write_sealed

#: seconds a writer waits for another process writing the same cache
LOCK_WAIT_S = 60.0


def cache_key(**parts: Any) -> str:
    """Content key: SHA-256 of the canonical JSON of ``parts``."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class EmbeddingCache:
    """A folder of sealed ``torch.save`` dictionaries of tensors, addressed by :func:`cache_key`."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "embeddings"

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be a SHA-256 hex digest, not {key!r}")
        return self.root / f"{key}.pt"

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        """The entry stored under ``key``; ``None`` when absent or unusable (said on stderr)."""
        path = self._path(key)
        if not path.exists() and not path.is_symlink():
            return None
        try:
            payload = read_sealed(path, {"kind": "prefdyn-cache", "key": key})
            tensors = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
            if not (isinstance(tensors, dict) and all(isinstance(v, torch.Tensor) for v in tensors.values())):
                raise Foreign("not a dictionary of tensors")
        except (Corrupt, Foreign) as err:
            print(f"prefdyn: cache entry {path} is unusable ({err}); recomputing it", file=sys.stderr)
            return None
        except Exception as err:  # noqa: BLE001 - unreadable payload: recompute it
            print(f"prefdyn: cache entry {path} is unusable ({type(err).__name__}); recomputing it", file=sys.stderr)
            return None
        return tensors

    def put(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        """Store ``tensors`` under ``key`` (sealed, durable, under the cache's lock)."""
        path = self._path(key)
        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, buffer)
        self.root.mkdir(parents=True, exist_ok=True)
        with FolderLock(self.root, "cache", wait=LOCK_WAIT_S):
            write_sealed(path, buffer.getvalue(), {"kind": "prefdyn-cache", "key": key})
