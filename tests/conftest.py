"""Shared test configuration: a deterministic Hypothesis profile (no deadlines, derandomised in CI)."""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "prefdyn",
    deadline=None,  # first calls pay SymPy/torch warm-up; wall-clock must never fail a test
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("prefdyn")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One intra-op thread for the whole suite: on a shared 2-core machine OpenMP spin-waiting
    makes small matmuls ~1000x slower with 2 threads under load; results are identical either
    way. (torch is imported lazily so theory-only runs never load it.)"""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """pytest's ``--hypothesis-seed`` (0 when not given): the seed of the verification searches,
    so that ``pytest --hypothesis-seed=S`` reruns them under another seed."""
    value = request.config.getoption("hypothesis_seed", default=None)
    return int(value) if value is not None else 0
