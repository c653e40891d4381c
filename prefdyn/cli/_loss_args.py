"""``--loss NAME | --loss-expr EXPR`` options shared by theory commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefdyn.theory.losses import Loss


def add_loss_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--loss", default="dpo", help="registered loss name (default: dpo)")
    group.add_argument(
        "--loss-expr",
        metavar="EXPR",
        help="user-defined loss phi(h) as a SymPy expression in h and beta, e.g. 'log(1+exp(-h))'",
    )


def loss_from_args(args: argparse.Namespace) -> Loss:
    """The loss named by ``--loss`` or written by ``--loss-expr``."""
    from prefdyn.theory.losses import get_loss, loss_from_expression

    if args.loss_expr is not None:
        return loss_from_expression(args.loss_expr)
    return get_loss(args.loss)
