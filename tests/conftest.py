"""Shared test configuration: a deterministic Hypothesis profile (no deadlines, derandomised in CI)."""

import os
from collections.abc import Callable, Sequence
from pathlib import Path

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
    way. (torch is imported lazily so theory-only runs never load it.) ``OMP_NUM_THREADS=1`` as
    well, unless set: the commands' thread policy (``prefdyn.threads``) respects it, so a
    command run in-process or as a subprocess keeps to one thread too."""
    import os

    import torch

    threads = torch.get_num_threads()
    unset = "OMP_NUM_THREADS" not in os.environ
    if unset:
        os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if unset:
        os.environ.pop("OMP_NUM_THREADS", None)


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """pytest's ``--hypothesis-seed`` (0 when not given): the seed of the verification searches,
    so that ``pytest --hypothesis-seed=S`` reruns them under another seed."""
    value = request.config.getoption("hypothesis_seed", default=None)
    return int(value) if value is not None else 0


#: The real persona data: $PREFDYN_PERSONA_DATA, else ../shared/data/anthropic-evals-persona
#: beside the repository.
PERSONA_DATA = Path(os.environ.get("PREFDYN_PERSONA_DATA")
                    or Path(__file__).resolve().parents[2] / "shared" / "data" / "anthropic-evals-persona")


@pytest.fixture
def persona_excerpt(tmp_path: Path) -> Callable[[Sequence[str], int], Path]:
    """``make(names, lines)``: a folder holding the first ``lines`` lines of each named real
    behaviour (the test skips when the data are absent)."""
    def make(names: Sequence[str], lines: int) -> Path:
        if not PERSONA_DATA.is_dir():
            pytest.skip(f"persona data not found at {PERSONA_DATA} (set PREFDYN_PERSONA_DATA)")
        folder = tmp_path / "persona-excerpt"
        folder.mkdir(exist_ok=True)
        for name in names:
            text = (PERSONA_DATA / f"{name}.jsonl").read_text().splitlines()[:lines]
            (folder / f"{name}.jsonl").write_text("\n".join(text) + "\n")
        return folder

    return make
