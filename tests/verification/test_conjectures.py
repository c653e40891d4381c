"""Conjectures: the three shipped false ones give runnable shrunk counterexamples; a true one
passes; bad files exit 2 naming the problem."""

import json
import subprocess
import sys
from importlib import resources

import pytest
import sympy as sp
from hypothesis import find

import prefdyn
from prefdyn.cli import main
from prefdyn.numerics import load_scenario
from prefdyn.theory.losses import Loss
from prefdyn.verification import check_conjecture, load_conjecture
from prefdyn.verification.conjectures import parse_statement

FALSE = ["flipped-step-equals-alignment-step", "one-step-accuracy", "subexponential-exponent-doubled"]


def shipped(name):
    return resources.files("prefdyn.verification").joinpath("conjectures", f"{name}.toml")


@pytest.mark.parametrize("name", FALSE)
def test_false_conjecture_gives_runnable_counterexample(name, seed, tmp_path):
    report = check_conjecture(load_conjecture(shipped(name)), examples=100, seed=seed, out=tmp_path)
    assert not report.passed and report.max_violation > 0
    assert "observed" in report.detail and "claimed" in report.detail
    run = subprocess.run(
        [sys.executable, "-m", "prefdyn", "simulate", report.counterexample, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(run.stdout)["behaviors"]


def test_true_bound_survives(seed, tmp_path):
    """The same bound with the correct exponent (alpha = 2) is not refuted."""
    text = shipped("subexponential-exponent-doubled").read_text().replace(")))**4", ")))**2")
    text = text.replace('name = "subexponential-exponent-doubled"', 'name = "subexponential"')
    path = tmp_path / "true.toml"
    path.write_text(text)
    report = check_conjecture(load_conjecture(path), examples=40, seed=seed, out=tmp_path)
    assert report.passed, report.detail


def test_cli_json_reports_counterexample(tmp_path, capsys):
    code = main(
        [
            "verify",
            "--conjecture",
            str(shipped("one-step-accuracy")),
            "--examples",
            "20",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert set(result) >= {"examples", "passed", "max_violation", "tightness", "counterexample"}
    assert result["passed"] is False and result["counterexample"].startswith(str(tmp_path))


@pytest.mark.parametrize(
    "statement, problem",
    [
        ("accuracy[0, 1] >= colour", "unknown observable or parameter 'colour'"),
        ("accracy[0, 1] >= 0.5", "unknown observable or parameter 'accracy'"),
        ("accuracy[0, 1] >= (", "cannot parse"),
        ("accuracy[0, 1] + 1", "must be a relation"),
        ("accuracy[1, 1] >= 0.5", "needs behaviors >= 2 but restrict.behaviors = 1"),
        ("accuracy[0, 9] >= 0.5", "needs steps >= 9 but restrict.steps = 2"),
        ("accuracy[0] >= 0.5", "accuracy takes 2 index(es)"),
        ("frobnicate(beta) >= 0", "unknown observable or parameter 'frobnicate'"),
    ],
)
def test_bad_conjecture_exits_2(statement, problem, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "bad"\nstatement = "{statement}"\n[restrict]\nbehaviors = 1\nsteps = 2\n')
    assert main(["verify", "--conjecture", str(path)]) == 2
    err = capsys.readouterr().err
    assert problem in err and len(err.strip().splitlines()) == 1


def test_unknown_restriction_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\nstatement = "accuracy[0, 1] >= 0"\n[restrict]\ncolour = "red"\n')
    assert main(["verify", "--conjecture", str(path)]) == 2
    assert "restrict.colour: unknown field" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body, problem",
    [
        ('[restrict]\nsteps = "x"', "restrict.steps: must be an integer > 0"),
        ('[restrict]\nbeta = {min = "a", max = 1}', "restrict.beta: min and max must be numbers"),
        ("[restrict]\nphases = 3", "restrict.phases: must be an array of phase tables"),
        ("[restrict]\nphases = [1]", "restrict.phases: must be an array of phase tables"),
        ("[restrict]\nloss = { params = { gamma = 0.5 } }", "restrict.loss.expr: is required"),
        (
            '[restrict]\nloss = { expr = "(h - gamma)**2", params = { gamma = "x" } }',
            "restrict.loss.params.gamma: must be a number",
        ),
        ('[restrict]\nloss = ["dpo", "nope"]', "restrict.loss[1]: unknown loss 'nope'"),
        ("[restrict]\nloss = []", "restrict.loss: an array of choices must not be empty"),
        ('name = ""', "name: must be a non-empty string"),  # free text otherwise (test_conjecture_tolerance)
        ('name = "two\\nlines"', "name: must be one line of printable text"),
    ],
)
def test_badly_typed_restrictions_exit_2(body, problem, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    name, rest = (body, "") if body.startswith("name") else ('name = "bad"', body)
    path.write_text(f'{name}\nstatement = "accuracy[0, 1] >= 0"\n{rest}\n')
    assert main(["verify", "--conjecture", str(path)]) == 2
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err


def test_exponent_literals_are_numbers_not_names():
    relation = parse_statement("accuracy[0, 1] >= 1e-3 + 2.5E+1*beta")
    # decimals are exact rationals (the whitelisting parser: theory/expressions.py)
    assert relation.rhs.has(sp.Symbol("beta")) and relation.rhs.subs(sp.Symbol("beta"), 0) == sp.Rational(1, 1000)
    assert relation.rhs.coeff(sp.Symbol("beta")) == 25


def test_missing_index_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\nstatement = "accuracy >= 0"\n')
    assert main(["verify", "--conjecture", str(path)]) == 2
    assert "accuracy needs an index" in capsys.readouterr().err


SHIFTED = "log(1 + exp(-(h - gamma)))"
USER_LOSS = f"""
name = "a user loss lowers the margin"
statement = "margin[0, 1] <= 0"
[restrict]
loss = {{ expr = "{SHIFTED}", params = {{ gamma = 0.5 }} }}
optimizer = "sgd"
batch_size = 0
steps = 1
distinguishability = 2.0
"""


def test_a_conjecture_with_a_user_loss_parses_and_checks(seed, tmp_path):
    """phi'(0) = -sigmoid(gamma) < 0, so one full-batch step raises the training margin: refuted,
    and the counterexample file holds the user loss."""
    path = tmp_path / "user.toml"
    path.write_text(USER_LOSS)
    conjecture = load_conjecture(path)
    report = check_conjecture(conjecture, examples=10, seed=seed, out=tmp_path)
    assert not report.passed and report.max_violation > 0
    assert load_scenario(report.counterexample).training.loss == prefdyn.loss(SHIFTED, gamma=0.5)


def test_a_conjecture_chooses_among_registered_and_user_losses(tmp_path):
    path = tmp_path / "choice.toml"
    path.write_text(USER_LOSS.replace("loss = {", 'loss = ["ipo", {').replace("} }", "} }]"))
    strategy = load_conjecture(path).scenarios
    assert find(strategy, lambda s: s.training.loss == "ipo").training.loss == "ipo"
    user = find(strategy, lambda s: isinstance(s.training.loss, Loss)).training.loss
    assert user == prefdyn.loss(SHIFTED, gamma=0.5)
