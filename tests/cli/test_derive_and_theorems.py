"""The theory commands, run as a user runs them (a subprocess per call)."""

import json
import subprocess
import sys

import pytest


def prefdyn(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "prefdyn.cli", *args], capture_output=True, text=True, timeout=600, check=False
    )


def test_theorems_json_lists_foundation_verified():
    result = prefdyn("theorems", "dpo-gradient", "--json", "--no-cache")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    by_id = {row["id"]: row for row in doc["theorems"]}
    assert [row["id"] for row in doc["theorems"]] == ["dpo-gradient"]
    for theorem_id in ("dpo-gradient",):
        assert by_id[theorem_id]["passed"]
        assert by_id[theorem_id]["verified_steps"] == by_id[theorem_id]["steps"] > 0


def test_derive_json_contract():
    result = prefdyn("derive", "update-rate", "--loss", "ipo", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"id", "title", "loss", "assumptions", "statement_latex", "statement_sympy", "steps"} <= set(doc)
    assert doc["loss"] == "ipo" and doc["steps"]
    assert all({"latex", "verified", "method"} <= set(s) for s in doc["steps"])
    assert all(s["verified"] for s in doc["steps"])


def test_ipo_and_dpo_differ_by_the_loss_coefficient():
    """The first-step statement is -eta*beta*phi'(0)*X; the ratio of the two statements is
    exactly phi'_ipo(0)/phi'_dpo(0) = (1/beta^2)/(1/2)."""
    import sympy as sp

    from prefdyn.theory.catalogue import get_theorem
    from prefdyn.theory.symbols import beta

    dpo = get_theorem("update-rate", "dpo").statement.rhs
    ipo = get_theorem("update-rate", "ipo").statement.rhs
    assert sp.simplify(ipo / dpo - 2 / beta**2) == 0
    a = prefdyn("derive", "update-rate", "--loss", "ipo", "--latex").stdout
    b = prefdyn("derive", "update-rate", "--loss", "dpo", "--latex").stdout
    assert a != b and a.count(r"\begin{theorem}") == b.count(r"\begin{theorem}") == 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("derive", "no-such-theorem"), "unknown theorem id 'no-such-theorem'"),
        (("derive", "dpo-gradient", "--loss", "nope"), "unknown loss 'nope'"),
        (("derive", "dpo-gradient", "--loss-expr", "log(1+"), "cannot parse 'log(1+'"),
        (("theorems", "--loss-expr", "h + zz"), "unknown symbol(s) zz"),
        (("derive", "update-rate", "--loss-expr", "1/h"), "phi(0) = zoo"),
        (("derive", "update-rate", "--loss-expr", "sqrt(h - 1)"), "must be finite and real"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, fragment):
    result = prefdyn(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_derive_text_output_is_readable_unicode() -> None:
    """Plain-text ``derive`` prints Unicode, never raw LaTeX or SymPy's mangled names."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "prefdyn", "derive", "dpo-gradient", "--loss", "cdpo"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "\\" not in run.stdout and "__" not in run.stdout and "indicator" not in run.stdout
    assert "∂" in run.stdout and "β" in run.stdout and "1[i = y_w]" in run.stdout


def test_user_loss_parameters_from_the_command_line():
    result = prefdyn(
        "derive", "dpo-gradient", "--loss-expr", "log(1 + exp(-(h - gamma)))", "--param", "gamma=0.5", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert r"\gamma" in json.loads(result.stdout)["loss_latex"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss-expr", "h**2 - gamma*h", "--param", "gamma=x"], "param: 'gamma=x': VALUE must be a number"),
        (["--loss-expr", "h**2 - gamma*h", "--param", "gamma=inf"], "VALUE must be finite"),
        (["--loss-expr", "h**2 - gamma*h", "--param", "1a=2"], "NAME an identifier"),
        (["--loss", "ipo", "--param", "gamma=1"], "a registered --loss takes none"),
        (
            ["--loss-expr", "h**2 - gamma*h", "--param", "gamma=1", "--param", "delta=2"],
            "param.delta: unknown parameter: loss-expr does not use it",
        ),
        (["--loss-expr", "h**2", "--param", "h=1"], "param: 'h' must be an identifier other than h and beta"),
        (["--loss-expr", "h**2 - gamma*h"], "unknown symbol(s) gamma"),
    ],
)
def test_bad_loss_parameters_are_one_line_errors(args, message):
    result = prefdyn("derive", "dpo-gradient", *args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
