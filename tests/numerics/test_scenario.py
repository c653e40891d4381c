"""Scenario files: the one writer round-trips every scenario (user losses included), a user loss
in a file is the loss built in Python, and every API that takes a loss takes a ``Loss``."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import prefdyn
from prefdyn.errors import PrefdynError
from prefdyn.numerics import (
    TrainConfig,
    load_scenario,
    parse_scenario,
    run_scenario,
    sample_scenario,
    sweep_settings,
)
from prefdyn.numerics.scenario import default_scenario, loss_document, parse_loss, scenario_toml
from prefdyn.theory.losses import get_loss, loss_from_expression, loss_names
from prefdyn.verification.strategies import scenarios

SHIFTED = "log(1 + exp(-(h - gamma)))"

USER_LOSS_SCENARIO = f"""
name = "shifted"
[training]
loss = {{ expr = "{SHIFTED}", params = {{ gamma = 0.5 }} }}
steps = 4
samples = 48
dim = 3
test_fraction = 0.25
seed = 3
runs = 2
[[behaviors]]
name = "a"
weight = 0.5
distinguishability = 2.0
[[behaviors]]
name = "b"
weight = 0.5
distinguishability = 0.5
"""

#: user losses phi(h; gamma), gamma > 0 (each finite and real at h = 0)
EXPRESSIONS = (
    SHIFTED,
    "(h - gamma)**2/beta**2",
    "Max(0, gamma - h)",
    "Piecewise(((h - gamma)**2, h < gamma), (0, True))",
    "-logsigmoid(h)*sigmoid(-h/gamma)",
)


@st.composite
def user_losses(draw: st.DrawFn) -> object:
    """A user loss with a drawn parameter, named or not."""
    text = draw(st.sampled_from(EXPRESSIONS))
    gamma = draw(st.floats(0.01, 3.0, allow_nan=False))
    name = draw(st.sampled_from(["custom", "mine"]))
    return loss_from_expression(text, {"gamma": gamma}, name=name)


@settings(max_examples=60)
@given(scenarios(loss=st.one_of(st.sampled_from(loss_names()), user_losses())), st.integers(1, 5))
def test_the_writer_round_trips_every_scenario(scenario, runs):
    text = scenario_toml(scenario)
    again = parse_scenario(tomllib.loads(text))
    assert again == scenario and scenario_toml(again) == text
    # written from the fields, not from the document it was read from
    changed = dataclasses.replace(scenario, runs=runs)
    assert parse_scenario(tomllib.loads(scenario_toml(changed))) == changed


def test_a_scenario_built_in_python_is_written_too():
    scenario = default_scenario()
    config = dataclasses.replace(scenario.training, loss=prefdyn.loss("(h - gamma)**2", gamma=0.25))
    built = dataclasses.replace(scenario, training=config, source={})
    assert parse_scenario(tomllib.loads(scenario_toml(built))) == built


def test_a_user_loss_in_a_file_is_the_loss_built_in_python(tmp_path: Path):
    path = tmp_path / "shifted.toml"
    path.write_text(USER_LOSS_SCENARIO)
    scenario = load_scenario(path)
    in_python = prefdyn.loss(SHIFTED, gamma=0.5)
    assert scenario.training.loss == in_python
    from_file = run_scenario(scenario, progress=False)
    config = dataclasses.replace(scenario.training, loss=in_python)
    from_python = run_scenario(dataclasses.replace(scenario, training=config), progress=False)
    assert torch.equal(from_file.curves, from_python.curves)
    # and gamma = 0 is DPO, up to the kernels' rounding
    dpo = dataclasses.replace(scenario, training=dataclasses.replace(scenario.training, loss="dpo"))
    zero = dataclasses.replace(
        scenario,
        training=dataclasses.replace(scenario.training, loss=parse_loss({"expr": SHIFTED, "params": {"gamma": 0}})),
    )
    torch.testing.assert_close(
        run_scenario(zero, progress=False).curves, run_scenario(dpo, progress=False).curves, rtol=1e-5, atol=1e-6
    )


def test_the_hash_tells_user_losses_apart(tmp_path: Path):
    first = parse_scenario(tomllib.loads(USER_LOSS_SCENARIO))
    second = parse_scenario(tomllib.loads(USER_LOSS_SCENARIO.replace("gamma = 0.5", "gamma = 0.25")))
    assert first.content_hash() != second.content_hash()
    assert first.content_hash() == parse_scenario(tomllib.loads(USER_LOSS_SCENARIO)).content_hash()


def test_train_config_rejects_unknown_losses():
    with pytest.raises(PrefdynError, match=r"^training\.loss: unknown loss 'nope'; known losses: dpo, ipo"):
        TrainConfig(loss="nope")
    with pytest.raises(PrefdynError, match=r"^training\.loss: must be a registered loss name"):
        TrainConfig(loss=3)  # type: ignore[arg-type]
    assert TrainConfig(loss="SIGMOID").loss == "SIGMOID"  # names and aliases as given
    assert TrainConfig(loss=get_loss("ipo")).loss == "ipo"  # a registered Loss by its name
    user = prefdyn.loss(SHIFTED, gamma=0.5)
    assert TrainConfig(loss=user).loss is user


def test_a_registered_loss_object_is_written_by_name():
    assert loss_document(get_loss("hinge")) == "hinge"
    assert loss_document(prefdyn.loss("(h - gamma)**2", gamma=0.5)) == {
        "expr": "(-gamma + h)**2",
        "params": {"gamma": 0.5},
    }
    with pytest.raises(PrefdynError, match="cannot be written as a table"):
        loss_document(dataclasses.replace(prefdyn.loss("h**2"), title="hand-made"))


def test_sweep_accepts_loss_objects():
    scenario = parse_scenario(tomllib.loads(USER_LOSS_SCENARIO))
    data = sample_scenario(scenario, runs=1).shared(0)
    grid = {"betas": [0.1, 1.0], "learning_rates": [0.5]}
    user = scenario.training.loss
    by_name = sweep_settings(data, dataclasses.replace(scenario.training, loss="ipo"), **grid)
    by_object = sweep_settings(data, dataclasses.replace(scenario.training, loss=get_loss("ipo")), **grid)
    assert torch.equal(by_name.result.curves, by_object.result.curves)
    mixed = sweep_settings(data, scenario.training, losses=[get_loss("ipo"), user], **grid)
    assert [s["loss"] for s in mixed.settings] == ["ipo", "ipo", user, user]
    assert torch.equal(mixed.result.curves[:2], by_name.result.curves)
    alone = sweep_settings(data, scenario.training, **grid)  # config.loss, a user Loss
    assert torch.equal(alone.result.curves, mixed.result.curves[2:])
    with pytest.raises(PrefdynError, match="training.loss: unknown loss 'nope'"):
        sweep_settings(data, scenario.training, losses=["nope"], **grid)
