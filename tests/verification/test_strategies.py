"""Scenario strategies: valid, restrictable, shrinking to the simplest case, TOML round trip."""

import tomllib

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from prefdyn.errors import PrefdynError
from prefdyn.numerics import parse_scenario
from prefdyn.numerics.scenario import scenario_toml
from prefdyn.verification.strategies import scenarios


@settings(max_examples=60)
@given(scenarios())
def test_scenarios_are_valid_and_round_trip_through_toml(scenario):
    assert parse_scenario(tomllib.loads(scenario_toml(scenario))) == scenario


@settings(max_examples=30)
@given(
    scenarios(loss="ipo", behaviors=st.integers(2, 3), distribution=st.sampled_from(["laplace", "gennorm"]), steps=4)
)
def test_fields_can_be_fixed_or_restricted(scenario):
    assert scenario.training.loss == "ipo" and scenario.training.steps == 4
    assert 2 <= len(scenario.behaviors) <= 3
    assert {b.distribution for b in scenario.behaviors} <= {"laplace", "gennorm"}


def test_shrinks_to_the_simplest_scenario():
    simplest = find(scenarios(), lambda s: True)
    (behavior,) = simplest.behaviors
    assert simplest.training.loss == "dpo" and simplest.training.optimizer == "sgd"
    assert simplest.training.batch_size == 0 and simplest.cosines is None and simplest.dim == 1
    assert (behavior.positive_fraction, behavior.distribution, behavior.label_noise, behavior.offset) == (
        0.5,
        "gaussian",
        0.0,
        0.0,
    )
    assert behavior.noise_scales is None


def test_shrinks_toward_small_counterexamples():
    two = find(scenarios(), lambda s: len(s.behaviors) >= 2 and s.training.loss != "dpo")
    assert len(two.behaviors) == 2 and two.dim == 2


def test_unknown_field_is_rejected():
    with pytest.raises(PrefdynError, match="restrict: unknown field"):
        find(scenarios(colour="red"), lambda s: True)
