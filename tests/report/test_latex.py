"""Unit tests of the report's LaTeX primitives and theorem gathering (no simulation)."""

from __future__ import annotations

import pytest

from prefdyn.theory.printing import text
from prefdyn.report import sources
from prefdyn.report.latex import Table, escape, message, number


def test_escape_covers_every_special_character() -> None:
    assert escape("a_b & 50% #1 $x$ {y} ~^\\ <>") == (
        r"a\_b \& 50\% \#1 \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{} "
        r"\textless{}\textgreater{}"
    )


def test_message_turns_backtick_spans_into_typewriter() -> None:
    assert message("pass `--persona PATH` > now") == r"pass \texttt{--persona PATH} \textgreater{} now"
    assert message("odd ` backtick_") == r"odd ` backtick\_"


@pytest.mark.parametrize(("value", "text"), [
    (3, "3"), (2.0, "2"), (0.25, "0.25"), (0.123456, "0.123"),
    (1.5e-7, r"1.5\times 10^{-7}"), (float("nan"), r"\text{n/a}"),
])
def test_number_formats_for_math_mode(value: float, text: str) -> None:
    assert number(value) == text


def test_prose_escapes_only_bare_specials() -> None:
    assert text(r"50% and 5\% & $a_b$ R^2 L_2") == r"50\% and 5\% \& $a_b$ R\textasciicircum{}2 L\_2"
    assert text(r"\[ \begin{cases} a & b \end{cases} \]") == r"\[ \begin{cases} a & b \end{cases} \]"


def test_table_is_booktabs_and_aligned() -> None:
    table = Table("t", "Caption.", [("a", "l"), ("b", "r")], [["x", "1"], ["y", "2"]], "Note.")
    text = table.latex()
    assert text.count(r"\toprule") == text.count(r"\midrule") == text.count(r"\bottomrule") == 1
    assert r"\begin{tabular}{lr}" in text and r"\label{tab:t}" in text
    body = [ln for ln in text.splitlines() if ln.endswith(r"\\")]
    assert all(ln.count("&") == 1 for ln in body)


def test_a_theorem_that_fails_to_build_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(theorem_id: str, loss: str) -> None:
        raise RuntimeError(f"{theorem_id} is being rewritten")

    monkeypatch.setattr(sources, "get_theorem", broken)
    built, skipped = sources.theorems("dpo", ["dpo-gradient"])
    assert built == [] and skipped == {"dpo-gradient": "RuntimeError: dpo-gradient is being rewritten"}


def test_unknown_theorem_id_is_a_user_error() -> None:
    from prefdyn.errors import PrefdynError

    with pytest.raises(PrefdynError, match="--theorem: unknown theorem id 'nope'"):
        sources.check_theorem_ids(["dpo-gradient", "nope"])


def test_benchmarks_are_flattened_and_missing_ones_skipped(tmp_path) -> None:
    with pytest.raises(sources.Skip, match="no benchmark results"):
        sources.benchmarks(None)
    path = tmp_path / "bench.json"
    path.write_text('{"ratio": 20.5, "sweep": {"TFLOP_per_s": 0.04}}')
    assert sources.benchmarks(path) == {"ratio": 20.5, "sweep.TFLOP_per_s": 0.04}
