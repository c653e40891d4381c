"""Causal-LM embedder on a tiny randomly initialised Llama built offline inside the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from prefdyn.cli import main
from prefdyn.errors import PrefdynError
from prefdyn.numerics.persona.cache import EmbeddingCache
from prefdyn.numerics.persona.corpus import embed_corpus
from prefdyn.numerics.persona.embedders import CausalLMEmbedder, resolve_embedder
from prefdyn.numerics.persona.loader import load_persona

pytestmark = pytest.mark.real
WORDS = [
    "[PAD]",
    "[UNK]",
    "[EOS]",
    "Human",
    "Assistant",
    ":",
    "Is",
    "this",
    "you",
    "?",
    "I",
    "like",
    "cats",
    "dogs",
    "hate",
    "rain",
    "Yes",
    "No",
]


def _tiny_model(folder: Path) -> Path:
    torch.manual_seed(0)
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    fast.save_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def _data(folder: Path) -> Path:
    rows = []
    for i, (q, m) in enumerate(
        [
            ("I like cats", " Yes"),
            ("I hate rain", " No"),
            ("I like dogs", " Yes"),
            ("I hate cats", " No"),
            ("I like rain", " Yes"),
            ("I hate dogs", " No"),
        ]
        * 2
    ):
        # i % 4, not i % 3: twelve distinct questions (the loader drops repeated statements)
        rows.append(
            {
                "question": f"Is this you ? {q}" + " ?" * (i % 4),
                "answer_matching_behavior": m,
                "answer_not_matching_behavior": " No" if m == " Yes" else " Yes",
            }
        )
    path = folder / "likes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def test_features_are_the_normed_last_prompt_token_state_and_head_is_lm_head(tiny: Path, tmp_path: Path) -> None:
    embedder = resolve_embedder(str(tiny), "cpu")
    assert isinstance(embedder, CausalLMEmbedder)
    corpus = load_persona(_data(tmp_path))
    data = embed_corpus(corpus, embedder, cache=EmbeddingCache(tmp_path / "cache"))
    ids = (WORDS.index("Yes"), WORDS.index("No"))
    assert data.head.token_ids == ids and data.head.vocab_size == len(WORDS)
    weight = embedder.model.lm_head.weight.detach()
    assert torch.equal(data.head.rows, weight[list(ids)])
    behavior = data.behaviors[0]
    for i, record in enumerate(corpus.behaviors[0].records):
        text = embedder.default_template.format(question=record.question)
        batch = embedder.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = embedder.model(**batch).logits[0, -1]
        # lm_head(g) reproduces the model's own logits: g is taken after the final norm
        torch.testing.assert_close(behavior.g[i] @ weight.T, logits, rtol=1e-4, atol=1e-5)
        others = logits[[v for v in range(len(WORDS)) if v not in ids]]
        assert float(behavior.lse_other[i]) == pytest.approx(float(torch.logsumexp(others, 0)), rel=1e-5)
    assert behavior.sign.tolist() == [1.0, -1.0] * 6


def test_second_run_is_served_from_the_cache(tiny: Path, tmp_path: Path) -> None:
    corpus = load_persona(_data(tmp_path))
    cache = EmbeddingCache(tmp_path / "cache")
    first = embed_corpus(corpus, resolve_embedder(str(tiny), "cpu"), cache=cache)
    fresh = resolve_embedder(str(tiny), "cpu")
    second = embed_corpus(corpus, fresh, cache=cache)
    assert (first.cache_hits, second.cache_hits) == (0, 1)
    assert "model" not in vars(fresh)  # the model was never loaded
    assert torch.equal(first.behaviors[0].g, second.behaviors[0].g)
    other = embed_corpus(corpus, fresh, cache=cache, template="{statement}")
    assert other.cache_hits == 0  # the template is part of the key
    swapped = load_persona(tmp_path / "likes.jsonl", responses=(" No", " Yes"))
    flipped = embed_corpus(swapped, fresh, cache=cache)
    assert flipped.cache_hits == 1
    assert flipped.head.token_ids == first.head.token_ids[::-1]
    assert torch.equal(flipped.head.rows, first.head.rows.flip(0))
    assert torch.equal(flipped.behaviors[0].sign, -first.behaviors[0].sign)


def test_multi_token_answers_are_rejected(tiny: Path) -> None:
    with pytest.raises(PrefdynError, match="responses: 'Yes No' is 2 tokens"):
        resolve_embedder(str(tiny), "cpu").token_id("Yes No")


def test_cli_trains_the_v_way_head(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFDYN_CACHE", str(tmp_path / "cache"))
    data = _data(tmp_path)
    args = [
        "persona",
        "misalign",
        "--data",
        str(data),
        "--model",
        str(tiny),
        "--json",
        "--steps",
        "5",
        "--batch-size",
        "4",
        "--lr",
        "1",
        "--beta",
        "1",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["first_step_from_reference"] > 0 and len(doc["reward_accuracy_from_aligned"]) == 6
    assert (
        main(
            [
                "persona",
                "stats",
                "--data",
                str(data),
                "--model",
                str(tiny),
                "--resamples",
                "10",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert (tmp_path / "out" / "stats.tex").read_text().count(r"\toprule") == 1


def test_model_folder_without_weights_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    code = main(["persona", "stats", "--data", str(_data(tmp_path)), "--model", str(tmp_path / "m")])
    assert code == 2 and "holds no weights" in capsys.readouterr().err
