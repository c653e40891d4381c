r"""Driving Hypothesis: run a check over many examples, climb toward violations, shrink failures.

:func:`search` runs ``evaluate(example) -> Outcome`` on up to ``examples`` examples of a strategy
with a fixed Hypothesis seed (no example database, no deadline: first calls pay SymPy/torch
warm-up, so wall-clock never fails an example). Each example reports its violation to
:func:`hypothesis.target`, so Hypothesis' targeted phase climbs toward larger violations; the
first violating example is shrunk and its minimal form returned. Torch runs single-threaded
during the search by default (tiny tensors: thread start-up dominates, by up to 100x on a shared
CPU); ``prefdyn verify --threads N`` changes that.

:func:`check_theorem` applies this to a built-in theorem's property and summarises it as a
:class:`Report` (the JSON of ``prefdyn verify``).
"""

from __future__ import annotations

import math
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
from prefdyn.numerics.scenario import scenario_toml

from .outcome import Outcome
from .properties import get_property


class _Violated(AssertionError):
    """Raised inside the Hypothesis test to mark a violating example."""


@dataclass
class SearchResult:
    """Passing outcomes, and the shrunk violating example (if any) with its outcome."""

    outcomes: list[Outcome] = field(default_factory=list)
    failure: tuple[Any, Outcome] | None = None


@contextmanager
def torch_threads(threads: int = 1) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def search(
    strategy: st.SearchStrategy[Any],
    evaluate: Callable[[Any], Outcome],
    *,
    examples: int,
    seed: int,
    threads: int = 1,
    on_example: Callable[[], None] | None = None,
) -> SearchResult:
    """Run ``evaluate`` on up to ``examples`` examples; shrink the first violation.

    ``threads``: torch threads during the search (default 1: the examples are tiny);
    ``on_example()`` is called after every evaluated example (progress)."""
    result = SearchResult()
    failing: list[tuple[Any, Outcome]] = []

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
    )
    @hypothesis_seed(seed)
    @given(strategy)
    def run(example: Any) -> None:
        outcome = evaluate(example)
        if on_example is not None:
            on_example()
        violation = outcome.violation
        if violation > float("-inf"):
            target(min(violation, 1e300), label="violation")
        if violation > 0:
            failing.append((example, outcome))
            raise _Violated(outcome.worst())
        result.outcomes.append(outcome)

    with torch_threads(threads):
        try:
            run()
        except _Violated:
            result.failure = failing[-1]  # Hypothesis replays the shrunk example last
    return result


@dataclass
class Report:
    """Summary of one theorem or conjecture (the per-item JSON of ``prefdyn verify``).

    ``tightness``: min and median of bound / observed over the *informative* bound values whose
    bound and observed value share a sign (``None`` when there is none: an identity, or a bound
    that was vacuous on every example). ``informative``: per bound (comparison label), how often
    it said something -- ``values`` counts entries (one per example and behaviour, say),
    ``examples`` the examples whose every entry was informative -- and the natural range that
    defines it (:mod:`prefdyn.verification.outcome`). A bound that holds but is vacuous still
    passes; this says how often that happened."""

    name: str
    kind: str
    examples: int
    passed: bool
    max_violation: float | None
    tightness: dict[str, float] | None
    counterexample: str | None
    detail: str = ""
    informative: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @property
    def informative_fraction(self) -> float | None:
        """Share of informative bound values over all bounds (``None``: no bound)."""
        total = sum(b["values"]["total"] for b in self.informative)
        return None if total == 0 else sum(b["values"]["informative"] for b in self.informative) / total


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


def informative_bounds(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Per bound label, in first-seen order: informative values and examples (see
    :class:`Report`) and the natural range of the bounded quantity."""
    tally: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        for label, (k, n, relation, natural) in outcome.bounds().items():
            entry = tally.setdefault(
                label, {"bound": label, "relation": relation, "values": [0, 0], "examples": [0, 0], "range": natural}
            )
            entry["values"][0] += k
            entry["values"][1] += n
            entry["examples"][0] += int(n > 0 and k == n)
            entry["examples"][1] += 1
    out = []
    for entry in tally.values():
        low, high = entry.pop("range")
        for key in ("values", "examples"):
            k, n = entry[key]
            entry[key] = {"informative": k, "total": n, "fraction": k / n if n else 0.0}
        rule = f"bound > {low:g}" if entry["relation"] == ">=" else f"bound < {high:g}"
        entry["rule"] = rule if math.isfinite(low if entry["relation"] == ">=" else high) else "bound finite"
        out.append(entry)
    return out


def summarise(name: str, kind: str, found: SearchResult, out: Path | None, stem: str | None = None) -> Report:
    """A :class:`Report` from a search (tightness: min and median of bound / observed over the
    informative values; the share of informative values per bound). A counterexample is
    written as ``out/<stem>.toml`` (default stem ``<name>.counterexample``: a theorem id)."""
    outcomes = found.outcomes + ([found.failure[1]] if found.failure else [])
    violations = [o.violation for o in outcomes if o.violation > float("-inf")]
    ratios = [r for o in outcomes for r in o.ratios]
    tightness = {"min": min(ratios), "median": statistics.median(ratios)} if ratios else None
    counterexample, detail = None, ""
    if found.failure is not None:
        example, outcome = found.failure
        counterexample = write_counterexample(example, out, stem or f"{name}.counterexample")
        detail = outcome.worst() + ("" if scenario_of(example) else f"; example {example!r}")
    return Report(
        name,
        kind,
        len(outcomes),
        found.failure is None,
        max(violations, default=None),
        tightness,
        counterexample,
        detail,
        informative_bounds(outcomes),
    )


def check_theorem(
    theorem_id: str,
    *,
    examples: int = 100,
    seed: int = 0,
    device: str = "cpu",
    out: Path | None = None,
    threads: int = 1,
    on_example: Callable[[], None] | None = None,
) -> Report:
    """Check a built-in theorem's property on ``examples`` Hypothesis examples (``threads``
    and ``on_example``: as in :func:`search`)."""
    prop = get_property(theorem_id)
    found = search(
        prop.examples,
        lambda example: prop.check(example, device),
        examples=examples,
        seed=seed,
        threads=threads,
        on_example=on_example,
    )
    return summarise(theorem_id, prop.kind, found, out)
