r"""User conjectures: a relation over simulated observables, searched for counterexamples.

A conjecture file (TOML)::

    name = "one-step accuracy"      # free text; the counterexample file is a slug + short hash
    statement = "accuracy[0, 1] >= 0.99"
    tolerance = "literal"           # or "statistical": a statement about expectations (below)
    [restrict]                      # optional: fix (value), choose (array) or bound ({min, max})
    steps = 1                       # any keyword of prefdyn.verification.strategies.scenarios
    distinguishability = {min = 0.5, max = 6.0}
    noise_scales = false            # false: absent (isotropic; likewise cosines, reference, phases)
    loss = { expr = "log(1 + exp(-(h - gamma)))", params = { gamma = 0.5 } }

``restrict.loss`` is written as a scenario's ``training.loss`` (a registered name, or a user loss
table ``{expr, params, name}`` read by :func:`~prefdyn.numerics.scenario.parse_loss`), or is an
array of them (a choice).

**Statement.** A SymPy relation (``<=``, ``>=``, ``<``, ``>``, ``==``) over

* observables (means over the scenario's runs, as ``prefdyn simulate`` reports them, training
  split): ``NAME[b, t]`` for ``NAME`` in :data:`BEHAVIOR_OBSERVABLES` and ``NAME[t]`` for
  ``weight_norm`` (:math:`\|W_t - W_{\rm ref}\|_{op}`) and ``weight_frobenius``; ``b`` is a
  0-based behaviour index and ``t`` a step (0 = before training); both integer literals;
* parameters: :data:`SCALAR_PARAMETERS` and ``NAME[b]`` for :data:`BEHAVIOR_PARAMETERS`;
* functions ``exp, log, sqrt, Abs, Max, Min, erf`` and ``Phi`` (standard normal CDF).

Indices constrain the search (``accuracy[2, 5]`` needs :math:`K \ge 3` and at least 5 steps);
an index that the restrictions make impossible, an unknown name or an unparsable statement is a
:class:`~prefdyn.errors.PrefdynError` (exit 2).

**Semantics.** Each example is simulated exactly as ``prefdyn simulate`` does
(:func:`~prefdyn.numerics.run_scenario`, float32, the scenario's runs and seed). With
``tolerance = "literal"`` (the default) a conjecture is about the *simulated* observables: the
relation is evaluated literally on the means over runs; ``==`` allows a relative difference of
:data:`EQUALITY_RTOL` (float32 arithmetic). The violation (``rhs - lhs`` for ``>=``,
``lhs - rhs`` for ``<=``, ``|lhs - rhs| - tol`` for ``==``) is passed to Hypothesis'
``target()``; the shrunk counterexample is written as a scenario TOML runnable with
``prefdyn simulate``, named after the conjecture (:func:`counterexample_stem`).

**Statistical tolerance.** With ``tolerance = "statistical"`` the statement is about the
*expectations* of the observables (over the random data and minibatches), which the mean over
the scenario's :math:`R` independent runs estimates. Each of the statement's :math:`m`
observables gets a confidence radius by the machinery of the built-in properties
(:func:`~prefdyn.verification.tolerance.mean_radius`: Student-t across runs, and for an
accuracy, a value in :math:`[0, 1]`, also Hoeffding's distribution-free radius, the smaller of
the two) at level :math:`\alpha/m` (Bonferroni) with :math:`\alpha` =
:data:`~prefdyn.verification.tolerance.FALSE_ALARM` :math:`= 10^{-6}`; the relation is refuted
only when it fails at *every* point of the box of those intervals (for a statement linear in
the observables, such as a comparison or a difference, exactly: the radius of ``lhs - rhs`` is
:math:`\sum_i |c_i| r_i`; otherwise to first order, one observable at a time). So a true
statement about expectations is refuted by one example with probability at most
:math:`10^{-6}` (at most ``examples`` :math:`\times 10^{-6}` over a search). The runs are the
statistical sample: examples draw between :data:`STATISTICAL_MIN_RUNS` and
:data:`STATISTICAL_MAX_RUNS` runs and shrinking never goes below the minimum (fewer runs would
make every interval too wide to refute anything, or, without this tolerance, make noise look like
a counterexample -- e.g. 0.5 against 0.5625 on 16 samples and 2 runs).

**Errors.** Every error in the file is reported (one line each, exit status 2), not only the
first.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp
import torch
from hypothesis import strategies as st

from prefdyn.errors import ErrorCollector, PrefdynError, read_toml, require
from prefdyn.numerics import Scenario, run_scenario
from prefdyn.numerics.metrics import SAMPLE_METRICS
from prefdyn.numerics.scenario import parse_loss

from .outcome import Comparison, Outcome
from .runner import Report, search, summarise
from .strategies import FIELDS, MAX_BEHAVIORS, MAX_STEPS, scenarios
from .tolerance import mean_radius

BEHAVIOR_OBSERVABLES = SAMPLE_METRICS
STEP_OBSERVABLES = {"weight_norm": "weight_change_opnorm", "weight_frobenius": "weight_change_frobenius"}
SCALAR_PARAMETERS = ("beta", "learning_rate", "steps", "samples", "dim", "behaviors")
BEHAVIOR_PARAMETERS = (
    "weight",
    "positive_fraction",
    "distinguishability",
    "noise",
    "offset",
    "label_noise",
    "shape",
    "df",
)
EQUALITY_RTOL = 1e-4
#: ``tolerance`` values: the relation on the simulated means, or on expectations (module docstring)
TOLERANCES = ("literal", "statistical")
#: Runs drawn per example under ``tolerance = "statistical"`` (shrinking stops at the minimum).
STATISTICAL_MIN_RUNS, STATISTICAL_MAX_RUNS = 16, 32
#: Observables that are accuracies, i.e. take values in [0, 1] (Hoeffding applies).
BOUNDED_OBSERVABLES = ("accuracy", "reward_accuracy")
#: Longest conjecture name (it is printed on one line and names the counterexample file).
MAX_NAME_LENGTH = 200
_RELATIONS = {
    sp.GreaterThan: ">=",
    sp.StrictGreaterThan: ">=",
    sp.LessThan: "<=",
    sp.StrictLessThan: "<=",
    sp.Equality: "=",
}
_CONSTANTS = ("pi", "E")
_FUNCTIONS = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "Abs": sp.Abs,
    "Max": sp.Max,
    "Min": sp.Min,
    "erf": sp.erf,
    "Phi": lambda x: (1 + sp.erf(x / sp.sqrt(2))) / 2,
}


@dataclass(frozen=True)
class Conjecture:
    """A parsed conjecture: ``lhs relation rhs``, the restricted scenario strategy and the
    ``tolerance`` (``literal`` or ``statistical``, module docstring)."""

    name: str
    text: str
    lhs: sp.Expr
    relation: str
    rhs: sp.Expr
    scenarios: st.SearchStrategy[Scenario]
    tolerance: str = "literal"

    @property
    def stem(self) -> str:
        """File stem of this conjecture's counterexample (:func:`counterexample_stem`)."""
        return counterexample_stem(self.name)


def counterexample_stem(name: str) -> str:
    """``<slug>-<hash>.counterexample`` for a free-text conjecture name: the slug keeps ASCII
    letters and digits (runs of anything else become ``-``, at most 40 characters; ``conjecture``
    when nothing is left) and the hash is the first 8 hex digits of the name's SHA-256, so
    distinct names never share a file and no name can reach outside the output folder.

    >>> counterexample_stem("reward accuracy is a probability")
    'reward-accuracy-is-a-probability-dd7c03bd.counterexample'
    >>> counterexample_stem("../../etc/passwd").startswith("etc-passwd-")
    True
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:40].strip("-") or "conjecture"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}.counterexample"


def _namespace() -> dict[str, Any]:
    names: dict[str, Any] = {
        n: sp.IndexedBase(n) for n in (*BEHAVIOR_OBSERVABLES, *STEP_OBSERVABLES, *BEHAVIOR_PARAMETERS)
    }
    names.update({n: sp.Symbol(n) for n in SCALAR_PARAMETERS})
    names.update(_FUNCTIONS)
    return names


def parse_statement(text: str) -> sp.Basic:
    """The relation of a statement (``==`` becomes ``Eq``); errors name the problem.

    Parsed by the whitelisting :func:`~prefdyn.theory.expressions.parse_expression` (no code
    runs; names, numbers, arithmetic, comparisons, calls of the functions above, subscripts of
    the observables); decimals are exact (``0.99`` is ``99/100``)."""
    from prefdyn.theory.expressions import parse_expression

    require(isinstance(text, str) and text.strip() != "", "statement", "must be a non-empty string")
    namespace = _namespace()
    names = {k: v for k, v in namespace.items() if k not in _FUNCTIONS}
    names.update({"pi": sp.pi, "E": sp.E})
    known = sorted({*namespace, *_CONSTANTS})

    def unknown(name: str) -> sp.Basic:
        raise PrefdynError(f"statement: unknown observable or parameter {name!r}; known: {', '.join(known)}")

    relation = parse_expression(
        text, field="statement", names=names, functions=_FUNCTIONS, unknown=unknown, evaluate_relations=False
    )
    require(type(relation) in _RELATIONS, "statement", "must be a relation (<=, >=, <, >, ==)")
    indexed = {atom.base for atom in relation.atoms(sp.Indexed)}
    for base in relation.atoms(sp.IndexedBase) - indexed:
        raise PrefdynError(
            f"statement: {base.name} needs an index, e.g. {base.name}[{'0, 1' if _arity(base.name) == 2 else '0'}]"
        )
    return relation


def _arity(name: str) -> int:
    return 2 if name in BEHAVIOR_OBSERVABLES else 1


def index_needs(relation: sp.Basic) -> dict[str, int]:
    """Smallest ``behaviors`` and ``steps`` the statement's indices need (every bad index is
    reported)."""
    needs = {"behaviors": 1, "steps": 1}
    errors = ErrorCollector()
    for atom in sorted(relation.atoms(sp.Indexed), key=str):
        with errors.check():
            name = atom.base.name
            require(
                len(atom.indices) == _arity(name),
                "statement",
                f"{atom}: {name} takes {_arity(name)} index(es) "
                f"({'[b, t]' if _arity(name) == 2 else '[b]' if name in BEHAVIOR_PARAMETERS else '[t]'})",
            )
            for i in atom.indices:
                require(i.is_Integer and int(i) >= 0, "statement", f"{atom}: indices must be integer literals >= 0")
            if name in BEHAVIOR_OBSERVABLES or name in BEHAVIOR_PARAMETERS:
                needs["behaviors"] = max(needs["behaviors"], int(atom.indices[0]) + 1)
            if name in BEHAVIOR_OBSERVABLES or name in STEP_OBSERVABLES:
                needs["steps"] = max(needs["steps"], int(atom.indices[-1]))
    errors.raise_if_any()
    return needs


#: Fields whose "absent" value (``None``) a restriction writes as ``false`` (TOML has no null).
_OPTIONAL = ("noise_scales", "noise_correlation", "cosines", "reference", "phases")


def _restriction(key: str, value: Any) -> Any:
    if key == "loss":
        return _loss_restriction(value)
    if value is False and key in _OPTIONAL:
        return None
    if isinstance(value, list) and key not in ("weights", "cosines", "phases", "noise_scales", "adam_betas"):
        require(len(value) > 0, f"restrict.{key}", "an array of choices must not be empty")
        return st.sampled_from(value)
    if isinstance(value, dict) and key != "reference":
        require(set(value) == {"min", "max"}, f"restrict.{key}", "a range is a table {min = .., max = ..}")
        lo, hi = value["min"], value["max"]
        require(all(_is_number(v) for v in (lo, hi)), f"restrict.{key}", "min and max must be numbers")
        require(lo <= hi, f"restrict.{key}", "min must be <= max")
        if isinstance(lo, int) and isinstance(hi, int):
            return st.integers(lo, hi)
        return st.floats(float(lo), float(hi))
    return value


def _loss_restriction(value: Any) -> Any:
    """``restrict.loss``: one loss (a name or a user loss table), or an array of them to choose
    from; every bad entry is reported."""
    if not isinstance(value, list):
        return parse_loss(value, "restrict.loss")
    require(len(value) > 0, "restrict.loss", "an array of choices must not be empty")
    errors, losses = ErrorCollector(), []
    for i, entry in enumerate(value):
        with errors.check():
            losses.append(parse_loss(entry, f"restrict.loss[{i}]"))
    errors.raise_if_any()
    return st.sampled_from(losses)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounded(key: str, given: Any, need: int, top: int) -> Any:
    """``given`` (value, strategy or None) for ``behaviors``/``steps`` made to satisfy ``need``."""
    if given is None:
        require(need <= top, "statement", f"needs {key} >= {need}; the search draws at most {top}")
        return st.integers(need, top)
    if isinstance(given, st.SearchStrategy):
        return given.filter(lambda v: v >= need)
    require(
        isinstance(given, int) and not isinstance(given, bool) and given > 0,
        f"restrict.{key}",
        "must be an integer > 0, an array of them or a {min, max} range",
    )
    require(given >= need, "statement", f"an index needs {key} >= {need} but restrict.{key} = {given}")
    return given


def _check_name(name: Any) -> str:
    require(isinstance(name, str) and name.strip() != "", "name", "must be a non-empty string")
    require(len(name) <= MAX_NAME_LENGTH, "name", f"must be at most {MAX_NAME_LENGTH} characters")
    require(
        not any(unicodedata.category(c).startswith("C") for c in name),
        "name",
        "must be one line of printable text (no control characters)",
    )
    return name.strip()


def _statistical_runs(value: Any) -> Any:
    """``restrict.runs`` under the statistical tolerance: every allowed value >= the minimum."""
    lowest: Any = (
        min(value)
        if isinstance(value, list) and value and all(_is_number(v) for v in value)
        else value.get("min")
        if isinstance(value, dict)
        else value
    )
    require(
        not _is_number(lowest) or lowest >= STATISTICAL_MIN_RUNS,
        "restrict.runs",
        f'must be >= {STATISTICAL_MIN_RUNS} with tolerance = "statistical" (the runs are its sample)',
    )
    return value


def load_conjecture(path: str | Path) -> Conjecture:
    """Read, parse and validate a conjecture file; every error in it is reported (one
    :class:`~prefdyn.errors.PrefdynError`, or :class:`~prefdyn.errors.PrefdynErrors` listing
    them all)."""
    file = Path(path)
    doc = read_toml(file, "conjecture")
    errors = ErrorCollector()
    with errors.check():
        unknown = set(doc) - {"name", "statement", "description", "restrict", "tolerance"}
        require(not unknown, "conjecture", f"unknown key(s) {', '.join(sorted(unknown))}")
    name = file.stem
    with errors.check():
        name = _check_name(doc.get("name", file.stem))
    tolerance = doc.get("tolerance", "literal")
    with errors.check():
        require(tolerance in TOLERANCES, "tolerance", f"must be one of {', '.join(TOLERANCES)}")
    relation = None
    with errors.check():
        relation = parse_statement(doc.get("statement", ""))
    restrict = doc.get("restrict", {})
    with errors.check():
        require(isinstance(restrict, dict), "restrict", "must be a table")
    overrides: dict[str, Any] = {}
    for key, value in restrict.items() if isinstance(restrict, dict) else ():
        with errors.check():
            require(key in FIELDS, f"restrict.{key}", f"unknown field; known: {', '.join(FIELDS)}")
            if key == "runs" and tolerance == "statistical":
                _statistical_runs(value)
            overrides[key] = _restriction(key, value)
    needs = {"behaviors": 1, "steps": 1}
    if relation is not None:
        with errors.check():
            needs = index_needs(relation)
    with errors.check():
        overrides["behaviors"] = _bounded("behaviors", overrides.get("behaviors"), needs["behaviors"], MAX_BEHAVIORS)
    phases = overrides.get("phases")
    if phases is None:  # absent, or `phases = false`: one phase of `steps` steps
        with errors.check():
            overrides["steps"] = _bounded("steps", overrides.get("steps"), needs["steps"], MAX_STEPS)
        overrides["phases"] = None
    else:
        with errors.check():
            require(
                isinstance(phases, list) and all(isinstance(p, dict) and _is_number(p.get("steps", 0)) for p in phases),
                "restrict.phases",
                "must be an array of phase tables ({name, steps, labels}) or false",
            )
            total = sum(p.get("steps", 0) for p in phases)
            require(
                total >= needs["steps"],
                "statement",
                f"an index needs {needs['steps']} steps but the phases have {total}",
            )
    if tolerance == "statistical" and "runs" not in overrides:
        overrides["runs"] = st.integers(STATISTICAL_MIN_RUNS, STATISTICAL_MAX_RUNS)
    errors.raise_if_any()
    assert relation is not None
    relation_name = _RELATIONS[type(relation)]
    return Conjecture(
        name, doc["statement"], relation.lhs, relation_name, relation.rhs, scenarios(name=name, **overrides), tolerance
    )


def _observations(conjecture: Conjecture, scenario: Scenario, device: str) -> dict[sp.Basic, torch.Tensor]:
    """Per-run values ``[R]`` of every observable atom of the statement, and the scenario's
    parameters (scalars), simulated as ``prefdyn simulate`` does."""
    result = run_scenario(scenario, device=device, dtype=torch.float32, progress=False)
    values: dict[sp.Basic, torch.Tensor] = {}
    relation = sp.Eq(conjecture.lhs, conjecture.rhs, evaluate=False)
    for atom in relation.atoms(sp.Indexed):
        name, idx = atom.base.name, [int(i) for i in atom.indices]
        if name in BEHAVIOR_OBSERVABLES:
            values[atom] = result.curve(name)[:, idx[1], idx[0]].double()
        elif name in STEP_OBSERVABLES:
            values[atom] = result.curve(STEP_OBSERVABLES[name])[:, idx[0]].double()
        else:
            values[atom] = torch.tensor(float(getattr(scenario.behaviors[idx[0]], name)), dtype=torch.float64)
    scalars = {
        "beta": scenario.training.beta,
        "learning_rate": scenario.training.learning_rate,
        "steps": scenario.training.steps,
        "samples": scenario.samples,
        "dim": scenario.dim,
        "behaviors": len(scenario.behaviors),
    }
    values.update({sp.Symbol(k): torch.tensor(float(v), dtype=torch.float64) for k, v in scalars.items()})
    return values


def _side(expr: sp.Expr, point: dict[sp.Basic, float]) -> float:
    return float(sp.N(expr.xreplace(point)))


def observe(conjecture: Conjecture, scenario: Scenario, device: str) -> Outcome:
    """Simulate ``scenario`` as ``prefdyn simulate`` does and evaluate both sides at the means
    over runs; under the statistical tolerance the comparison's radius is the confidence radius
    of ``lhs - rhs`` (module docstring)."""
    values = _observations(conjecture, scenario, device)
    point = {k: float(v.mean()) for k, v in values.items()}
    lhs, rhs = _side(conjecture.lhs, point), _side(conjecture.rhs, point)
    radius = EQUALITY_RTOL * max(1.0, abs(lhs), abs(rhs)) if conjecture.relation == "=" else 0.0
    if conjecture.tolerance == "statistical":
        radius += _propagated_radius(conjecture, values, point)
    # a conjecture's sides are any expressions: no natural range, so no bound is "vacuous"
    return Outcome(
        [
            Comparison(
                conjecture.text,
                torch.tensor(lhs),
                torch.tensor(rhs),
                conjecture.relation,
                radius,
                natural=(-math.inf, math.inf),
            )
        ]
    )


def _propagated_radius(
    conjecture: Conjecture, values: dict[sp.Basic, torch.Tensor], point: dict[sp.Basic, float]
) -> float:
    r"""Radius of ``lhs - rhs`` when each observable's mean :math:`\bar x_i` may be off by its
    confidence radius :math:`r_i` (Bonferroni over the :math:`m` observables):
    :math:`\sum_i \max_\pm |f(\bar x \pm r_i e_i) - f(\bar x)|` for :math:`f` = ``lhs - rhs``
    (exact for :math:`f` linear in the observables, first order otherwise)."""
    observed = [k for k, v in values.items() if v.dim() == 1]
    if not observed:
        return 0.0
    bounded = {k: (0.0, 1.0) for k in observed if isinstance(k, sp.Indexed) and k.base.name in BOUNDED_OBSERVABLES}
    gap = conjecture.lhs - conjecture.rhs
    centre = _side(gap, point)
    total = 0.0
    for atom in observed:
        r = float(mean_radius(values[atom], len(observed), bounded.get(atom)))
        if r == 0:
            continue
        shifts = [abs(_side(gap, {**point, atom: point[atom] + sign * r}) - centre) for sign in (1.0, -1.0)]
        total += max(shifts)
    return total


def check_conjecture(
    conjecture: Conjecture,
    *,
    examples: int = 100,
    seed: int = 0,
    device: str = "cpu",
    out: Path | None = None,
    threads: int = 1,
    on_example: Callable[[], None] | None = None,
) -> Report:
    """Search for a counterexample; write it to ``out`` as ``<slug>-<hash>.counterexample.toml``
    (:func:`counterexample_stem`). ``threads`` and ``on_example``: as in
    :func:`~prefdyn.verification.runner.search`."""
    found = search(
        conjecture.scenarios,
        lambda sc: observe(conjecture, sc, device),
        examples=examples,
        seed=seed,
        threads=threads,
        on_example=on_example,
    )
    kind = "conjecture" if conjecture.tolerance == "literal" else "statistical conjecture"
    return summarise(conjecture.name, kind, found, out, stem=conjecture.stem)
