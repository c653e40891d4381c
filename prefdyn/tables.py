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


def to_text(rows: Sequence[Row], columns: Sequence[str], digits: int = 4,
            censored: Mapping[str, int] | None = None) -> str:
    """A plain aligned table for the terminal, in the number policy of
    :mod:`prefdyn.formatting`: floats with ``digits`` significant digits; a column ``c`` whose
    rows also carry ``c_lo`` and ``c_hi`` (a confidence interval, as in the JSON) prints as
    ``value [lo, hi]``; a count column named in ``censored`` (``{column: limit}``) prints a
    value above ``limit`` -- an event that never happened within ``limit`` steps -- as
    ``>limit``."""
    from prefdyn.formatting import count_text, sig, with_interval

    def cell(row: Row, c: str) -> str:
        value = row[c]
        if censored and c in censored and isinstance(value, int):
            return count_text(value, censored[c])
        if isinstance(value, float) and f"{c}_lo" in row and f"{c}_hi" in row:
            return with_interval(value, float(row[f"{c}_lo"]), float(row[f"{c}_hi"]), digits)
        return sig(value, digits) if isinstance(value, float) else str(value)

    heads = [f"{c} [95% CI]" if rows and f"{c}_lo" in rows[0] and f"{c}_hi" in rows[0] else c
             for c in columns]
    cells = [heads] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(line, widths, strict=True)))
                     for line in cells) + "\n"
