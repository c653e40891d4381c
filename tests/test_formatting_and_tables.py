"""Figures and tables a referee reads: a tie scores 1/2 everywhere (simulator, theory, predict),
every comparison names its split (population theory against held-out data), and one number
policy for text (significant digits, ``< resolution``, censored counts, confidence intervals)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prefdyn.cli import main
from prefdyn.formatting import count_text, p_value_text, plus_minus, sig, with_interval
from prefdyn.numerics import default_scenario, sample_scenario, simulate
from prefdyn.numerics.metrics import tie_half_indicator
from prefdyn.numerics.population import GaussianMixture, gaussian_accuracy, population_gd
from prefdyn.tables import to_text


@pytest.fixture()
def tiny() -> str:
    """The shared tiny scenario file (two behaviours, 12 steps, 2 runs)."""
    return str(Path(__file__).resolve().parent / "data" / "tiny.toml")


def test_tie_counts_one_half() -> None:
    assert tie_half_indicator(torch.tensor([-2.0, -0.0, 0.0, 1e-30])).tolist() == [0.0, 0.5, 0.5, 1.0]


def test_simulated_accuracy_before_training_is_one_half() -> None:
    """At step 0 every margin is exactly 0 (W = W_ref = 0): a tie on every sample, so both
    accuracies are exactly 1/2 on both splits -- not 0, which plotted a fake dip at step 0."""
    sc = default_scenario()
    result = simulate(sample_scenario(sc, runs=2, seed=0), sc.training, seed=0, record_every=0)
    for metric in ("reward_accuracy", "policy_accuracy"):
        for split in ("train", "test"):
            assert torch.all(result.curve(metric, split)[:, 0] == 0.5), (metric, split)
    assert torch.all(result.curve("accuracy")[:, -1] > 0.5)  # and then it learns


def test_theory_scores_a_point_mass_tie_one_half() -> None:
    """A zero-variance projection is a point mass: a tie (m = 0) scores 1/2, m > 0 scores 1."""
    mix = GaussianMixture.isotropic([0.5, 0.5], [3.0, 1.0], 1.0, dim=4)
    assert gaussian_accuracy(mix, torch.zeros(4, dtype=torch.float64)).tolist() == [0.5, 0.5]
    exact = GaussianMixture.isotropic([1.0], [3.0], 0.0, dim=2)  # no noise: Delta^T Sigma Delta = 0
    assert gaussian_accuracy(exact, torch.tensor([1.0, 0.0], dtype=torch.float64)).tolist() == [1.0]
    assert gaussian_accuracy(exact, torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist() == [0.5]
    traj = population_gd(mix, "dpo", beta=1.0, learning_rate=1.0, steps=2)
    assert traj.accuracy[0].tolist() == [[0.5, 0.5]] and bool(torch.all(traj.accuracy[1:] > 0.5))


def test_predict_and_simulate_agree_at_step_zero(tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", tiny, "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert predicted["compare_with_split"] == "test"
    assert main(["simulate", tiny, "--json", "--device", "cpu"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert simulated["top_level_split"] == "train"
    for p, s in zip(predicted["behaviors"], simulated["behaviors"], strict=True):
        for metric in ("accuracy", "reward_accuracy", "policy_accuracy"):
            assert p[metric]["mean"][0] == s[metric]["mean"][0] == s["test"][metric]["mean"][0] == 0.5


def test_simulate_table_names_its_splits(tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", tiny, "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "training split, final step:" in text
    assert "test split (held-out; compare with `prefdyn predict`), final step:" in text
    assert "a tie counts 1/2" in text
    assert " ± " in text and "0.0000" not in text


def test_predict_table_says_it_is_the_population_limit(tiny: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", tiny]) == 0
    text = capsys.readouterr().out
    assert "population limit" in text and "held-out (test) split" in text
    assert "0.5 " in text.splitlines()[3]  # pol.acc(0) of the first behaviour: a tie


def test_report_compares_the_theory_with_the_test_split() -> None:
    """The report's theory-vs-simulation figure and table use held-out data when there is any,
    and say so; without a test split they say why the comparison is skewed."""
    from prefdyn.reporting import document, tables

    sc = default_scenario()
    summary = simulate(sample_scenario(sc, runs=2, seed=0), sc.training, seed=0, record_every=0).summary()
    parts = document.Parts(sc, 2, simulation=summary)
    assert parts.theory_split == "test"
    text = "\n".join(document._section_simulation(parts))
    assert "held-out (test-split) samples" in text and "(test split)" in text
    assert r"counts $\frac{1}{2}$" in text
    theory = {
        "behaviors": [
            {"name": b["name"], "accuracy": {"mean": [0.6]}, "margin": {"mean": [0.1]}} for b in summary["behaviors"]
        ]
    }
    table = tables.simulation_table(summary, theory, 2).latex()
    assert "accuracy (test)" in table and "margin $h$ (test)" in table and "population limit" in table
    train_only = {**summary, "behaviors": [{k: v for k, v in b.items() if k != "test"} for b in summary["behaviors"]]}
    assert document.Parts(sc, 2, simulation=train_only).theory_split == "train"
    assert "no test split" in tables.simulation_table(train_only, theory, 2).latex()


def test_one_number_policy() -> None:
    assert sig(0.0000123456) == "1.235e-05" and sig(0.5) == "0.5" and sig(7) == "7"
    assert sig(3e-9, resolution=6e-8) == "< 6e-08" and sig(0.0, resolution=1e-7) == "< 1e-07"
    assert sig(float("nan")) == "n/a" and sig(None) == "n/a"
    assert plus_minus(0.87891, 0.010013) == "0.879 ± 0.010"
    assert plus_minus(0.0002742, 0.01822) == "3e-04 ± 0.018"  # never rounded to 0.000
    assert count_text(101, 100) == ">100" and count_text(100, 100) == "100"
    assert with_interval(1.5, 1.25, 1.75) == "1.5 [1.25, 1.75]"
    assert p_value_text(0.0123) == "0.012" and p_value_text(1 / 10001, 1 / 10001) == "< 1.0e-04"


def test_text_tables_show_intervals_and_censoring() -> None:
    rows = [
        {
            "name": "a",
            "distinguishability": 1.23456,
            "distinguishability_lo": 1.1,
            "distinguishability_hi": 1.4,
            "steps_to_threshold": 101,
        },
        {
            "name": "b",
            "distinguishability": 0.5,
            "distinguishability_lo": 0.25,
            "distinguishability_hi": 0.75,
            "steps_to_threshold": 7,
        },
    ]
    text = to_text(rows, ("name", "distinguishability", "steps_to_threshold"), censored={"steps_to_threshold": 100})
    assert "distinguishability [95% CI]" in text
    assert "1.235 [1.1, 1.4]" in text and "0.5 [0.25, 0.75]" in text
    assert ">100" in text and " 101" not in text and text.rstrip().endswith("7")


def test_theory_lines_are_drawn_against_the_test_split() -> None:
    """The population theory has no split: its dashed lines appear on the held-out panels."""
    import matplotlib.pyplot as plt

    from prefdyn.numerics.plotting import Panel, theory_vs_simulation

    sc = default_scenario()
    summary = simulate(sample_scenario(sc, runs=2, seed=0), sc.training, seed=0, record_every=50).summary()
    theory = {
        "steps": summary["steps"],
        "behaviors": [
            {
                "name": b["name"],
                "accuracy": {"mean": [0.5, 0.6, 0.7], "std": [0.0] * 3},
                "margin": {"mean": [0.0, 0.1, 0.2], "std": [0.0] * 3},
            }
            for b in summary["behaviors"]
        ],
    }
    panels = [Panel("accuracy", "test"), Panel("margin", "test")]
    fig = theory_vs_simulation(summary, theory, panels, 2)
    for ax in fig.axes[:2]:
        assert sum(line.get_linestyle() == "--" for line in ax.lines) == len(summary["behaviors"])
        assert "(test split" in ax.get_ylabel()
    assert fig.axes[0].get_ylabel() == "policy accuracy (test split; tie = 1/2)"
    plt.close(fig)


def test_a_count_that_never_happened_is_censored() -> None:
    """steps-to-flip = 101 of 100 flipped steps means "never": printed >100, flagged in JSON."""
    from prefdyn.cli.persona import _misalign_json, _misalign_text
    from prefdyn.studies.experiments import Misalignment

    m = Misalignment(1, 101, 0.5, 0.75, 0.8, [0.5] * 101, [0.8] * 101, flip_steps=100)
    text = _misalign_text(m)
    assert "from reference 1, from aligned >100 of 100 flipped steps" in text and "101" not in text
    assert _misalign_json(m)["steps_to_flip_censored"] == {"from_reference": False, "from_aligned": True}


def test_every_figure_follows_the_shared_style(tmp_path: Path) -> None:
    """The report's and the persona study's figures draw in :func:`prefdyn.numerics.plotting.style`
    (one palette, one set of rc settings) and save byte-identical files for the same data."""
    import matplotlib.pyplot as plt

    from prefdyn.numerics.plotting import style
    from prefdyn.studies.figures import plot_persona_curves

    with style(8):
        assert plt.rcParams["font.size"] == 8 and plt.rcParams["legend.fontsize"] == 7
        assert not plt.rcParams["axes.spines.top"] and plt.rcParams["pdf.fonttype"] == 42
    corr = {
        "rho": -0.5,
        "n": 3,
        "ci": {"low": -0.9, "high": 0.2},
        "p_value": 1 / 3,
        "p_resolution": 1 / 3,
        "method": "exact",
    }
    rows = [
        {
            "name": f"b{k}",
            "distinguishability": 1.0 + k,
            "observed_speed": {"mean_loss_decrease": 0.1 * k},
            "predicted_speed": {"mean_loss_decrease": 0.12 * k},
            "observed_loss": [0.69, 0.6 - 0.1 * k, 0.5],
            "predicted_loss": [0.69, 0.61, 0.52 + 0.1 * k],
            "observed_accuracy": [0.5, 0.6, 0.7],
            "predicted_accuracy": [0.5, 0.62, 0.71],
        }
        for k in range(3)
    ]
    doc = {
        "mode": "joint",
        "behaviors": rows,
        "rho_predicted_observed_speed": corr,
        "rho_distinguishability_observed_speed": corr,
        "settings": {"loss": "dpo", "beta": 0.1, "learning_rate": 1.0, "batch_size": 0},
        "harmed": {"observed": ["b2"], "predicted": ["b2"], "precision": 1.0, "recall": 1.0},
    }
    first = plot_persona_curves(doc, tmp_path / "a")
    second = plot_persona_curves(doc, tmp_path / "b")
    assert [p.name for p in first] == [
        "predict-curves.pdf",
        "predict-curves.png",
        "predict-speed.pdf",
        "predict-speed.png",
        "predict-harm.pdf",
        "predict-harm.png",
    ]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
