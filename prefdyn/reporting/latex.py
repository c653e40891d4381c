r"""LaTeX primitives of the report: messages, numbers, figures, macros, the preamble.

Everything here is a pure function of its arguments (no dates, no paths of this machine), so
the same inputs give byte-identical ``.tex`` files. Text is escaped by the one escape,
:func:`prefdyn.tables.escape`; tables are :class:`prefdyn.tables.LatexTable` in the report's
layout.

Paths inside the document are written ``\PDpath tables/x``: ``macros.tex`` defines
``\PDpath`` as empty unless the including paper already did, so a researcher who keeps the
report in ``prefdyn/`` next to their paper writes ``\newcommand{\PDpath}{prefdyn/}`` and then
``\input{prefdyn/macros}``.

>>> message("run `a > b` first")
'run \\texttt{a {\\char62} b} first'
>>> breakable("org/model:v1")
'org/\\allowbreak{}model:\\allowbreak{}v1'
>>> number(0.0000123456)
'1.23\\times 10^{-5}'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import sympy as sp

from prefdyn.tables import escape
from prefdyn.theory.losses import REGISTRY, Loss


def message(text: str) -> str:
    """Escaped plain text in which `` `code` `` spans become ``\\texttt`` (skip reasons)."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # unbalanced backticks: no code spans
        return escape(text)
    return "".join(rf"\texttt{{{_code(p)}}}" if i % 2 else escape(p) for i, p in enumerate(parts))


def _code(text: str) -> str:
    """Escaped text for ``\\texttt``: typewriter fonts have ``<`` and ``>`` in their ASCII slots
    (the text-mode ``\\textgreater`` would fall back to a math font there)."""
    return escape(text).replace(r"\textless{}", r"{\char60}").replace(r"\textgreater{}", r"{\char62}")


def breakable(text: str) -> str:
    """Escaped identifier (model name, path) that may break after ``/`` and ``:``."""
    return escape(text).replace("/", r"/\allowbreak{}").replace(":", r":\allowbreak{}")


def number(value: float, digits: int = 3) -> str:
    r"""``value`` with ``digits`` significant digits, for math mode (``1.23\times 10^{-4}``)."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e6):
        return str(int(value))
    if not math.isfinite(value):
        return r"\text{n/a}"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa}\times 10^{{{int(exponent)}}}"
    return text


def macros(definitions: Mapping[str, str]) -> str:
    r"""``\newcommand`` lines for ``{name (without backslash): body}``, sorted by name."""
    return "".join(rf"\newcommand{{\{k}}}{{{v}}}" + "\n" for k, v in sorted(definitions.items()))


def figure(name: str, caption: str, width: str = r"\linewidth") -> str:
    """A ``figure`` float including ``figures/<name>`` (pdflatex picks the vector PDF)."""
    return (
        "\n".join(
            [
                r"\begin{figure}[htbp]",
                r"\centering",
                rf"\includegraphics[width={width}]{{\PDpath figures/{name}}}",
                rf"\caption{{{caption}}}",
                rf"\label{{fig:{name}}}",
                r"\end{figure}",
            ]
        )
        + "\n"
    )


def input_file(relative: str) -> str:
    r"""``\input`` of a file of the report (``relative`` without ``.tex``)."""
    return rf"\input{{\PDpath {relative}}}" + "\n"


def itemize(items: Iterable[str]) -> str:
    """An ``itemize`` list (empty string for no items)."""
    body = [rf"  \item {item}" for item in items]
    return "\n".join([r"\begin{itemize}", *body, r"\end{itemize}"]) + "\n" if body else ""


#: Packages ``theorems.tex`` and the tables and figures need in the including document.
PACKAGES = ("amsmath", "amssymb", "amsthm", "booktabs", "graphicx")

#: Helpers every report file may use. ``\PDfit`` typesets display math at its natural size and
#: shrinks it to the line only when it would overflow (measured by TeX, not guessed here);
#: ``\PDbox`` does the same for a text-mode box (a wide table); ``\PDrel{lhs}{rel}{rhs}`` breaks a
#: too-wide relation after its left-hand side first.
HELPERS = r"""\providecommand{\PDpath}{}
\makeatletter
\newsavebox{\PD@box}
\newlength{\PD@room}
\newcommand{\PDfit}[2][0pt]{%
  \setlength{\PD@room}{\dimexpr\linewidth-#1\relax}%
  \sbox{\PD@box}{$\displaystyle #2$}%
  \ifdim\wd\PD@box>\PD@room\resizebox{\PD@room}{!}{\usebox{\PD@box}}\else\usebox{\PD@box}\fi}
\newcommand{\PDbox}[1]{%
  \sbox{\PD@box}{#1}%
  \ifdim\wd\PD@box>\linewidth\resizebox{\linewidth}{!}{\usebox{\PD@box}}\else\usebox{\PD@box}\fi}
\newcommand{\PDrel}[3]{%
  \sbox{\PD@box}{$\displaystyle #1 #2 #3$}%
  \ifdim\wd\PD@box>\dimexpr\linewidth-3em\relax
    \begin{aligned}&\PDfit[3em]{#1}\\&\quad #2 \PDfit[6em]{#3}\end{aligned}%
  \else #1 #2 #3\fi}
\newcommand{\PDwhy}[1]{\parbox[t]{\dimexpr\linewidth-4em\relax}{\raggedright\footnotesize\itshape #1}}
\makeatother
\ifdefined\theorem\else\newtheorem{theorem}{Theorem}\fi
"""


def preamble(title: str) -> str:
    """The standalone document's preamble (no ``\\date``: the output must not change daily)."""
    return (
        "\n".join(
            [
                r"\documentclass[11pt]{article}",
                r"\usepackage[margin=2.5cm]{geometry}",
                rf"\usepackage{{{','.join(PACKAGES)}}}",
                r"\usepackage[hidelinks]{hyperref}",
                r"\allowdisplaybreaks",
                r"\input{macros}",
                rf"\title{{{title}}}",
                r"\author{prefdyn}",
                r"\date{}",
            ]
        )
        + "\n"
    )


def loss_text(loss: str | Loss) -> str:
    r"""Text-mode LaTeX naming a loss: a registered loss by its name, a user loss by its
    :math:`\phi(h)` and parameter values.

    >>> from prefdyn.theory.losses import get_loss, loss_from_expression
    >>> loss_text(get_loss("exo-pair"))
    'exo-pair'
    >>> loss_text(loss_from_expression("(h - gamma)**2", {"gamma": 0.5}))
    'user-defined loss $\\left(- \\gamma + h\\right)^{2}$ with $\\gamma = \\frac{1}{2}$'
    """
    if isinstance(loss, str) or loss.name in REGISTRY:
        return escape(str(loss) if isinstance(loss, str) else loss.name)
    values = ", ".join(f"${sp.latex(k)} = {sp.latex(v)}$" for k, v in loss.params.items())
    return f"{loss.title} with {values}" if values else loss.title
