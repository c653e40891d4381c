r"""Driving Hypothesis: run a check over many examples, climb toward violations, shrink failures.

:func:`search` runs ``evaluate(example) -> Outcome`` on up to ``examples`` examples of a strategy
with a fixed Hypothesis seed (no example database, no deadline: first calls pay SymPy/torch
warm-up, so wall-clock never fails an example). Each example reports its violation to
:func:`hypothesis.target`, so Hypothesis' targeted phase climbs toward larger violations; the
first violating example is shrunk and its minimal form returned. Torch runs single-threaded
during the search (tiny tensors: thread start-up dominates, by up to 100x on a shared CPU).

:func:`check_theorem` applies this to a built-in theorem's property and summarises it as a
:class:`Report` (the JSON of ``prefdyn verify``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from prefdyn.numerics import Scenario

from .outcome import Outcome
from .properties import get_property
from .strategies import scenario_toml


class _Violated(AssertionError):
    """Raised inside the Hypothesis test to mark a violating example."""


@dataclass
class SearchResult:
    """Passing outcomes, and the shrunk violating example (if any) with its outcome."""

    outcomes: list[Outcome] = field(default_factory=list)
    failure: tuple[Any, Outcome] | None = None


@contextmanager
def single_threaded() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def search(strategy: st.SearchStrategy[Any], evaluate: Callable[[Any], Outcome], *, examples: int,
           seed: int) -> SearchResult:
    """Run ``evaluate`` on up to ``examples`` examples; shrink the first violation."""
    result = SearchResult()
    failing: list[tuple[Any, Outcome]] = []

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False, print_blob=False,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink))
    @hypothesis_seed(seed)
    @given(strategy)
    def run(example: Any) -> None:
        outcome = evaluate(example)
        violation = outcome.violation
        if violation > float("-inf"):
            target(min(violation, 1e300), label="violation")
        if violation > 0:
            failing.append((example, outcome))
            raise _Violated(outcome.worst())
        result.outcomes.append(outcome)

    with single_threaded():
        try:
            run()
        except _Violated:
            result.failure = failing[-1]  # Hypothesis replays the shrunk example last
    return result


@dataclass
class Report:
    """Summary of one theorem or conjecture (the per-item JSON of ``prefdyn verify``)."""

    name: str
    kind: str
    examples: int
    passed: bool
    max_violation: float | None
    tightness: dict[str, float] | None
    counterexample: str | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def scenario_of(example: Any) -> Scenario | None:
    """The scenario inside an example (itself, or the first scenario of a tuple)."""
    if isinstance(example, Scenario):
        return example
    if isinstance(example, tuple):
        return next((e for e in example if isinstance(e, Scenario)), None)
    return None


def write_counterexample(example: Any, out: Path | None, stem: str) -> str | None:
    """Write the example's scenario as ``out/stem.toml`` (runnable with ``prefdyn simulate``)."""
    scenario = scenario_of(example)
    if scenario is None or out is None:
        return None
    from prefdyn.errors import output_directory
    from prefdyn.files import atomic_write, inside

    output_directory(out, "out")
    inside(out, f"{stem}.toml", "out")  # the stem is a validated name: proven, not assumed
    path = out / f"{stem}.toml"
    atomic_write(path, scenario_toml(scenario))
    return str(path)


def summarise(name: str, kind: str, found: SearchResult, out: Path | None) -> Report:
    """A :class:`Report` from a search (tightness: min and median of bound / observed)."""
    outcomes = found.outcomes + ([found.failure[1]] if found.failure else [])
    violations = [o.violation for o in outcomes if o.violation > float("-inf")]
    ratios = [r for o in outcomes for r in o.ratios]
    tightness = {"min": min(ratios), "median": statistics.median(ratios)} if ratios else None
    counterexample, detail = None, ""
    if found.failure is not None:
        example, outcome = found.failure
        counterexample = write_counterexample(example, out, f"{name}.counterexample")
        detail = outcome.worst() + ("" if scenario_of(example) else f"; example {example!r}")
    return Report(name, kind, len(outcomes), found.failure is None, max(violations, default=None), tightness,
                  counterexample, detail)


def check_theorem(theorem_id: str, *, examples: int = 100, seed: int = 0, device: str = "cpu",
                  out: Path | None = None) -> Report:
    """Check a built-in theorem's property on ``examples`` Hypothesis examples."""
    prop = get_property(theorem_id)
    found = search(prop.examples, lambda example: prop.check(example, device), examples=examples, seed=seed)
    return summarise(theorem_id, prop.kind, found, out)
