r"""The one parser of user formulas: a whitelist over Python's :mod:`ast`, SymPy built by hand.

Every formula a user (or a file from a stranger) supplies -- ``--loss-expr``, a conjecture's
``statement`` -- goes through :func:`parse_expression`. Nothing is evaluated by Python: the text
is parsed into a syntax tree (``ast.parse(mode="eval")``, which runs no code), every node is
checked against a short whitelist, and the SymPy expression is built node by node. There is no
``eval``, no ``sympify``/``parse_expr`` of the text, no attribute access, no string literal, no
lambda, comprehension or keyword argument, so no object outside the allowed names can be
reached.

Accepted:

* numbers: integer literals, decimal literals (``0.1``, ``1e-3``, ``2.5E+1``), which become
  exact rationals (``sp.Rational("0.1") = 1/10``), and ``True``/``False`` (Piecewise conditions);
* the names the caller allows (symbols, ``IndexedBase`` observables, constants), and the caller's
  handler for other names (by default a :class:`~prefdyn.errors.PrefdynError`);
* ``+ - * / **``, unary ``+ -``, comparisons ``< <= > >= == !=`` (not chained), ``& | ~`` on
  conditions;
* calls of the allowed functions with positional arguments (``Piecewise((value, condition),
  ...)`` takes pairs);
* subscripts of an allowed ``IndexedBase`` by integer literals ``>= 0`` (``accuracy[0, 1]``).

Limits, checked before any SymPy work, so that hostile input is refused in milliseconds:
:data:`MAX_SOURCE` characters, :data:`MAX_NODES` syntax nodes, nesting depth :data:`MAX_DEPTH`,
literals of at most :data:`MAX_LITERAL_DIGITS` digits; while building, every exact number has
numerator and denominator of at most :data:`MAX_NUMBER_BITS` bits and a numeric exponent is at
most :data:`MAX_EXPONENT` in absolute value (so ``9**9**9**9`` is refused, not computed).

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> parse_expression("0.1*x**2 + 1e-3", field="f", names={"x": x})
x**2/10 + 1/1000
>>> parse_expression("x.__class__", field="f", names={"x": x})
Traceback (most recent call last):
...
prefdyn.errors.PrefdynError: f: cannot parse 'x.__class__' (attribute access ('.') is not allowed)
"""

from __future__ import annotations

import ast
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import sympy as sp

from prefdyn.errors import PrefdynError

#: longest formula accepted, in characters
MAX_SOURCE = 2000
#: most syntax-tree nodes accepted
MAX_NODES = 400
#: deepest nesting of the syntax tree accepted
MAX_DEPTH = 100
#: most digits in one numeric literal
MAX_LITERAL_DIGITS = 40
#: most bits of the numerator or denominator of any exact number built
MAX_NUMBER_BITS = 512
#: largest absolute value of a numeric exponent
MAX_EXPONENT = 100

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.BitAnd: lambda a, b: sp.And(a, b),
    ast.BitOr: lambda a, b: sp.Or(a, b),
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: +a,
    ast.Invert: lambda a: sp.Not(a),
}
_COMPARE: dict[type[ast.cmpop], type[sp.Basic]] = {
    ast.Lt: sp.StrictLessThan,
    ast.LtE: sp.LessThan,
    ast.Gt: sp.StrictGreaterThan,
    ast.GtE: sp.GreaterThan,
    ast.Eq: sp.Equality,
    ast.NotEq: sp.Unequality,
}
#: node types that may appear at all (operators and contexts included)
_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Subscript,
    ast.Tuple,
    ast.Load,
    *_BINARY,
    *_UNARY,
    *_COMPARE,
)
#: what a refused construct is called in the message
_NAMES = {
    ast.Attribute: "attribute access ('.')",
    ast.Lambda: "lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.JoinedStr: "an f-string",
    ast.Starred: "'*' unpacking",
    ast.keyword: "a keyword argument",
    ast.NamedExpr: "':='",
    ast.IfExp: "'if ... else'",
    ast.BoolOp: "'and'/'or' (use & and | on conditions)",
    ast.Not: "'not' (use ~)",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Slice: "a slice",
    ast.BitXor: "'^' (powers are written **)",
    ast.Mod: "'%'",
    ast.FloorDiv: "'//'",
    ast.MatMult: "'@'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.Is: "'is'",
    ast.IsNot: "'is not'",
    ast.In: "'in'",
    ast.NotIn: "'not in'",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
    ast.FormattedValue: "an f-string",
}


class _Refused(Exception):
    """A rule broken while reading the tree (turned into one :class:`PrefdynError`)."""


def _shown(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def parse_expression(
    text: str,
    *,
    field: str,
    names: Mapping[str, sp.Basic],
    functions: Mapping[str, Callable[..., Any]] | None = None,
    unknown: Callable[[str], sp.Basic] | None = None,
    evaluate_relations: bool = True,
) -> sp.Basic:
    """The SymPy expression written in ``text``.

    ``names`` maps identifiers to SymPy objects (an ``IndexedBase`` may be subscripted),
    ``functions`` maps callable identifiers to functions of SymPy arguments (``sp.Piecewise``
    takes ``(value, condition)`` pairs). Any other identifier is passed to ``unknown`` (which
    returns a SymPy object or raises); without it, it is an error. ``evaluate_relations=False``
    keeps a comparison of constants as a relation instead of deciding it. Every refusal is a
    :class:`~prefdyn.errors.PrefdynError` ``"<field>: cannot parse '<text>' (<reason>)"``.
    """
    if not isinstance(text, str):
        raise PrefdynError(f"{field}: must be a string, not {type(text).__name__}")
    functions = dict(functions or {})

    def refuse(reason: str) -> PrefdynError:
        return PrefdynError(f"{field}: cannot parse {_shown(text)!r} ({reason})")

    if len(text) > MAX_SOURCE:
        raise refuse(f"longer than {MAX_SOURCE} characters")
    if "\x00" in text:
        raise refuse("contains a NUL character")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise refuse(f"syntax error: {err.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise refuse("too deeply nested") from None
    try:
        _check_shape(tree)
        builder = _Builder(names, functions, unknown, evaluate_relations)
        return builder.build(tree.body)
    except _Refused as err:
        raise refuse(str(err)) from None
    except PrefdynError:
        raise
    except (TypeError, ValueError, ArithmeticError, AttributeError, sp.SympifyError) as err:
        raise refuse(f"not a valid expression: {type(err).__name__}: {_shown(str(err), 120)}") from None
    except RecursionError:
        raise refuse("too deeply nested") from None


def _check_shape(tree: ast.Expression) -> None:
    """Node whitelist, node count and depth, before anything is built (iterative walk)."""
    count = 0
    queue: deque[tuple[ast.AST, int]] = deque([(tree, 0)])
    while queue:  # breadth first: the outermost refused construct is the one named
        node, depth = queue.popleft()
        count += 1
        if count > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES} syntax elements")
        if depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(node, _ALLOWED):
            what = _NAMES.get(type(node), f"'{type(node).__name__}'")
            raise _Refused(f"{what} is not allowed")
        if isinstance(node, ast.Constant):
            _check_literal(node.value)
        queue.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_literal(value: object) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, str | bytes):
        raise _Refused("string literals are not allowed")
    if isinstance(value, int):
        if value.bit_length() > MAX_LITERAL_DIGITS * 3.33:
            raise _Refused(f"integer literal longer than {MAX_LITERAL_DIGITS} digits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Refused("numbers must be finite")
        return
    raise _Refused(f"literal {type(value).__name__} is not allowed")


def _check_number(value: Any) -> Any:
    """``value`` unless it is an exact number too large to keep working with."""
    if isinstance(value, sp.Rational):
        bits = max(int(value.p).bit_length(), int(value.q).bit_length())
        if bits > MAX_NUMBER_BITS:
            raise _Refused(f"a number exceeds {MAX_NUMBER_BITS} bits (about {int(MAX_NUMBER_BITS * 0.30103)} digits)")
    return value


class _Builder:
    def __init__(
        self,
        names: Mapping[str, sp.Basic],
        functions: Mapping[str, Callable[..., Any]],
        unknown: Callable[[str], sp.Basic] | None,
        evaluate_relations: bool,
    ) -> None:
        self.names, self.functions, self.unknown = names, functions, unknown
        self.evaluate_relations = evaluate_relations

    def build(self, node: ast.AST) -> Any:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:  # a whitelisted node outside its place (a bare tuple, a context)
            raise _Refused(f"'{type(node).__name__}' is not allowed here")
        return method(node)

    def _Constant(self, node: ast.Constant) -> Any:
        value = node.value
        if isinstance(value, bool):
            return sp.true if value else sp.false
        if isinstance(value, int):
            return _check_number(sp.Integer(value))
        # repr() of a float is the shortest text that reads back as it: 0.1 -> 1/10, 1e-3 -> 1/1000
        return _check_number(sp.Rational(repr(value)))

    def _Name(self, node: ast.Name) -> Any:
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.functions:
            raise _Refused(f"{node.id} is a function: call it, e.g. {node.id}(h)")
        return self._unknown(node.id)

    def _unknown(self, name: str) -> Any:
        if self.unknown is None:
            raise _Refused(f"unknown name {name!r}")
        return self.unknown(name)

    def _BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.build(node.left), self.build(node.right)
        if (
            isinstance(node.op, ast.Pow)
            and isinstance(right, sp.Basic)
            and right.is_Number
            and abs(right) > MAX_EXPONENT
        ):
            raise _Refused(f"exponent {_shown(str(right), 30)} exceeds {MAX_EXPONENT} in absolute value")
        return _check_number(_BINARY[type(node.op)](left, right))

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _check_number(_UNARY[type(node.op)](self.build(node.operand)))

    def _Compare(self, node: ast.Compare) -> Any:
        if len(node.ops) != 1:
            raise _Refused("chained comparisons (a < b < c) are not allowed; use &")
        relation = _COMPARE[type(node.ops[0])]
        left, right = self.build(node.left), self.build(node.comparators[0])
        return relation(left, right, evaluate=self.evaluate_relations)

    def _Subscript(self, node: ast.Subscript) -> Any:
        base = self.build(node.value) if isinstance(node.value, ast.Name) else None
        if not isinstance(base, sp.IndexedBase):
            raise _Refused("only observables can be indexed, e.g. accuracy[0, 1]")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        indices = []
        for item in items:
            if not (isinstance(item, ast.Constant) and type(item.value) is int and item.value >= 0):
                raise _Refused(f"{base.name}[...]: indices must be integer literals >= 0")
            indices.append(sp.Integer(item.value))
        return base[tuple(indices)] if len(indices) > 1 else base[indices[0]]

    def _Call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise _Refused("only named functions can be called")
        name = node.func.id
        if name not in self.functions:
            if name in self.names:
                raise _Refused(f"{name} is not a function")
            self._unknown(name)  # raises (or, for a caller that allows unknown symbols, ...)
            raise _Refused(f"unknown function {name!r}; known: {', '.join(sorted(self.functions))}")
        function = self.functions[name]
        if function is sp.Piecewise:
            pairs = []
            for arg in node.args:
                if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                    raise _Refused("Piecewise takes (value, condition) pairs")
                pairs.append((self.build(arg.elts[0]), self.build(arg.elts[1])))
            return sp.Piecewise(*pairs)
        return _check_number(function(*(self.build(arg) for arg in node.args)))
