r"""Theorem blocks for the report's page: the theory layer's one printer in its ``"page"`` layout.

:func:`prefdyn.theory.printing.theorem_latex` writes the statement, the where clause, the
provenance and the derivation (each step on its own line, its justification in a footnote-size
paragraph, wide expressions shrunk by ``\\PDfit``); this module adds the verdict of the property
checked against simulation. Labels are the printer's (``thm:<id>:<loss>``,
``eq:<id>:<loss>:<claim>``), the same as ``prefdyn derive --latex``.
"""

from __future__ import annotations

import math

from prefdyn.theory.framework import Theorem
from prefdyn.theory.printing import theorem_latex

from .latex import escape, message, number
from .sources import VerificationRow


def _verification_line(row: VerificationRow | None, skipped: str) -> str:
    if row is None:
        return rf"\noindent{{\footnotesize Against simulation: not verified here ({message(skipped)}).}}"
    outcome = "passed" if row.passed else r"\textbf{failed}"
    share = ("" if math.isnan(row.informative) else
             rf", bound informative on ${round(100 * row.informative)}\%$ of values")
    tight = share + ("" if math.isnan(row.tightness_min) else
                     rf", tightness (informative values) min ${number(row.tightness_min)}$, "
                     rf"median ${number(row.tightness_median)}$")
    return (rf"\noindent{{\footnotesize Against simulation ({escape(row.kind)}): {row.examples} examples, "
            rf"{outcome}; max.\ violation ${number(row.max_violation)}${tight}.}}")


def theorem_block(theorem: Theorem, verification: VerificationRow | None, skipped: str) -> str:
    """Statement, derivation and both verification summaries of ``theorem``; ``verification``
    is its ``prefdyn verify`` result, or ``None`` and ``skipped`` says why."""
    return theorem_latex(theorem, layout="page", closing=_verification_line(verification, skipped)) + "\n"
