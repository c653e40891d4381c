"""Unit tests of the report's LaTeX primitives, the one escape and table builder, and theorem
gathering (no simulation)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefdyn.reporting import sources
from prefdyn.reporting.latex import message, number
from prefdyn.tables import LatexTable, escape, to_latex
from prefdyn.theory.printing import text

#: Names a user may give a behaviour, a scenario or a file: every character LaTeX treats
#: specially, doubled, at the ends, and next to what it escapes to.
HOSTILE = [
    "a_b & 50% #1 $x$ {y} ~^\\ <>",
    "\\textbf{x}",
    "}{",
    "\\\\",
    "^^M",
    "~~",
    "%comment",
    "#1#2",
    "\\\\&\\%",
    "x\\",
    "\\",
    "$$",
    "a&&b",
    "_{}_",
    "<<>>",
]

#: What :func:`escape` writes for each special character (the test's own inverse).
_TOKEN = re.compile(
    r"\\textbackslash\{\}|\\textasciitilde\{\}|\\textasciicircum\{\}|"
    r"\\textless\{\}|\\textgreater\{\}|\\[&%$#_{}]|[^\\&%$#_{}~^<>]"
)
_CHAR = {
    r"\textbackslash{}": "\\",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\textless{}": "<",
    r"\textgreater{}": ">",
}


def _unescape(latex: str) -> str:
    """The text ``latex`` typesets, reading it as a sequence of :func:`escape`'s tokens only
    (a bare special character matches no token and fails the test)."""
    tokens = _TOKEN.findall(latex)
    assert "".join(tokens) == latex, f"not a sequence of escaped characters: {latex!r}"
    return "".join(_CHAR.get(t, t[-1] if t.startswith("\\") else t) for t in tokens)


def test_escape_covers_every_special_character() -> None:
    assert escape("a_b & 50% #1 $x$ {y} ~^\\ <>") == (
        r"a\_b \& 50\% \#1 \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{} "
        r"\textless{}\textgreater{}"
    )


@given(st.text() | st.sampled_from(HOSTILE))
def test_escape_round_trips_any_text(name: str) -> None:
    assert _unescape(escape(name)) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_escape_round_trips_hostile_names(name: str) -> None:
    assert _unescape(escape(name)) == name


def test_everyone_uses_the_one_escape() -> None:
    """The table builder, the report's messages and the theory's prose escape alike."""
    for name in HOSTILE:
        cell = to_latex([{"n": name}], ["n"]).splitlines()[4]
        assert cell == escape(name) + r" \\"
        assert message(name.replace("`", "")) == escape(name.replace("`", ""))
    assert text("a_b & 50% #1 ^") == escape("a_b & 50% #1 ^")


def test_message_turns_backtick_spans_into_typewriter() -> None:
    assert message("pass `--persona PATH` > now") == r"pass \texttt{--persona PATH} \textgreater{} now"
    assert message("odd ` backtick_") == r"odd ` backtick\_"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (2.0, "2"),
        (0.25, "0.25"),
        (0.123456, "0.123"),
        (1.5e-7, r"1.5\times 10^{-7}"),
        (float("nan"), r"\text{n/a}"),
    ],
)
def test_number_formats_for_math_mode(value: float, text: str) -> None:
    assert number(value) == text


def test_prose_escapes_only_bare_specials() -> None:
    assert text(r"50% and 5\% & $a_b$ R^2 L_2") == r"50\% and 5\% \& $a_b$ R\textasciicircum{}2 L\_2"
    assert text(r"\[ \begin{cases} a & b \end{cases} \]") == r"\[ \begin{cases} a & b \end{cases} \]"


def test_table_is_booktabs_and_aligned() -> None:
    table = LatexTable(
        [("a", "l"), ("b", "r")], [["x", "1"], ["y", "2"]], caption="Caption.", label="tab:t", note="Note.", fit=True
    )
    text = table.latex()
    assert text.count(r"\toprule") == text.count(r"\midrule") == text.count(r"\bottomrule") == 1
    assert r"\PDbox{\begin{tabular}{lr}" in text and r"\end{tabular}}" in text
    assert r"\label{tab:t}" in text and r"\small" in text and "Note." in text
    body = [ln for ln in text.splitlines() if ln.endswith(r"\\")]
    assert all(ln.count("&") == 1 for ln in body)


def test_table_layout_settings() -> None:
    """Without caption, label or note: a bare ``tabular``; ``fit`` only in the report's layout."""
    bare = LatexTable([("a", "l")], [["x"]]).latex()
    assert bare.startswith(r"\begin{tabular}{l}") and bare.endswith("\\end{tabular}\n")
    plain = LatexTable([("a", "l")], [["x"]], caption="C").latex()
    assert r"\begin{table}[htbp]" in plain and r"\caption{C}" in plain
    assert r"\PDbox" not in plain and r"\small" not in plain and r"\label" not in plain


def test_to_latex_escapes_and_formats() -> None:
    tex = to_latex(
        [{"name": "a_b", "x_1": 0.123456}, {"name": "c&d", "x_1": 2.0}], ["name", "x_1"], caption="persona 50%"
    )
    for part in (
        r"\begin{tabular}{lr}",
        r"name & x\_1 \\",
        r"a\_b & 0.123 \\",
        r"c\&d & 2 \\",
        r"\caption{persona 50\%}",
    ):
        assert part in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_hostile_names_compile(tmp_path: Path) -> None:
    """Every hostile name, escaped, typesets in a table, a caption and the report's messages."""
    rows = [{"name": name, "value": float(k)} for k, name in enumerate(HOSTILE)]
    body = to_latex(rows, ["name", "value"], caption=" ".join(HOSTILE))
    body += "".join(message(f"skip `{name}` {name}") + "\n\n" for name in HOSTILE if "`" not in name)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + body + "\\end{document}\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_a_theorem_that_fails_to_build_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(theorem_id: str, loss: str) -> None:
        raise ValueError(f"claim {theorem_id!r}: the first step needs an lhs")

    monkeypatch.setattr(sources, "get_theorem", broken)
    built, skipped = sources.theorems("dpo", ["dpo-gradient"])
    assert built == []
    assert skipped == {"dpo-gradient": "ValueError: claim 'dpo-gradient': the first step needs an lhs"}


def test_a_bug_in_a_theorem_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the errors the theory layer documents become a skip; anything else stops the report."""

    def buggy(theorem_id: str, loss: str) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(sources, "get_theorem", buggy)
    with pytest.raises(ZeroDivisionError):
        sources.theorems("dpo", ["dpo-gradient"])


def test_an_unknown_loss_skips_every_theorem_with_the_reason() -> None:
    built, skipped = sources.theorems("no-such-loss", ["dpo-gradient"])
    assert built == [] and skipped["dpo-gradient"].startswith("PrefdynError: ")


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
