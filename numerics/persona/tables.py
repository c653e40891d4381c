"""Rows of numbers as CSV or LaTeX (booktabs) tables, ready to ``\\input`` into a paper."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence

Row = Mapping[str, float | int | str]


def _cell(value: float | str, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """CSV with a header line; floats at full precision."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


_LATEX = {"\\": r"\textbackslash{}", **{c: "\\" + c for c in "&%$#_{}"}}


def _latex_escape(text: str) -> str:
    return re.sub(r"[\\&%$#_{}]", lambda m: _LATEX[m.group()], text)


def to_latex(rows: Sequence[Row], columns: Sequence[str], *, caption: str = "",
             digits: int = 3) -> str:
    """A ``booktabs`` ``tabular`` (first column left-aligned, the rest right-aligned), wrapped in
    a ``table`` with ``caption`` when given."""
    head = " & ".join(_latex_escape(c) for c in columns) + r" \\"
    body = [" & ".join(_latex_escape(_cell(r[c], digits)) for c in columns) + r" \\"
            for r in rows]
    lines = [r"\begin{tabular}{l" + "r" * (len(columns) - 1) + "}", r"\toprule", head,
             r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines = [r"\begin{table}", r"\centering", rf"\caption{{{_latex_escape(caption)}}}",
                 *lines, r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_text(rows: Sequence[Row], columns: Sequence[str], digits: int = 4) -> str:
    """A plain aligned table for the terminal."""
    cells = [list(columns)] + [[_cell(r[c], digits) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(line, widths, strict=True)))
                     for line in cells) + "\n"
