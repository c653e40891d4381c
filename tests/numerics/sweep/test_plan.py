"""Sweep files: fields, values, grids, random draws, and one-line errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefdyn.errors import PrefdynError
from prefdyn.numerics.sweep.plan import parse_sweep

DATA = Path(__file__).resolve().parents[2] / "data"


def plan(*axes: dict, **sweep: object):
    return parse_sweep({"sweep": {"scenario": "small.toml", "runs": 2, **sweep}, "axes": list(axes)}, DATA)


def test_cells_are_the_product_of_the_axes_in_row_major_order() -> None:
    p = plan({"field": "training.beta", "values": [0.5, 1.0]}, {"field": "training.loss", "values": ["dpo", "ipo"]})
    assert [(c.training.beta, c.training.loss) for c in p.cells] == [
        (0.5, "dpo"),
        (0.5, "ipo"),
        (1.0, "dpo"),
        (1.0, "ipo"),
    ]
    assert p.coordinates(2) == {"training.beta": 1.0, "training.loss": "dpo"}


def test_grid_log_scale_and_seeded_random_draws() -> None:
    grid = plan({"field": "training.learning_rate", "grid": {"start": 0.01, "stop": 1.0, "num": 3, "scale": "log"}})
    assert [c.training.learning_rate for c in grid.cells] == pytest.approx([0.01, 0.1, 1.0])
    draw = {"field": "behaviors.*.label_noise", "random": {"start": 0.0, "stop": 0.3, "num": 4, "seed": 7}}
    first, again = plan(draw), plan(draw)
    values = [c.behaviors[0].label_noise for c in first.cells]
    assert values == [c.behaviors[0].label_noise for c in again.cells]
    assert all(0.0 <= v <= 0.3 for v in values) and len(set(values)) == 4
    assert all(c.behaviors[0].label_noise == c.behaviors[1].label_noise for c in first.cells)


def test_weight_axis_rescales_the_other_behaviors_and_cosine_is_symmetric() -> None:
    p = plan({"field": "behaviors.a.weight", "values": [0.2, 0.9]}, {"field": "geometry.cosine.a.b", "values": [0.6]})
    for cell, w in zip(p.cells, [0.2, 0.9], strict=True):
        assert [b.weight for b in cell.behaviors] == pytest.approx([w, 1 - w])
        assert cell.cosines[0][1] == cell.cosines[1][0] == 0.6


def test_user_loss_values_with_parameters() -> None:
    loss = {"expr": "log(1 + exp(-(h - gamma)))", "params": {"gamma": 0.5}, "name": "shifted"}
    p = plan({"field": "training.loss", "values": ["dpo", loss]})
    assert p.cells[1].training.loss.name == "shifted"
    assert p.coordinates(1) == {"training.loss": "shifted"}


BAD = {
    "unknown field": ({"field": "training.nope", "values": [1]}, "axes[0].field: unknown training field 'nope'"),
    "unknown table": ({"field": "model.width", "values": [1]}, "axes[0].field: unknown field 'model.width'"),
    "unknown behaviour": ({"field": "behaviors.zz.noise", "values": [1.0]}, "axes[0].field: no behaviour 'zz'"),
    "empty axis": ({"field": "training.beta", "values": []}, "axes[0].values: must be a non-empty list"),
    "two value kinds": (
        {"field": "training.beta", "values": [1.0], "grid": {"start": 0, "stop": 1, "num": 2}},
        "axes[0]: needs exactly one of values, grid or random",
    ),
    "grid of integers": (
        {"field": "training.steps", "grid": {"start": 1, "stop": 5, "num": 2}},
        "axes[0].grid: only real-valued fields take a grid or random",
    ),
    "zero num": ({"field": "training.beta", "grid": {"start": 0.1, "stop": 1, "num": 0}}, "axes[0].grid.num"),
    "log of zero": (
        {"field": "training.beta", "grid": {"start": 0, "stop": 1, "num": 2, "scale": "log"}},
        "axes[0].grid.start: must be > 0 on a log scale",
    ),
    "failing loss expression": (
        {"field": "training.loss", "values": ["dpo", {"expr": "__import__('os')"}]},
        "axes[0].values[1]: makes an invalid scenario",
    ),
    "invalid value": ({"field": "training.beta", "values": [1.0, -1.0]}, "axes[0].values[1]: makes an invalid"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_axes_name_the_field(case: str) -> None:
    axis, message = BAD[case]
    with pytest.raises(PrefdynError) as err:
        plan(axis)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_sweep_table_fields() -> None:
    axis = {"field": "training.beta", "values": [1.0]}
    for sweep, message in (
        ({"runs": 1}, "sweep.runs: must be an integer >= 2"),
        ({"metrics": ["nope"]}, "sweep.metrics"),
        ({"bounds": ["nope"]}, "sweep.bounds"),
        ({"colour": "red"}, "sweep.colour: unknown field"),
    ):
        with pytest.raises(PrefdynError, match=message.replace(".", r"\.")):
            plan(axis, **sweep)
    with pytest.raises(PrefdynError, match="sweep.scenario: file not found"):
        parse_sweep({"sweep": {"scenario": "missing.toml"}, "axes": [axis]}, DATA)
    with pytest.raises(PrefdynError, match=r"axes\[1\]\.field: sets what axes\[0\] sets already"):
        plan(axis, axis)


CONFLICTS = {
    "two weights": ("behaviors.a.weight", "behaviors.b.weight"),
    "name and index": ("behaviors.a.noise", "behaviors.0.noise"),
    "one and all": ("behaviors.a.noise", "behaviors.*.noise"),
    "cosine both ways": ("geometry.cosine.a.b", "geometry.cosine.b.a"),
}


@pytest.mark.parametrize("case", sorted(CONFLICTS))
def test_two_axes_never_set_the_same_entry(case: str) -> None:
    first, second = CONFLICTS[case]
    with pytest.raises(PrefdynError, match=r"axes\[1\]\.field: sets what axes\[0\] sets already"):
        plan({"field": first, "values": [0.3]}, {"field": second, "values": [0.4]})


def test_axis_labels_are_distinct_and_seed_and_runs_axes_reach_the_cells() -> None:
    with pytest.raises(PrefdynError, match=r"axes\[0\]\.values: must be distinct"):
        plan({"field": "training.loss", "values": [{"expr": "h**2"}, {"expr": "(h - 1)**2"}]})
    with pytest.raises(PrefdynError, match=r"axes\[0\]\.values: must be distinct"):
        plan({"field": "training.beta", "values": [1.0, 1.0]})
    cells = plan({"field": "training.seed", "values": [0, 5]}, {"field": "training.runs", "values": [2, 3]}).cells
    assert [(c.seed, c.runs) for c in cells] == [(0, 2), (0, 3), (5, 2), (5, 3)]
    with pytest.raises(PrefdynError, match=r"axes\[0\]\.values: runs per cell must lie in \[2"):
        plan({"field": "training.runs", "values": [1, 2]})
    with pytest.raises(PrefdynError, match=r"axes\[0\]\.field: no behaviour '²'"):
        plan({"field": "behaviors.².noise", "values": [1.0]})


def test_huge_grids_are_refused_before_any_cell_is_built() -> None:
    axes = [
        {"field": f"training.{k}", "grid": {"start": 0.1, "stop": 1, "num": 1000}} for k in ("beta", "learning_rate")
    ]
    with pytest.raises(PrefdynError, match="axes: the grid has 1,000,000 cells"):
        plan(*axes)


def test_a_user_loss_parameter_is_an_axis(tmp_path: Path) -> None:
    text = (DATA / "small.toml").read_text()
    loss = 'loss = { expr = "log(1 + exp(-(h - gamma)))", params = { gamma = 0.5 }, name = "shifted" }\n'
    (tmp_path / "base.toml").write_text(text.replace("[training]\n", "[training]\n" + loss))
    doc = {
        "sweep": {"scenario": "base.toml", "runs": 2},
        "axes": [{"field": "training.loss.params.gamma", "values": [0.0, 2.0]}],
    }
    cells = parse_sweep(doc, tmp_path).cells
    assert [c.training.loss.name for c in cells] == ["shifted", "shifted"]
    assert [float(next(iter(c.training.loss.params.values()))) for c in cells] == [0.0, 2.0]
    with pytest.raises(PrefdynError, match=r"axes\[0\]\.field: the base scenario's loss has no parameter 'gamma'"):
        plan({"field": "training.loss.params.gamma", "values": [1.0]})
