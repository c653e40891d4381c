"""A bound that holds but says nothing (a negative lower bound on an accuracy) still passes,
but `prefdyn verify` (text and JSON) and the report's verification table say how often each
bound was informative, and the tightness is taken over informative values only (no more
"bound/observed median -1.68")."""

from __future__ import annotations

import json
import math

import torch

from prefdyn.verification.outcome import Comparison, Outcome, natural_range
from prefdyn.verification.runner import SearchResult, summarise


def _example(bound: list[float], observed: list[float]) -> Outcome:
    return Outcome([Comparison("held-out accuracy_b", torch.tensor(observed), torch.tensor(bound), ">=", 0.01)])


def _search() -> SearchResult:
    # 4 examples x 2 behaviours: the bound is negative (vacuous) on 5 of the 8 values
    return SearchResult(
        outcomes=[
            _example([-1.7, 0.4], [0.6, 0.8]),
            _example([-2.0, -0.3], [0.55, 0.7]),
            _example([0.5, 0.2], [0.9, 0.8]),
            _example([-0.1, -1.2], [0.5, 0.6]),
        ]
    )


def test_natural_ranges() -> None:
    assert natural_range("held-out accuracy_b") == (0.0, 1.0)
    assert natural_range("||W_t - W_ref||_op") == (0.0, math.inf)
    assert natural_range("L(t+1) - L(t)") == (-math.inf, math.inf)


def test_informative_values_and_tightness() -> None:
    report = summarise("accuracy-subexponential", "bound", _search(), None)
    assert report.passed
    (bound,) = report.informative
    assert bound["values"] == {"informative": 3, "total": 8, "fraction": 3 / 8}
    assert bound["examples"] == {"informative": 1, "total": 4, "fraction": 0.25}
    assert bound["rule"] == "bound > 0"
    assert report.informative_fraction == 3 / 8
    assert report.tightness is not None and report.tightness["min"] > 0  # no negative ratio
    assert report.tightness["min"] == 0.2 / 0.8 and report.tightness["median"] == 0.5
    document = json.loads(json.dumps(report.as_dict()))
    assert document["informative"][0]["values"]["fraction"] == 0.375


def test_vacuous_everywhere_has_no_tightness() -> None:
    found = SearchResult(outcomes=[_example([-1.0], [0.5]), _example([-0.5], [0.7])])
    report = summarise("accuracy-subexponential", "bound", found, None)
    assert report.passed and report.tightness is None
    assert report.informative[0]["values"]["fraction"] == 0.0


def test_upper_bound_on_a_probability_is_informative_below_one() -> None:
    comparison = Comparison("accuracy", torch.tensor([0.5, 0.5]), torch.tensor([0.9, 1.3]), "<=")
    assert comparison.informative().tolist() == [True, False]


def test_verify_line_reports_the_share() -> None:
    from prefdyn.cli.verify import _line

    line = _line(summarise("accuracy-subexponential", "bound", _search(), None))
    assert line.startswith("PASS accuracy-subexponential (bound)")
    assert "informative [bound > 0] in 38% of values, 1/4 examples" in line
    assert "bound/observed over informative values: min 0.25 median 0.5" in line
    assert "-1." not in line


def test_report_table_has_an_informative_column() -> None:
    from prefdyn.reporting import tables

    report = summarise("accuracy-subexponential", "bound", _search(), None)
    identity = summarise("dpo-gradient", "identity", SearchResult(outcomes=[Outcome([])]), None)
    assert tables.informative_share(report) == 3 / 8 and tables.informative_share(identity) is None
    latex = tables.verification_table([report, identity]).latex()
    assert "informative" in latex and r"$38\%$" in latex
