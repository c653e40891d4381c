"""Every built-in theorem passes its property with >= 200 examples; broken claims are caught.

The Hypothesis seed is pytest's ``--hypothesis-seed`` (0 when not given), so
``for s in $(seq 0 19); do pytest tests/test_verification_theorems.py --hypothesis-seed=$s; done``
runs the suite on 20 seeds.
"""

import importlib
import pkgutil

import pytest

from prefdyn.errors import PrefdynError
from prefdyn.theory import catalogue
from prefdyn.theory.catalogue import module_name, theorem_ids
from prefdyn.verification import check_theorem, properties
from prefdyn.verification.properties import Property, get_property, update_rate, weight_growth

EXAMPLES = 200


def registry_errors() -> list[str]:
    """What breaks the registry rule: a catalogue theorem without a property (the ``PROPERTY`` of
    the property module named as its theorem module, for that id), or a property module whose
    ``PROPERTY`` names an id the catalogue does not know (or another module's id)."""
    modules = {m.name for m in pkgutil.iter_modules(properties.__path__) if not m.name.startswith("_")}
    errors = []
    for theorem_id in theorem_ids():
        name = module_name(theorem_id)
        prop = (
            getattr(importlib.import_module(f"{properties.__name__}.{name}"), "PROPERTY", None)
            if name in modules
            else None
        )
        if not isinstance(prop, Property) or prop.theorem_id != theorem_id:
            errors.append(f"catalogue theorem {theorem_id!r} has no property (module {name})")
    for name in sorted(modules):
        prop = getattr(importlib.import_module(f"{properties.__name__}.{name}"), "PROPERTY", None)
        if not isinstance(prop, Property):
            errors.append(f"property module {name} has no PROPERTY")
        elif prop.theorem_id not in theorem_ids() or module_name(prop.theorem_id) != name:
            errors.append(f"property module {name} names {prop.theorem_id!r}, not its catalogue id")
    return errors


def test_the_property_registry_is_keyed_by_the_catalogue():
    assert registry_errors() == []
    assert [get_property(i).theorem_id for i in theorem_ids()] == theorem_ids()


def test_the_registry_rule_catches_a_theorem_without_a_property_and_an_unknown_id(monkeypatch):
    monkeypatch.setitem(catalogue._MODULES, "no-property", "no_property")
    monkeypatch.delitem(catalogue._MODULES, "priority")
    assert registry_errors() == [
        "catalogue theorem 'no-property' has no property (module no_property)",
        "property module priority names 'priority', not its catalogue id",
    ]


def test_an_unknown_id_has_no_property():
    with pytest.raises(PrefdynError, match="unknown theorem id 'nope'; known ids: dpo-gradient"):
        get_property("nope")


#: Known failure, reported and open: during a search the accuracy-gaussian property finds examples
#: (one behaviour, d = 1, few samples) whose claimed accuracy is Phi(-1/2) for every run although
#: the trained Delta of most runs is positive; the same example evaluated afresh gives the right
#: claim and the same observed accuracy. The cached realised claim is not at fault (after the
#: search it gives the right values); the suspect is state that differs inside the search.
@pytest.mark.slow
@pytest.mark.parametrize("theorem_id", theorem_ids())
def test_theorem_passes(theorem_id, seed, tmp_path):
    report = check_theorem(theorem_id, examples=EXAMPLES, seed=seed, out=tmp_path)
    assert report.passed, report.detail
    assert report.examples >= EXAMPLES


def test_a_wrong_statement_is_caught(monkeypatch, seed, tmp_path):
    """Scale update-rate's claimed first step by 1.2: the property must find a counterexample."""
    original = update_rate.claim_function

    def wrong(*args, **kwargs):
        f = original(*args, **kwargs)
        return lambda values: 1.2 * f(values)

    monkeypatch.setattr(update_rate, "claim_function", wrong)
    report = check_theorem("update-rate", examples=50, seed=seed, out=tmp_path)
    assert not report.passed and report.counterexample is not None


def test_a_too_tight_bound_is_caught(monkeypatch, seed, tmp_path):
    """Shrink weight-growth's bound tenfold (its measured slack is 1.7x to ~20x): violated on some
    step, with a runnable counterexample."""
    original = weight_growth.claim_function
    monkeypatch.setattr(weight_growth, "claim_function", lambda *a, **k: lambda values: 0.1 * original(*a, **k)(values))
    report = check_theorem("weight-growth", examples=50, seed=seed, out=tmp_path)
    assert not report.passed and report.counterexample.endswith(".toml")


@pytest.mark.parametrize("loss", ["discopop", "hinge"])
def test_population_flow_holds_at_a_gate_and_a_kink(loss, seed):
    """DiscoPOP's tau = 0.05 gate and the hinge's kink, where the first (Gauss-Hermite on the
    scale beta*r) quadrature missed A, B by up to 0.1: now quadrature on the kernel's scale and
    SymPy's closed form."""
    from prefdyn.numerics import parse_scenario
    from prefdyn.verification.properties import population_flow as P

    scenario = parse_scenario(
        {
            "training": {"loss": loss, "beta": 1.0, "steps": 1, "samples": 128, "dim": 5, "runs": P.RUNS, "seed": seed},
            "behaviors": [{"name": "b0", "weight": 1.0}],
        }
    )
    outcome = P.check((scenario, [0.3, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), "cpu")
    assert outcome.violation <= 0, outcome.worst()


def test_population_flow_when_no_sample_reaches_the_hinge_active_region():
    """Margins above the hinge's kink except with probability ~4e-6: every sampled phi' is 0, so
    the Student-t interval is degenerate (width 0) while the exact flow is ~1e-5; the rare-event
    radius keeps the identity checkable instead of failing on a zero-variance sample."""
    from prefdyn.numerics import parse_scenario
    from prefdyn.verification.properties import population_flow as P

    scenario = parse_scenario(
        {
            "training": {"loss": "hinge", "beta": 1.0, "steps": 1, "samples": 128, "dim": 2, "runs": P.RUNS, "seed": 3},
            "behaviors": [{"name": "b0", "weight": 1.0, "distinguishability": 2.0, "noise": 0.15}],
        }
    )
    outcome = P.check((scenario, [3.0, 0.0] + [0.0] * 6), "cpu")
    flow = outcome.comparisons[0]
    assert float(flow.observed.abs().max()) == 0.0 and float(flow.claimed.abs().max()) > 0
    assert outcome.violation <= 0, outcome.worst()
