r"""User conjectures: a relation over simulated observables, searched for counterexamples.

A conjecture file (TOML)::

    name = "one-step-accuracy"
    statement = "accuracy[0, 1] >= 0.99"
    [restrict]                      # optional: fix (value), choose (array) or bound ({min, max})
    steps = 1                       # any keyword of prefdyn.verification.strategies.scenarios
    distinguishability = {min = 0.5, max = 6.0}
    noise_scales = false            # false: absent (isotropic; likewise cosines, reference, phases)

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

**Semantics.** A conjecture is about the *simulated* observables: each example is simulated
exactly as ``prefdyn simulate`` does (:func:`~prefdyn.numerics.run_scenario`, float32, the
scenario's runs and seed), and the relation is evaluated literally; ``==`` allows a relative
difference of :data:`EQUALITY_RTOL` (float32 arithmetic). The violation (``rhs - lhs`` for
``>=``, ``lhs - rhs`` for ``<=``, ``|lhs - rhs| - tol`` for ``==``) is passed to Hypothesis'
``target()``; the shrunk counterexample is written as a scenario TOML runnable with
``prefdyn simulate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy as sp
import torch
from hypothesis import strategies as st

from prefdyn.errors import PrefdynError, read_toml, require
from prefdyn.numerics import Scenario, run_scenario
from prefdyn.numerics.metrics import SAMPLE_METRICS

from .outcome import Comparison, Outcome
from .runner import Report, search, summarise
from .strategies import FIELDS, MAX_BEHAVIORS, MAX_STEPS, scenarios

BEHAVIOR_OBSERVABLES = SAMPLE_METRICS
STEP_OBSERVABLES = {"weight_norm": "weight_change_opnorm", "weight_frobenius": "weight_change_frobenius"}
SCALAR_PARAMETERS = ("beta", "learning_rate", "steps", "samples", "dim", "behaviors")
BEHAVIOR_PARAMETERS = ("weight", "positive_fraction", "distinguishability", "noise", "offset", "label_noise",
                       "shape", "df")
EQUALITY_RTOL = 1e-4
_RELATIONS = {sp.GreaterThan: ">=", sp.StrictGreaterThan: ">=", sp.LessThan: "<=", sp.StrictLessThan: "<=",
              sp.Equality: "="}
_CONSTANTS = ("pi", "E")
_FUNCTIONS = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "Abs": sp.Abs, "Max": sp.Max, "Min": sp.Min,
              "erf": sp.erf, "Phi": lambda x: (1 + sp.erf(x / sp.sqrt(2))) / 2}


@dataclass(frozen=True)
class Conjecture:
    """A parsed conjecture: ``lhs relation rhs`` and the restricted scenario strategy."""

    name: str
    text: str
    lhs: sp.Expr
    relation: str
    rhs: sp.Expr
    scenarios: st.SearchStrategy[Scenario]


def _namespace() -> dict[str, Any]:
    names: dict[str, Any] = {n: sp.IndexedBase(n) for n in (*BEHAVIOR_OBSERVABLES, *STEP_OBSERVABLES, *BEHAVIOR_PARAMETERS)}
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

    relation = parse_expression(text, field="statement", names=names, functions=_FUNCTIONS, unknown=unknown,
                                evaluate_relations=False)
    require(type(relation) in _RELATIONS, "statement", "must be a relation (<=, >=, <, >, ==)")
    indexed = {atom.base for atom in relation.atoms(sp.Indexed)}
    for base in relation.atoms(sp.IndexedBase) - indexed:
        raise PrefdynError(f"statement: {base.name} needs an index, e.g. {base.name}[{'0, 1' if _arity(base.name) == 2 else '0'}]")
    return relation


def _arity(name: str) -> int:
    return 2 if name in BEHAVIOR_OBSERVABLES else 1


def index_needs(relation: sp.Basic) -> dict[str, int]:
    """Smallest ``behaviors`` and ``steps`` the statement's indices need."""
    needs = {"behaviors": 1, "steps": 1}
    for atom in relation.atoms(sp.Indexed):
        name = atom.base.name
        require(len(atom.indices) == _arity(name), "statement",
                f"{atom}: {name} takes {_arity(name)} index(es) ({'[b, t]' if _arity(name) == 2 else '[b]' if name in BEHAVIOR_PARAMETERS else '[t]'})")
        for i in atom.indices:
            require(i.is_Integer and int(i) >= 0, "statement", f"{atom}: indices must be integer literals >= 0")
        if name in BEHAVIOR_OBSERVABLES or name in BEHAVIOR_PARAMETERS:
            needs["behaviors"] = max(needs["behaviors"], int(atom.indices[0]) + 1)
        if name in BEHAVIOR_OBSERVABLES or name in STEP_OBSERVABLES:
            needs["steps"] = max(needs["steps"], int(atom.indices[-1]))
    return needs


#: Fields whose "absent" value (``None``) a restriction writes as ``false`` (TOML has no null).
_OPTIONAL = ("noise_scales", "noise_correlation", "cosines", "reference", "phases")


def _restriction(key: str, value: Any) -> Any:
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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounded(key: str, given: Any, need: int, top: int) -> Any:
    """``given`` (value, strategy or None) for ``behaviors``/``steps`` made to satisfy ``need``."""
    if given is None:
        require(need <= top, "statement", f"needs {key} >= {need}; the search draws at most {top}")
        return st.integers(need, top)
    if isinstance(given, st.SearchStrategy):
        return given.filter(lambda v: v >= need)
    require(isinstance(given, int) and not isinstance(given, bool) and given > 0, f"restrict.{key}",
            "must be an integer > 0, an array of them or a {min, max} range")
    require(given >= need, "statement", f"an index needs {key} >= {need} but restrict.{key} = {given}")
    return given


def load_conjecture(path: str | Path) -> Conjecture:
    """Read, parse and validate a conjecture file."""
    file = Path(path)
    doc = read_toml(file, "conjecture")
    unknown = set(doc) - {"name", "statement", "description", "restrict"}
    require(not unknown, "conjecture", f"unknown key(s) {', '.join(sorted(unknown))}")
    name = doc.get("name", file.stem)
    require(isinstance(name, str) and re.fullmatch(r"\w[\w.-]*", name) is not None, "name",
            "must be letters, digits, '_', '-' or '.' (it names the counterexample file)")
    relation = parse_statement(doc.get("statement", ""))
    restrict = doc.get("restrict", {})
    require(isinstance(restrict, dict), "restrict", "must be a table")
    for key in restrict:
        require(key in FIELDS, f"restrict.{key}", f"unknown field; known: {', '.join(FIELDS)}")
    overrides = {k: _restriction(k, v) for k, v in restrict.items()}
    needs = index_needs(relation)
    overrides["behaviors"] = _bounded("behaviors", overrides.get("behaviors"), needs["behaviors"], MAX_BEHAVIORS)
    if "phases" not in overrides:
        overrides["steps"] = _bounded("steps", overrides.get("steps"), needs["steps"], MAX_STEPS)
        overrides["phases"] = None
    else:
        phases = overrides["phases"] or []
        require(isinstance(phases, list) and all(isinstance(p, dict) and _is_number(p.get("steps", 0)) for p in phases),
                "restrict.phases",
                "must be an array of phase tables ({name, steps, labels}) or false")
        total = sum(p.get("steps", 0) for p in phases)
        require(total >= needs["steps"], "statement", f"an index needs {needs['steps']} steps but the phases have {total}")
    relation_name = _RELATIONS[type(relation)]
    return Conjecture(name, doc["statement"], relation.lhs, relation_name, relation.rhs, scenarios(name=name, **overrides))


def observe(conjecture: Conjecture, scenario: Scenario, device: str) -> Outcome:
    """Simulate ``scenario`` as ``prefdyn simulate`` does and evaluate both sides."""
    result = run_scenario(scenario, device=device, dtype=torch.float32, progress=False)
    values: dict[sp.Basic, float] = {}
    relation = sp.Eq(conjecture.lhs, conjecture.rhs, evaluate=False)
    for atom in relation.atoms(sp.Indexed):
        name, idx = atom.base.name, [int(i) for i in atom.indices]
        if name in BEHAVIOR_OBSERVABLES:
            values[atom] = float(result.curve(name)[:, idx[1], idx[0]].mean())
        elif name in STEP_OBSERVABLES:
            values[atom] = float(result.curve(STEP_OBSERVABLES[name])[:, idx[0]].mean())
        else:
            values[atom] = float(getattr(scenario.behaviors[idx[0]], name))
    scalars = {"beta": scenario.training.beta, "learning_rate": scenario.training.learning_rate,
               "steps": scenario.training.steps, "samples": scenario.samples, "dim": scenario.dim,
               "behaviors": len(scenario.behaviors)}
    values.update({sp.Symbol(k): float(v) for k, v in scalars.items()})
    lhs, rhs = (float(sp.N(side.xreplace(values))) for side in (conjecture.lhs, conjecture.rhs))
    radius = EQUALITY_RTOL * max(1.0, abs(lhs), abs(rhs)) if conjecture.relation == "=" else 0.0
    return Outcome([Comparison(conjecture.text, torch.tensor(lhs), torch.tensor(rhs), conjecture.relation, radius)])


def check_conjecture(conjecture: Conjecture, *, examples: int = 100, seed: int = 0, device: str = "cpu",
                     out: Path | None = None) -> Report:
    """Search for a counterexample; write it to ``out`` as ``<name>.counterexample.toml``."""
    found = search(conjecture.scenarios, lambda sc: observe(conjecture, sc, device), examples=examples, seed=seed)
    return summarise(conjecture.name, "conjecture", found, out)
