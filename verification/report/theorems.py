r"""Theorem blocks laid out for a printed page.

:meth:`prefdyn.theory.framework.Theorem.latex` is the compact form (one ``align`` row per step,
its justification in a third column), right for a notebook or a wide screen. On an article's
text width the justifications and long SymPy expressions overflow, so the report lays the same
objects out differently: each step is a numbered line ``R E_k``, its justification a
footnote-size paragraph on the line below, and every expression goes through ``\PDfit`` (shrunk
by TeX only when it is wider than the line). Statements keep the framework's labels
(``eq:<id>:<claim>``) so references written against ``prefdyn derive --latex`` still resolve.
"""

from __future__ import annotations

import math
import re

from prefdyn.theory.framework import Claim, StepResult, Theorem, tex

from .latex import escape, message, number
from .sources import VerificationRow

_REL = {"=": "=", "<=": r"\le", ">=": r"\ge"}


def prose(text: str) -> str:
    """Theory-layer prose (LaTeX with ``$...$`` math): escape bare ``%``, ``&`` and ``#``."""
    return re.sub(r"(?<!\\)([%&#])", r"\\\1", text)


def slug(text: str) -> str:
    """Label-safe form of a claim label (the framework's ``eq:<id>:<slug>`` convention)."""
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _derivation(claim: Claim) -> list[str]:
    lines = [r"\begin{align}", rf"&\PDfit[1em]{{{tex(claim.lhs)}}} \notag\\"]
    for k, step in enumerate(claim.steps):
        end = r"\\" if k < len(claim.steps) - 1 else ""
        lines.append(rf"&\quad {_REL[step.rel]} \PDfit[4em]{{{tex(step.rhs)}}} \\")
        lines.append(rf"&\qquad\PDwhy{{{prose(step.reason)}}} \notag{end}")
    lines.append(r"\end{align}")
    return lines


def _check_line(results: list[StepResult]) -> str:
    failed = [k for k, r in enumerate(results, 1) if not r.verified]
    methods = ", ".join(sorted({r.method.split(" (")[0] for r in results}))
    if failed:
        steps = ", ".join(map(str, failed))
        return rf"\noindent{{\footnotesize\textbf{{SymPy could not verify step(s) {steps}.}}}}"
    what = "the step" if len(results) == 1 else f"all {len(results)} steps"
    return rf"\noindent{{\footnotesize SymPy re-verified {what} ({methods}).}}"


def _verification_line(row: VerificationRow | None, skipped: str) -> str:
    if row is None:
        return rf"\noindent{{\footnotesize Against simulation: not verified here ({message(skipped)}).}}"
    outcome = "passed" if row.passed else r"\textbf{failed}"
    tight = ("" if math.isnan(row.tightness_min) else
             rf", tightness min ${number(row.tightness_min)}$, median ${number(row.tightness_median)}$")
    return (rf"\noindent{{\footnotesize Against simulation (Table~\ref{{tab:verification}}, "
            rf"{escape(row.kind)}): {row.examples} examples, {outcome}; max.\ violation "
            rf"${number(row.max_violation)}${tight}.}}")


def theorem_block(theorem: Theorem, verification: VerificationRow | None, skipped: str) -> str:
    """Statement, derivation (numbered steps) and both verification summaries of ``theorem``;
    ``verification`` is its ``prefdyn verify`` result, or ``None`` and ``skipped`` says why."""
    report = theorem.check()
    out = [rf"\begin{{theorem}}[{prose(theorem.title)}]\label{{thm:{theorem.id}}}"]
    if theorem.assumptions:
        out += ["Assume", r"\begin{enumerate}"]
        out += [rf"  \item[(A{i})] {a.latex}" for i, a in enumerate(theorem.assumptions, 1)]
        out.append(r"\end{enumerate}")
    if theorem.summary:
        out.append(theorem.summary)
    out.append("Then")
    for claim in theorem.claims:
        out += [rf"\begin{{equation}}\label{{eq:{theorem.id}:{slug(claim.label)}}}",
                rf"\PDrel{{{tex(claim.lhs)}}}{{{_REL[claim.relation]}}}{{{tex(claim.rhs)}}}",
                r"\end{equation}"]
        if claim.prose:
            out.append(claim.prose)
    out += [r"\end{theorem}", r"\begin{proof}"]
    for claim, results in report.results:
        label = f"eq:{theorem.id}:{slug(claim.label)}"
        out.append(rf"\par\smallskip\noindent\emph{{Derivation of \eqref{{{label}}} "
                   rf"({prose(claim.label)}).}}")
        out += _derivation(claim)
        out.append(_check_line(results))
        out.append("")
    out += list(theorem.notes)
    out += ["", _verification_line(verification, skipped)]
    out.append(r"\end{proof}")
    return "\n".join(out) + "\n"
