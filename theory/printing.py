r"""The one LaTeX printer of theorems, used by ``prefdyn derive --latex``, notebooks and the report.

A theorem block is

* ``\begin{theorem}[title]\label{thm:<id>:<loss>}``, the hypotheses (A1), (A2), ..., the claims,
  each an ``equation`` labelled ``eq:<id>:<loss>:<claim>``, a *where* clause defining every
  symbol the claims use, and a provenance line (what is Im & Li's, what is prefdyn's);
* a ``proof`` with each claim's derivation and the SymPy verdict of every step.

Two layouts share everything but the derivation's shape: ``"compact"`` (one ``align`` row per
step, the justification in a third column) and ``"page"`` (each step on its own line, the
justification in a footnote-size paragraph below, wide expressions shrunk by the report's
``\PDfit``). The compact block compiles in :data:`MINIMAL_PREAMBLE`; labels carry the loss so the
blocks of several losses coexist in one paper.

Expressions print with SymPy's ``order="old"`` (``1 - 2 q_b e^{-x}``, not ``-2q_b e^{-x} + 1``),
rationals with a power-of-ten denominator as decimals (``0.0177``), and symbols whose names are
already LaTeX verbatim.

>>> import sympy as sp
>>> q_b, x = sp.symbols("q_b x")
>>> tex(1 - 2 * q_b * sp.exp(-x))
'1 - 2 q_{b} e^{- x}'
>>> tex(sp.Rational(177, 10000) + x)
'0.0177 + x'
>>> text("a_b & 50% of $x_1$")
'a\\_b \\& 50\\% of $x_1$'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm

from prefdyn.errors import PrefdynError
from prefdyn.tables import escape

if TYPE_CHECKING:
    from .framework import Claim, StepResult, Theorem

LATEX_RELATION = {"=": "=", "<=": r"\le", ">=": r"\ge"}

#: The block's layouts (module docstring): ``derive --latex`` prints ``"compact"``, the report
#: ``"page"``.
Layout = Literal["compact", "page"]

#: What a paper needs to ``\input`` a compact theorem block.
MINIMAL_PREAMBLE = r"""\documentclass{article}
\usepackage{amsmath,amssymb,amsthm}
\newtheorem{theorem}{Theorem}
"""


class _Printer(LatexPrinter):
    """SymPy's LaTeX printer with readable term order and decimal rationals."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"order": "old", **(settings or {})})

    def _print_Rational(self, expr: sp.Rational) -> str:
        digits = _decimal_places(int(expr.q))
        if digits and expr.q >= 100:  # a terminating decimal such as 0.0177 or 0.0116 (= 29/2500)
            return ("-" if expr < 0 else "") + _decimal(abs(expr), digits)
        return super()._print_Rational(expr)

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if any(c in expr.name for c in "\\{|"):
            return expr.name
        return super()._print_Symbol(expr, style=style)

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        name = str(expr.label)
        return name if any(c in name for c in "\\{|") else super()._print_IndexedBase(expr)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        base = self._print(expr.base)
        indices = "".join(self._print(i) for i in expr.indices)
        if "^" in base and "_" not in base:  # \mu^{+}_{b}: subscript after the superscript
            return f"{{{base}}}_{{{indices}}}"
        return f"{base}_{{{indices}}}"


def _decimal_places(q: int) -> int:
    """Decimal places of ``p/q`` when it terminates (``q = 2^a 5^b``), else 0."""
    a = b = 0
    while q % 2 == 0:
        q, a = q // 2, a + 1
    while q % 5 == 0:
        q, b = q // 5, b + 1
    return max(a, b) if q == 1 else 0


def _decimal(value: sp.Rational, places: int) -> str:
    """The exact decimal expansion of a non-negative terminating rational."""
    scaled = int(value * 10**places)
    whole, frac = divmod(scaled, 10**places)
    return f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".")


def tex(expr: Any) -> str:
    """LaTeX of a SymPy object (see the module docstring for the conventions)."""
    return _Printer().doprint(expr)


_MATH = re.compile(r"(\$\$.*?\$\$|\$.*?\$|\\\(.*?\\\)|\\\[.*?\\\])", re.DOTALL)


def text(value: str) -> str:
    r"""Prose for text mode: ``% & # _ ^`` are escaped (by :func:`prefdyn.tables.escape`)
    outside math (``$..$``, ``\(..\)``, ``\[..\]``); math passes through untouched (so ``&``
    inside ``cases`` stays an alignment tab). Already escaped characters and LaTeX commands are
    left alone."""
    parts = _MATH.split(value)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(part)
        else:
            out.append(re.sub(r"(?<!\\)([%&#_^])", lambda m: escape(m.group(1)), part))
    return "".join(out)


def slug(value: str) -> str:
    """Label-safe form of a claim label or loss name."""
    return "-".join("".join(c if c.isalnum() else " " for c in value.lower()).split())


def theorem_label(theorem: Theorem) -> str:
    """``thm:<id>:<loss>``."""
    return f"thm:{theorem.id}:{slug(theorem.loss_name or 'any')}"


def claim_label(theorem: Theorem, claim: Claim) -> str:
    """``eq:<id>:<loss>:<claim>``."""
    return f"eq:{theorem.id}:{slug(theorem.loss_name or 'any')}:{slug(claim.label)}"


def statement_latex(claim: Claim) -> str:
    """``lhs R rhs`` of a claim's statement."""
    return f"{tex(claim.lhs)} {LATEX_RELATION[claim.relation]} {tex(claim.rhs)}"


def statements_latex(theorem: Theorem) -> str:
    """Every claim's statement, one display each (notebooks' ``_repr_latex_``)."""
    return "\n".join(f"$${statement_latex(c)}$$" for c in theorem.claims)


def where_clause(theorem: Theorem) -> str:
    """``where $s$ is ..., ...``: the theorem's notation as a sentence."""
    if not theorem.notation:
        return ""
    items = [f"{_keys(key)} {text(meaning)}" for key, meaning in theorem.notation.items()]
    return r"\par\noindent Here " + "; ".join(items) + "."


def _keys(key: Any) -> str:
    """``$x$`` or, for a tuple of objects defined together, ``$x$, $y$``."""
    return ", ".join(f"${tex(k)}$" for k in (key if isinstance(key, tuple) else (key,)))


def _derivation(claim: Claim, layout: Layout) -> list[str]:
    if layout == "compact":
        rows = []
        for k, step in enumerate(claim.steps):
            head = tex(claim.lhs) if k == 0 else ""
            rows.append(rf"{head} &{LATEX_RELATION[step.rel]} {tex(step.rhs)} && \text{{{text(step.reason)}}}")
        return [r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"]
    lines = [r"\begin{align*}", rf"&\PDfit[1em]{{{tex(claim.lhs)}}} \\"]
    for k, step in enumerate(claim.steps):
        end = r"\\" if k < len(claim.steps) - 1 else ""
        lines.append(rf"&\quad {LATEX_RELATION[step.rel]} \PDfit[4em]{{{tex(step.rhs)}}} \\")
        lines.append(rf"&\qquad\PDwhy{{{text(step.reason)}}}{end}")
    lines.append(r"\end{align*}")
    return lines


def _verdict(results: list[StepResult]) -> str:
    marks = "; ".join(
        f"step {k}: {'verified' if r.verified else 'NOT VERIFIED'}, {r.method}" for k, r in enumerate(results, 1)
    )
    return rf"\noindent{{\small SymPy check: {text(marks)}.}}"


def theorem_latex(theorem: Theorem, layout: Layout = "compact", closing: str = "") -> str:
    """The ``theorem`` + ``proof`` block of ``theorem``.

    Parameters
    ----------
    theorem : Theorem
        The theorem; it is checked (SymPy) if it was not yet.
    layout : {"compact", "page"}
        The derivation's shape (module docstring): ``"compact"`` for ``prefdyn derive --latex``
        and :data:`MINIMAL_PREAMBLE`, ``"page"`` for the report (needs its ``macros.tex``).
    closing : str
        LaTeX appended inside the proof (the report's verdict against simulation).

    Returns
    -------
    str
        The block, without a trailing newline.

    Raises
    ------
    PrefdynError
        When ``layout`` is not one of the two.
    """
    if layout not in get_args(Layout):
        raise PrefdynError(f"layout must be 'compact' or 'page', not {layout!r}")
    report = theorem.check()
    out = [rf"\begin{{theorem}}[{text(theorem.title)}]\label{{{theorem_label(theorem)}}}"]
    if theorem.assumptions:
        out += ["Assume", r"\begin{enumerate}"]
        out += [rf"  \item[(A{i})] {text(a.latex)}" for i, a in enumerate(theorem.assumptions, 1)]
        out.append(r"\end{enumerate}")
    if theorem.summary:
        out.append(text(theorem.summary))
    out.append("Then")
    for claim in theorem.claims:
        out += [rf"\begin{{equation}}\label{{{claim_label(theorem, claim)}}}"]
        out.append(
            statement_latex(claim)
            if layout == "compact"
            else rf"\PDrel{{{tex(claim.lhs)}}}{{{LATEX_RELATION[claim.relation]}}}{{{tex(claim.rhs)}}}"
        )
        out.append(r"\end{equation}")
        if claim.prose:
            out.append(text(claim.prose))
    where = where_clause(theorem)
    if where:
        out.append(where)
    if theorem.provenance:
        out.append(r"\par\noindent\emph{Source.} " + text(theorem.provenance))
    out += [r"\end{theorem}", r"\begin{proof}"]
    for claim, results in report.results:
        out.append(
            rf"\par\smallskip\noindent\emph{{Derivation of \eqref{{{claim_label(theorem, claim)}}} "
            rf"({text(claim.label)}).}}"
        )
        out += _derivation(claim, layout)
        out.append(_verdict(results))
    out += [text(note) for note in theorem.notes]
    if closing:
        out.append(closing)
    out.append(r"\end{proof}")
    return "\n".join(out)


def notation_table(theorems: Sequence[Theorem]) -> str:
    """The catalogue's notation as one list (it may break across pages): symbol, meaning, and the
    theorems that use it."""
    rows: dict[str, tuple[str, list[str]]] = {}
    for theorem in theorems:
        for keys, meaning in theorem.notation.items():
            entry = rows.setdefault(_keys(keys), (text(meaning), []))
            if theorem.id not in entry[1]:
                entry[1].append(theorem.id)
    lines = [r"\begin{description}\small"]
    # the symbol is braced: a ``]`` inside it (``\mathbb{E}[\Delta W_1]_{ij}``) would end the label
    lines += [
        rf"  \item[{{{symbol}}}] {meaning} (in {text(', '.join(ids))})" for symbol, (meaning, ids) in rows.items()
    ]
    lines.append(r"\end{description}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plain text

_GREEK = {
    name: chr(code)
    for name, code in (
        ("alpha", 0x3B1),
        ("beta", 0x3B2),
        ("gamma", 0x3B3),
        ("delta", 0x3B4),
        ("epsilon", 0x3B5),
        ("varepsilon", 0x3B5),
        ("zeta", 0x3B6),
        ("eta", 0x3B7),
        ("theta", 0x3B8),
        ("kappa", 0x3BA),
        ("lambda", 0x3BB),
        ("mu", 0x3BC),
        ("nu", 0x3BD),
        ("xi", 0x3BE),
        ("pi", 0x3C0),
        ("varpi", 0x3D6),
        ("rho", 0x3C1),
        ("sigma", 0x3C3),
        ("tau", 0x3C4),
        ("phi", 0x3C6),
        ("varphi", 0x3C6),
        ("psi", 0x3C8),
        ("omega", 0x3C9),
        ("Gamma", 0x393),
        ("Delta", 0x394),
        ("Lambda", 0x39B),
        ("Sigma", 0x3A3),
        ("Phi", 0x3A6),
        ("Omega", 0x3A9),
        ("Theta", 0x398),
        ("Pi", 0x3A0),
    )
}
_COMMANDS = {
    **_GREEK,
    "top": "ᵀ",
    "le": "≤",
    "ge": "≥",
    "ne": "≠",
    "infty": "∞",
    "partial": "∂",
    "nabla": "∇",
    "mid": "|",
    "cdot": "·",
    "ldots": "…",
    "cdots": "…",
    "sum": "Σ",
    "sqrt": "√",
    "in": "∈",
    "pm": "±",
    "mp": "∓",
    "star": "*",
    "prime": "′",
    "langle": "⟨",
    "rangle": "⟩",
    "|": "‖",
    "preceq": "≼",
    "times": "×",
    "to": "→",
    "approx": "≈",
    "sim": "~",
    "perp": "⊥",
    "quad": " ",
    "qquad": "  ",
    ",": " ",
    ";": " ",
    "!": "",
    "bar": "",
    "hat": "",
    "tilde": "",
    "left": "",
    "right": "",
    "big": "",
    "Big": "",
    "mathbb": "",
    "mathrm": "",
    "operatorname": "",
    "mathcal": "",
    "boldsymbol": "",
    "text": "",
    "tfrac": "",
    "frac": "",
    "dfrac": "",
    "log": "log",
    "exp": "exp",
    "max": "max",
    "min": "min",
    "Pr": "Pr",
    "sup": "sup",
    "inf": "inf",
}


def _group(text: str, start: int) -> tuple[str, int]:
    """The brace group opening at ``text[start]`` and the index after it."""
    depth = 0
    for k in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[start + 1 : k], k + 1
    return text[start + 1 :], len(text)


def _fractions(latex: str) -> str:
    r"""``\frac{a}{b}`` (any nesting) as ``a/b``, parenthesised where a side is compound."""
    out, k = [], 0
    while (at := latex.find("\\frac{", k)) >= 0 or (at := latex.find("\\tfrac{", k)) >= 0:
        out.append(latex[k:at])
        top, after = _group(latex, latex.index("{", at))
        bottom, k = _group(latex, after) if after < len(latex) and latex[after] == "{" else ("", after)
        top, bottom = plain(top), plain(bottom)
        wrap = lambda x: x if re.fullmatch(r"[\w.′]+", x) else f"({x})"
        out.append(f"{wrap(top)}/{wrap(bottom)}")
    out.append(latex[k:])
    return "".join(out)


def plain(latex: str) -> str:
    r"""A readable Unicode rendering of a LaTeX fragment (``\frac{a}{b}`` becomes ``a/b``,
    ``\Delta^\top\mu_b^+`` becomes ``Δᵀμ_b^+``): for terminals, not for papers."""
    out = _fractions(latex)
    out = re.sub(r"\\([A-Za-z]+|[|,;!])", lambda m: _COMMANDS.get(m.group(1), m.group(1)), out)
    out = out.replace("^ᵀ", "ᵀ").replace("^{ᵀ}", "ᵀ")
    out = re.sub(
        r"([_^])\{([^{}]*)\}",
        lambda m: m.group(1) + m.group(2) if len(m.group(2)) == 1 else f"{m.group(1)}({m.group(2)})",
        out,
    )
    return re.sub(r" +", " ", out.replace("{", "").replace("}", "")).strip()


class _TextPrinter(PrettyPrinter):
    """SymPy's Unicode pretty printer, with LaTeX-named symbols rendered by :func:`plain`."""

    def _print_Symbol(self, e: sp.Symbol, bold_name: bool = False) -> prettyForm:
        if "\\" in e.name or "{" in e.name:
            return prettyForm(plain(e.name))
        return super()._print_Symbol(e, bold_name)

    def _print_Atom(self, e: sp.Basic) -> prettyForm:
        return self._print_Symbol(e) if isinstance(e, sp.Symbol) else super()._print_Atom(e)

    def _print_indicator(self, e: sp.Basic) -> prettyForm:
        return prettyForm(f"1[{plain(sp.sstr(e.args[0]))} = {plain(sp.sstr(e.args[1]))}]")

    def _print_IndexedBase(self, e: sp.IndexedBase) -> prettyForm:
        return prettyForm(plain(str(e.label)))

    def _print_Indexed(self, e: sp.Indexed) -> prettyForm:
        indices = ",".join(plain(sp.sstr(i)) for i in e.indices)
        return prettyForm(f"{plain(str(e.base.label))}[{indices}]")


def pretty(expr: Any) -> str:
    """A multi-line Unicode rendering of ``expr`` for terminals (``prefdyn derive`` text)."""
    return _TextPrinter({"use_unicode": True, "order": "old"}).doprint(expr)
