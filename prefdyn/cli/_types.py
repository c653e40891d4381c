"""Argument types shared by the sub-commands: a bad value is an argparse error naming the flag
and the rule (exit status 2), before any work starts."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(
    kind: type[int | float], *, minimum: float | None = None, above: float | None = None, below: float | None = None
) -> Callable[[str], float]:
    """A finite ``kind(text)`` with ``value >= minimum``, ``value > above`` and ``value < below``
    (each rule only when given)."""
    rules = [(minimum, lambda v, m: v >= m, ">="), (above, lambda v, m: v > m, ">"), (below, lambda v, m: v < m, "<")]

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {'an integer' if kind is int else 'a number'}, not {text!r}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, not {text}")
        for bound, holds, sign in rules:
            if bound is not None and not holds(value, bound):
                raise argparse.ArgumentTypeError(f"must be {sign} {bound:g}, not {text}")
        return value

    return parse


def positive(kind: type[int | float]) -> Callable[[str], float]:
    """A finite ``kind(text) > 0``."""
    return number(kind, above=0)


#: a seed: an integer >= 0
SEED = number(int, minimum=0)


def cluster_address(text: str) -> str:
    """``--cluster``: a Ray address of :func:`prefdyn.cluster.parse_address`, else an argparse
    error naming the flag (the module is light: no Ray import)."""
    from prefdyn.cluster import parse_address
    from prefdyn.errors import PrefdynError

    try:
        return parse_address(text, "--cluster")
    except PrefdynError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--cluster: ")) from None


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: torch's CPU threads for the command (default: the policy of
    :mod:`prefdyn.threads` -- one thread for small work, never more than the idle cores,
    ``OMP_NUM_THREADS`` respected)."""
    parser.add_argument(
        "--threads",
        type=positive(int),
        default=None,
        metavar="N",
        help="CPU threads for torch (default: by problem size and idle cores; OMP_NUM_THREADS is respected)",
    )
