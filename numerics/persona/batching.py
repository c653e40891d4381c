r"""The embedding batch size, chosen by memory.

A batch of :math:`B` statements of at most :math:`L` tokens holds, at the peak of one
transformer layer's forward pass, about

.. math::

    B \times 4 L \,(6 h + 3 i + 2 a L) \ \text{bytes}

of float32 activations (:func:`statement_bytes`): per token the hidden state, queries, keys,
values, attention context and output (:math:`6h`), the feed-forward intermediate with its
activation and, for a gated MLP, its gate (:math:`3i`), and per token and head a row of attention
scores and of probabilities (:math:`2aL`), with :math:`h` the hidden size, :math:`i` the
intermediate size and :math:`a` the attention heads of the model's ``config.json``. The batch
size (:func:`memory_batch_size`) is the largest power of two whose batch fits in
:data:`MEMORY_SHARE` of the memory available on the device (:func:`available_memory`), at least
1 and at most :data:`MAX_BATCH`.

The cap is where a larger batch stops paying on a CPU. For all-MiniLM-L6-v2 (:math:`h = 384`,
:math:`i = 1536`, :math:`a = 12`, truncated at :math:`L = 256` tokens) one statement is at most
13.4 MB, so the cap holds whenever more than 3.4 GB are available.

How the statements are batched (:data:`SCHEME`, :func:`length_order`): each behaviour's statements
are sorted by their token count, longest first (ties in file order), and cut into consecutive
batches of :math:`B`, so a batch is padded only to its own longest statement; the features are put
back in file order afterwards. The values depend, in their last bits, on which statements share a
batch, so the scheme and :math:`B` are part of every features cache key, and a cluster shard is a
run of whole batches of that order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: most statements per batch
MAX_BATCH = 64
#: share of the available memory one batch's activations may take
MEMORY_SHARE = 0.25
#: bytes per activation element (float32: the CPU dtype, and an upper bound for half precision)
ELEMENT_BYTES = 4
#: the batching scheme of :func:`length_order`, recorded in every features cache key
SCHEME = "token-count-sorted/1"


def read_json(path: Path) -> Any:
    """The JSON value in ``path``; ``None`` when the file is absent or not UTF-8 JSON."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def read_config(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (an empty one when the file holds none)."""
    loaded = read_json(path)
    return loaded if isinstance(loaded, dict) else {}


def statement_bytes(config: dict[str, Any], tokens: int) -> int | None:
    """Peak activation bytes of one statement of ``tokens`` tokens in one layer of the model
    described by the Hugging Face ``config`` (formula in the module docstring).

    Parameters
    ----------
    config : dict
        The model's ``config.json``: ``hidden_size`` (or ``n_embd``, ``d_model``),
        ``intermediate_size`` (or ``n_inner``; default ``4 * hidden``) and
        ``num_attention_heads`` (or ``n_head``; default 1).
    tokens : int
        The longest statement, in tokens.

    Returns
    -------
    int or None
        Bytes; ``None`` when the config names no hidden size.

    Examples
    --------
    >>> statement_bytes({"hidden_size": 384, "intermediate_size": 1536, "num_attention_heads": 12}, 256)
    13369344
    """
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    if not isinstance(hidden, int) or hidden < 1:
        return None
    inner = config.get("intermediate_size") or config.get("n_inner") or 4 * hidden
    heads = config.get("num_attention_heads") or config.get("n_head") or 1
    return ELEMENT_BYTES * tokens * (6 * hidden + 3 * int(inner) + 2 * int(heads) * tokens)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    """Bytes left under this process's cgroup (v2) memory limit, when it has one."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        used = int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def available_memory(device: Any) -> int | None:
    """Bytes free for activations on ``device``: a CUDA device's free memory; on the CPU the
    kernel's ``MemAvailable`` (or the free pages), less when a cgroup limit leaves less.
    ``None`` when nothing can be read."""
    import torch

    if torch.device(device).type == "cuda":
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    found = [m for m in (_meminfo_available(), _cgroup_headroom()) if m is not None]
    if not found:
        try:
            found = [os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
        except (AttributeError, ValueError, OSError):
            return None
    return min(found)


def memory_batch_size(per_statement: int | None, available: int | None) -> int:
    """The largest power of two ``B <= MAX_BATCH`` with ``B * per_statement <= MEMORY_SHARE *
    available``, at least 1; :data:`MAX_BATCH` when either is unknown.

    Examples
    --------
    >>> memory_batch_size(13369344, 23 * 2**30), memory_batch_size(13369344, 2**30)
    (64, 16)
    """
    if per_statement is None or available is None:
        return MAX_BATCH
    fits = int(MEMORY_SHARE * available) // max(1, per_statement)
    return min(MAX_BATCH, 1 << max(0, fits.bit_length() - 1))


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indices of the statements of token counts ``lengths``, longest first, ties in the given order:
    the order in which they are cut into batches (:data:`SCHEME`).

    Examples
    --------
    >>> length_order([3, 5, 3, 7])
    [3, 1, 0, 2]
    """
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])
