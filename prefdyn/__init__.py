"""prefdyn: the learning dynamics of preference alignment.

The package is one import name over three top-level folders of the repository:

* :mod:`prefdyn.theory` (``theory/``): the symbolic layer. SymPy only; never imports torch.
* :mod:`prefdyn.numerics` (``numerics/``): tensors. Theory evaluated on torch, sampling,
  batched simulation, real data.
* :mod:`prefdyn.verification` (``verification/``): theorems against simulation with Hypothesis.

Dependencies point one way: ``cli -> verification -> numerics -> theory``.

The functions below are the public entry points; they import their layer on first use, so
``import prefdyn`` stays fast and loads neither SymPy nor torch.

>>> import prefdyn as pd
>>> pd.loss("ipo").name
'ipo'
>>> "update-rate" in pd.theorems()
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from prefdyn.numerics.scenario import Scenario
    from prefdyn.numerics.simulator import SimulationResult
    from prefdyn.theory.framework import Theorem
    from prefdyn.theory.losses import Loss

from prefdyn._version import __version__

__all__ = ["__version__", "load_scenario", "loss", "simulate", "theorem", "theorems"]


def loss(spec: str, **params: float) -> Loss:
    r"""A margin loss :math:`\phi(h)`: a registered one by name, or a user expression.

    Parameters
    ----------
    spec
        A registered name (``dpo``, ``ipo``, ``cdpo``, ``rdpo``, ``hinge``, ``exo-pair``,
        ``discopop``) or an expression in the margin ``h``, ``beta`` and the names of
        ``params`` (parsed by a whitelisting parser, never evaluated).
    **params
        Named parameters of an expression and their values.

    Returns
    -------
    Loss
        With SymPy-derived :math:`\phi'`, :math:`\phi''`, :math:`\phi'(0)` and certified
        constants (``sup_abs_dphi``, ``sup_abs_d2phi``, ``stationary_margin``).

    Examples
    --------
    >>> import prefdyn as pd
    >>> pd.loss("dpo").dphi_at_zero
    -1/2
    >>> pd.loss("(h - gamma)**2", gamma=0.5).stationary_margin
    1/2
    """
    from prefdyn.theory.losses import get_loss, loss_from_expression, loss_names

    if spec in loss_names():
        if params:
            raise TypeError(f"loss {spec!r} is registered and takes no parameters")
        return get_loss(spec)
    return loss_from_expression(spec, params)


def theorem(theorem_id: str, loss: str | Loss = "dpo") -> Theorem:
    """The catalogue theorem ``theorem_id`` built for ``loss`` (a name or a :class:`Loss`).

    Parameters
    ----------
    theorem_id
        One of :func:`theorems`.
    loss
        The margin loss the statement is built for.

    Returns
    -------
    Theorem
        ``.check()`` verifies every printed step; ``.latex()`` gives the theorem and proof block.

    Examples
    --------
    >>> import prefdyn as pd
    >>> t = pd.theorem("dpo-gradient", loss="ipo")
    >>> t.check().passed
    True
    >>> t.latex().startswith(r"\\begin{theorem}")
    True
    """
    from prefdyn.theory.catalogue import get_theorem

    return get_theorem(theorem_id, loss)


def theorems() -> list[str]:
    """Ids of the catalogue's theorems, in catalogue order.

    Examples
    --------
    >>> import prefdyn as pd
    >>> pd.theorems()[0]
    'dpo-gradient'
    """
    from prefdyn.theory.catalogue import theorem_ids

    return theorem_ids()


def load_scenario(path: str | Path | None = None) -> Scenario:
    """A simulation scenario from a TOML file, or the built-in default when ``path`` is ``None``.

    Examples
    --------
    >>> import prefdyn as pd
    >>> len(pd.load_scenario().behaviors)
    4
    """
    from prefdyn.numerics.scenario import default_scenario
    from prefdyn.numerics.scenario import load_scenario as load

    return default_scenario() if path is None else load(path)


def simulate(scenario: Scenario, runs: int | None = None, seed: int | None = None,
             device: str | None = "cpu") -> SimulationResult:
    """Batched simulated training of ``runs`` independent runs of ``scenario``.

    Parameters
    ----------
    scenario
        From :func:`load_scenario`.
    runs, seed
        Default to the scenario's ``[training]`` table.
    device
        ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when present).

    Returns
    -------
    SimulationResult
        Curves per run; ``.summary()`` gives mean and standard deviation across runs.

    Examples
    --------
    >>> import prefdyn as pd
    >>> result = pd.simulate(pd.load_scenario(), runs=2, seed=0)
    >>> sorted(result.summary())[:2]
    ['behaviors', 'phases']
    """
    from prefdyn.numerics.runner import run_scenario

    return run_scenario(scenario, runs=runs, seed=seed, device=device)
