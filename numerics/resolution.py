r"""Whether a run's change of the loss is resolved by the dtype it was trained in.

The metrics are reduced in float64, but each sample's loss comes from margins computed in the
training dtype, whose relative rounding is :math:`\epsilon` (``torch.finfo(dtype).eps``:
:math:`2^{-23} \approx 1.2\times 10^{-7}` in float32). A change of the training loss of
behaviour :math:`b` over a run,

.. math::

    |L_T - L_0| < c\,\epsilon\,|L_0|, \qquad c = 16,

is within a few roundings of the loss itself (:math:`c` leaves room for the rounding of the
margins, of :math:`\phi` and of the update): the direction and size of such a change, and any
ranking or "harmed" verdict built on it, are not resolved in that dtype. Training in float64
resolves it (the simulator computes in float64 for float64 data).
"""

from __future__ import annotations

import warnings

import torch

from prefdyn.errors import PrefdynWarning

from .simulator import SimulationResult

#: :math:`c`: a loss change below :math:`c\,\epsilon\,|L_0|` is not resolved (module docstring).
RESOLUTION_ULPS = 16
#: Behaviours named in a warning before the rest are counted.
NAMED = 3


def loss_resolution(dtype: torch.dtype) -> float:
    r"""The smallest resolved relative change of a loss trained in ``dtype``,
    :math:`c\,\epsilon(\text{dtype})` (module docstring)."""
    return RESOLUTION_ULPS * torch.finfo(dtype).eps


def unresolved_behaviors(result: SimulationResult, dtype: torch.dtype) -> list[str]:
    r"""The behaviours whose training loss changes by less than :math:`c\,\epsilon|L_0|` between
    the first and the last recorded step of some run.

    Parameters
    ----------
    result
        Curves of ``R`` runs (:class:`~prefdyn.numerics.simulator.SimulationResult`).
    dtype
        The dtype the runs were trained in (the simulator's compute dtype).

    Returns
    -------
    list of str
        Behaviour names, in the result's order (empty when every change is resolved).
    """
    loss = result.curve("loss", "train")  # [R, T, K]
    first, last = loss[:, 0], loss[:, -1]
    unresolved = ((last - first).abs() < loss_resolution(dtype) * first.abs()).any(dim=0)
    return [name for name, flag in zip(result.behavior_names, unresolved.tolist(), strict=True) if flag]


def warn_unresolved_loss(result: SimulationResult, dtype: torch.dtype) -> str | None:
    """Warn (:class:`~prefdyn.errors.PrefdynWarning`) when :func:`unresolved_behaviors` finds any
    in a run trained in a dtype narrower than float64 (float64 is the remedy, so a float64 run is
    never warned about); returns the message, or ``None`` when there is nothing to say."""
    names = [] if dtype == torch.float64 else unresolved_behaviors(result, dtype)
    if not names:
        return None
    kind = str(dtype).removeprefix("torch.")
    shown = ", ".join(names[:NAMED]) + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")
    message = (
        f"the training loss of {len(names)} of {len(result.behavior_names)} behaviour(s) ({shown}) changes by "
        f"less than {RESOLUTION_ULPS} eps({kind}) |L_0| = {loss_resolution(dtype):.2g} |L_0| over the run: "
        f"the change is not resolved in {kind}; train in float64"
    )
    warnings.warn(message, PrefdynWarning, stacklevel=3)
    return message
