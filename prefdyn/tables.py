r"""Rows of numbers as CSV, text or LaTeX (booktabs) tables, and the one LaTeX text escape.

:func:`escape` lives here, in the shared helper layer, because every layer that writes LaTeX
needs it: the theory's printer (prose of theorems), the report (names, captions, messages), the
tables below (every cell) and the commands (``persona --out``). A module of its own would have
to join the shared layer of the import contract in ``pyproject.toml``; this one is there already
and is the first user of the escape.

:class:`LatexTable` is the one booktabs builder: a bare ``tabular``, or a ``table`` float with
caption, label and note, optionally in the report's layout (``fit``: small type, shrunk to the
line by the report's ``\PDbox``). :func:`to_latex` builds one from rows of numbers.

>>> escape("50% of a_b & {c} ~ <d>")
'50\\% of a\\_b \\& \\{c\\} \\textasciitilde{} \\textless{}d\\textgreater{}'
>>> print(to_latex([{"name": "a_b", "x": 0.5}], ["name", "x"]), end="")
\begin{tabular}{lr}
\toprule
name & x \\
\midrule
a\_b & 0.5 \\
\bottomrule
\end{tabular}
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Row = Mapping[str, float | int | str]

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def escape(text: str) -> str:
    """Text-mode LaTeX for arbitrary text (behaviour names, file names, messages).

    Parameters
    ----------
    text : str
        Any text; every character LaTeX treats specially in text mode is replaced.

    Returns
    -------
    str
        LaTeX that typesets as ``text`` in the standard (T1 or OT1) text fonts.
    """
    return "".join(_ESCAPES.get(c, c) for c in str(text))


@dataclass(frozen=True)
class LatexTable:
    r"""A booktabs table whose cells are LaTeX already.

    Parameters
    ----------
    columns : sequence of (str, str)
        ``(header, alignment)`` per column, the header in LaTeX, the alignment ``l``, ``c`` or
        ``r``.
    rows : sequence of sequence of str
        The body, one LaTeX cell per column.
    caption, label, note : str
        With any of them, the ``tabular`` is wrapped in a ``table`` float (placed ``htbp``,
        centred) with this ``\caption``, ``\label`` (the full label, ``tab:...``) and a
        footnote-size note below the table.
    fit : bool
        The report's layout: small type, and the ``tabular`` inside ``\PDbox``, which shrinks
        it to the line only when it would overflow (defined by the report's ``macros.tex``).
    """

    columns: Sequence[tuple[str, str]]
    rows: Sequence[Sequence[str]]
    caption: str = ""
    label: str = ""
    note: str = ""
    fit: bool = False

    def latex(self) -> str:
        """The ``tabular`` (or the ``table`` float holding it), newline-terminated."""
        spec = "".join(align for _, align in self.columns)
        tabular = [
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(header for header, _ in self.columns) + r" \\",
            r"\midrule",
            *(" & ".join(row) + r" \\" for row in self.rows),
            r"\bottomrule",
            r"\end{tabular}",
        ]
        if self.fit:
            tabular[0], tabular[-1] = rf"\PDbox{{{tabular[0]}", tabular[-1] + "}"
        if not (self.caption or self.label or self.note):
            return "\n".join(tabular) + "\n"
        lines = [r"\begin{table}[htbp]", r"\centering"]
        lines += [rf"\caption{{{self.caption}}}"] if self.caption else []
        lines += [rf"\label{{{self.label}}}"] if self.label else []
        lines += [r"\small"] if self.fit else []
        lines += tabular
        if self.note:
            lines += [r"\par\smallskip", rf"\parbox{{0.9\linewidth}}{{\footnotesize {self.note}}}"]
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"


def _cell(value: float | str, digits: int) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """CSV with a header line; floats at full precision."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_latex(rows: Sequence[Row], columns: Sequence[str], *, caption: str = "", digits: int = 3) -> str:
    """A booktabs ``tabular`` of ``rows`` (first column left-aligned, the rest right-aligned;
    floats with ``digits`` significant digits; every header and cell escaped), wrapped in a
    ``table`` float with the plain-text ``caption`` when given (:class:`LatexTable`)."""
    aligned = [(escape(c), "l" if i == 0 else "r") for i, c in enumerate(columns)]
    body = [[escape(_cell(r[c], digits)) for c in columns] for r in rows]
    return LatexTable(aligned, body, caption=escape(caption)).latex()


def to_text(
    rows: Sequence[Row], columns: Sequence[str], digits: int = 4, censored: Mapping[str, int] | None = None
) -> str:
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

    heads = [f"{c} [95% CI]" if rows and f"{c}_lo" in rows[0] and f"{c}_hi" in rows[0] else c for c in columns]
    cells = [heads] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return (
        "\n".join(
            "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(line, widths, strict=True)))
            for line in cells
        )
        + "\n"
    )
