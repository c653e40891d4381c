r"""The structured preference model, symbolically.

Behaviours :math:`b = 1..K` have weights :math:`p_b`, positive fractions :math:`q_b` (share whose
preferred answer is the first response), label-flip rates :math:`\epsilon_b`, and class means

.. math:: \mu_b^\pm = c_b \pm \tfrac12 \delta_b ,

with distinguishability vectors :math:`\delta_b` and offsets :math:`c_b`. Offsets are orthogonal to
every :math:`\delta_{b'}`, so every inner product reduces to the
**Gram matrices** :math:`G_{bb'} = \langle\delta_b,\delta_{b'}\rangle` and
:math:`C_{bb'} = \langle c_b, c_{b'}\rangle`. :class:`PreferenceModel` represents vectors by their
coefficients over the formal basis :math:`(\delta_1..\delta_K, c_1..c_K)`, which makes that
reduction exact linear algebra: :meth:`PreferenceModel.inner` returns a scalar SymPy expression
in :math:`G, C`.

Class covariances are :math:`\Sigma_b^\pm = \sigma_b^2 I` (``isotropic``),
:math:`\operatorname{diag}(\sigma_{b,1}^2..)` (``diagonal``) or a symmetric matrix symbol
(``full``), see :meth:`PreferenceModel.covariance`.

:class:`FiniteLaw` is the concrete counterpart used to *check* derivations: explicit symbolic
coordinates in :math:`\mathbb R^d` and a finite generative law (behaviour, true label, label
flip, symmetric noise sign) whose expectations are exact finite sums.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import sympy as sp

Covariance = Literal["isotropic", "diagonal", "full"]

#: The embedding dimension :math:`d` when left symbolic.
DIMENSION = sp.Symbol("d", positive=True, integer=True)


def vector(name: str, d: int, **assumptions: bool) -> sp.Matrix:
    r"""A column of ``d`` symbols ``name_1 .. name_d``, 1-based as printed (real unless
    ``assumptions`` say otherwise, e.g. ``positive=True``): the explicit coordinates of a vector
    in :math:`\mathbb R^d` of the checks' instances."""
    return sp.Matrix([sp.Symbol(f"{name}_{i}", **(assumptions or {"real": True})) for i in range(1, d + 1)])


@dataclass(frozen=True)
class PreferenceModel:
    """K behaviours in the Gram-matrix view (see the module docstring)."""

    K: int
    covariance_kind: Covariance = "isotropic"
    dim: int | sp.Symbol = DIMENSION

    def __post_init__(self) -> None:
        if self.K < 1:
            raise ValueError("K: the number of behaviours must be >= 1")

    def _vec(self, name: str) -> list[sp.Symbol]:
        return list(vector(name, self.K, **self._assumptions(name)))

    @staticmethod
    def _assumptions(name: str) -> dict[str, bool]:
        return {"positive": True} if name in ("p", "q", "epsilon", "sigma") else {"real": True}

    @cached_property
    def weights(self) -> list[sp.Symbol]:
        return self._vec("p")

    @cached_property
    def positive_fractions(self) -> list[sp.Symbol]:
        return self._vec("q")

    @cached_property
    def label_noise(self) -> list[sp.Symbol]:
        return self._vec("epsilon")

    @cached_property
    def noise(self) -> list[sp.Symbol]:
        return self._vec("sigma")

    @cached_property
    def gram(self) -> sp.Matrix:
        r""":math:`G_{bb'} = \langle\delta_b, \delta_{b'}\rangle` (symmetric symbol matrix)."""
        return _symmetric_symbols("G", self.K)

    @cached_property
    def offset_gram(self) -> sp.Matrix:
        r""":math:`C_{bb'} = \langle c_b, c_{b'}\rangle`."""
        return _symmetric_symbols("C", self.K)

    @cached_property
    def _basis_gram(self) -> sp.Matrix:
        return sp.diag(self.gram, self.offset_gram)

    def delta(self, b: int) -> sp.Matrix:
        r"""Coefficients of :math:`\delta_b` (``b`` is 0-based)."""
        return _unit(2 * self.K, b)

    def offset(self, b: int) -> sp.Matrix:
        r"""Coefficients of :math:`c_b`."""
        return _unit(2 * self.K, self.K + b)

    def mean(self, b: int, sign: int) -> sp.Matrix:
        r""":math:`\mu_b^{\pm} = c_b \pm \delta_b/2`."""
        return self.offset(b) + sp.Rational(sign, 2) * self.delta(b)

    def signed_mean(self, b: int) -> sp.Matrix:
        r""":math:`m_b = \mathbb E[s\,g\mid b] = (1-2\epsilon_b)(q_b\mu_b^+ - (1-q_b)\mu_b^-)`."""
        q, eps = self.positive_fractions[b], self.label_noise[b]
        return (1 - 2 * eps) * (q * self.mean(b, +1) - (1 - q) * self.mean(b, -1))

    def inner(self, u: sp.Matrix, v: sp.Matrix) -> sp.Expr:
        """The inner product of two basis-coefficient vectors, in Gram entries."""
        return sp.expand((u.T * self._basis_gram * v)[0, 0])

    def covariance(self, b: int) -> sp.Expr | sp.MatrixBase:
        r""":math:`\Sigma_b` as a SymPy object of the chosen structure (size ``dim``)."""
        if self.covariance_kind == "isotropic":
            return self.noise[b] ** 2 * sp.Identity(self.dim)
        name = rf"\Sigma_{{{b + 1}}}"
        return sp.MatrixSymbol(name, self.dim, self.dim)


def _unit(size: int, index: int) -> sp.Matrix:
    vector = sp.zeros(size, 1)
    vector[index] = 1
    return vector


def _symmetric_symbols(name: str, K: int) -> sp.Matrix:
    return sp.Matrix(K, K, lambda i, j: sp.Symbol(f"{name}_{{{min(i, j) + 1}{max(i, j) + 1}}}", real=True))


# --------------------------------------------------------------------------- finite laws


@dataclass(frozen=True)
class Atom:
    """One outcome of a :class:`FiniteLaw`: probability, behaviour, observed sign, embedding."""

    probability: sp.Expr
    behavior: int
    sign: int
    embedding: sp.Matrix


@dataclass(frozen=True)
class FiniteLaw:
    r"""A concrete K-behaviour mixture in :math:`\mathbb R^d` with a finite law.

    Behaviour ``b`` w.p. :math:`p_b` (:math:`p_K = 1-\sum_{b<K} p_b`), true label ``+`` w.p.
    :math:`q_b`, flipped w.p. :math:`\epsilon_b` (when ``label_noise``), embedding
    :math:`g = \mu_b^{t} + r\,\xi_b^{t}` with an equiprobable noise sign :math:`r = \pm1` and
    symbolic noise vectors :math:`\xi` (mean zero, arbitrary second moment).
    """

    K: int
    d: int
    label_noise: bool = True

    @cached_property
    def weights(self) -> list[sp.Expr]:
        free = [sp.Symbol(f"p_{b}", positive=True) for b in range(1, self.K)]
        return [*free, 1 - sum(free)]

    @cached_property
    def positive_fractions(self) -> list[sp.Symbol]:
        return [sp.Symbol(f"q_{b}", positive=True) for b in range(1, self.K + 1)]

    @cached_property
    def flip_rates(self) -> list[sp.Expr]:
        if not self.label_noise:
            return [sp.Integer(0)] * self.K
        return [sp.Symbol(f"epsilon_{b}", positive=True) for b in range(1, self.K + 1)]

    def mean(self, b: int, sign: int) -> sp.Matrix:
        return vector(f"mu{'p' if sign > 0 else 'm'}{b + 1}", self.d)

    def _noise(self, b: int, sign: int) -> sp.Matrix:
        return vector(f"xi{'p' if sign > 0 else 'm'}{b + 1}", self.d)

    def atoms(self) -> Iterator[Atom]:
        for b, t, flip, r in itertools.product(range(self.K), (1, -1), (0, 1), (1, -1)):
            q, eps = self.positive_fractions[b], self.flip_rates[b]
            if flip and eps == 0:
                continue
            prob = self.weights[b] * (q if t > 0 else 1 - q) * (eps if flip else 1 - eps) / 2
            g = self.mean(b, t) + r * self._noise(b, t)
            yield Atom(prob, b, -t if flip else t, g)

    def expectation(self, f: Callable[[Atom], sp.Expr | sp.MatrixBase]) -> sp.Expr | sp.MatrixBase:
        """:math:`\\mathbb E[f]` as an exact finite sum over the atoms."""
        terms = [atom.probability * f(atom) for atom in self.atoms()]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def signed_mean(self, b: int) -> sp.Matrix:
        q, eps = self.positive_fractions[b], self.flip_rates[b]
        return (1 - 2 * eps) * (q * self.mean(b, 1) - (1 - q) * self.mean(b, -1))
