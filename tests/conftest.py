"""Shared test configuration: a deterministic Hypothesis profile (no deadlines, derandomised in CI)."""

import os
import subprocess
import sys
import zipfile
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
#: beside the repository, else the excerpt shipped in tests/data (three behaviours, 120 lines each).
PERSONA_DATA = Path(
    os.environ.get("PREFDYN_PERSONA_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "anthropic-evals-persona"
)
PERSONA_EXCERPT = Path(__file__).resolve().parent / "data" / "anthropic-evals-persona"


@pytest.fixture
def persona_excerpt(tmp_path: Path) -> Callable[[Sequence[str], int], Path]:
    """``make(names, lines)``: a folder holding the first ``lines`` lines of each named real
    behaviour (from the full data when present, else from the shipped excerpt; the test skips
    when neither holds enough lines)."""

    def make(names: Sequence[str], lines: int) -> Path:
        folder = tmp_path / "persona-excerpt"
        folder.mkdir(exist_ok=True)
        for name in names:
            text = _persona_lines(name, lines)
            (folder / f"{name}.jsonl").write_text("\n".join(text) + "\n")
        return folder

    return make


def _persona_lines(name: str, lines: int) -> list[str]:
    for source in (PERSONA_DATA, PERSONA_EXCERPT):
        path = source / f"{name}.jsonl"
        if path.is_file():
            text = path.read_text().splitlines()
            if len(text) >= lines:
                return text[:lines]
    pytest.skip(f"persona behaviour {name!r} ({lines} lines) is neither in {PERSONA_DATA} nor in the excerpt")


REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tracked_files() -> list[str]:
    """The files git tracks that the working tree holds (paths relative to the repository root);
    the test skips outside a git checkout."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"needs a git checkout of the repository ({exc})")
    return [name for name in listing.split("\0") if name and (REPOSITORY / name).is_file()]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory, tracked_files: list[str]) -> Path:
    """A wheel built as from a zip archive of the working tree: the tracked files, links followed
    (so no symlinks), unzipped and built offline (no build isolation: the installed setuptools)."""
    folder = tmp_path_factory.mktemp("wheel")
    archive = folder / "prefdyn.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in tracked_files:
            zf.write(REPOSITORY / name, name)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder / "source")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--wheel-dir",
            folder / "dist",
            folder / "source",
        ],
        check=True,
    )
    (built,) = (folder / "dist").glob("prefdyn-*.whl")
    return built


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """The wheel unpacked: the folder a (non-editable) install puts on ``sys.path``."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site
