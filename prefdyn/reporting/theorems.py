r"""Theorem blocks for the report's page: the theory layer's one printer in its ``"page"`` layout.

:func:`prefdyn.theory.printing.theorem_latex` writes the statement, the where clause, the
provenance and the derivation (each step on its own line, its justification in a footnote-size
paragraph, wide expressions shrunk by ``\\PDfit``); this module adds the verdict of the property
checked against simulation. Labels are the printer's (``thm:<id>:<loss>``,
``eq:<id>:<loss>:<claim>``), the same as ``prefdyn derive --latex``.
"""

from __future__ import annotations

from prefdyn.tables import escape
from prefdyn.theory.framework import Theorem
from prefdyn.theory.printing import theorem_latex
from prefdyn.verification import Report

from .latex import message, number
from .tables import informative_share, tightness


def _verification_line(report: Report | None, skipped: str) -> str:
    if report is None:
        return rf"\noindent{{\footnotesize Against simulation: not verified here ({message(skipped)}).}}"
    outcome = "passed" if report.passed else r"\textbf{failed}"
    share = informative_share(report)
    low, median = tightness(report, "min"), tightness(report, "median")
    detail = "" if share is None else rf", bound informative on ${round(100 * share)}\%$ of values"
    detail += (
        ""
        if low is None or median is None
        else rf", tightness (informative values) min ${number(low)}$, median ${number(median)}$"
    )
    violation = "n/a" if report.max_violation is None else f"${number(report.max_violation)}$"
    return (
        rf"\noindent{{\footnotesize Against simulation ({escape(report.kind)}): "
        rf"{report.examples} examples, {outcome}; max.\ violation {violation}{detail}.}}"
    )


def theorem_block(theorem: Theorem, verification: Report | None, skipped: str) -> str:
    """Statement, derivation and both verification summaries of ``theorem``.

    Parameters
    ----------
    theorem : Theorem
        A catalogue theorem (checked by SymPy when printed).
    verification : Report or None
        Its property's result against simulation, or ``None`` when there is none here.
    skipped : str
        Why there is no result (printed when ``verification`` is ``None``).

    Returns
    -------
    str
        The LaTeX block, newline-terminated.
    """
    return theorem_latex(theorem, layout="page", closing=_verification_line(verification, skipped)) + "\n"
