"""``--loss NAME | --loss-expr EXPR [--param NAME=VALUE ...]`` options shared by theory commands."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from prefdyn.errors import PrefdynError

if TYPE_CHECKING:
    from prefdyn.theory.losses import Loss


def add_loss_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--loss", default="dpo", help="registered loss name (default: dpo)")
    group.add_argument(
        "--loss-expr",
        metavar="EXPR",
        help="user-defined loss phi(h) as an expression in h, beta and the --param names, "
        "e.g. 'log(1 + exp(-(h - gamma)))'",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a named parameter of --loss-expr and its value (repeatable), e.g. --param gamma=0.5",
    )


def loss_inputs(args: argparse.Namespace) -> dict[str, object]:
    """The loss options exactly as given, for a cache key: the ``--loss-expr`` text is never parsed."""
    if args.loss_expr is not None:
        return {"loss_expr": args.loss_expr, "param": args.param}
    return {"loss": args.loss, "param": args.param}


def parse_params(items: list[str]) -> dict[str, float]:
    """``["gamma=0.5", ...]`` -> ``{"gamma": 0.5, ...}``: identifiers and finite numbers only."""
    params: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise PrefdynError(f"param: {item!r} must read NAME=VALUE with NAME an identifier")
        try:
            number = float(value)
        except ValueError:
            raise PrefdynError(f"param: {item!r}: VALUE must be a number") from None
        if not math.isfinite(number):
            raise PrefdynError(f"param: {item!r}: VALUE must be finite")
        if name in params:
            raise PrefdynError(f"param: {name!r} is given twice")
        params[name] = number
    return params


def loss_from_args(args: argparse.Namespace) -> Loss:
    """The loss named by ``--loss`` or written by ``--loss-expr`` (with its ``--param`` values)."""
    from prefdyn.theory.losses import get_loss, loss_from_expression

    params = parse_params(args.param)
    if args.loss_expr is not None:
        return loss_from_expression(args.loss_expr, params)
    if params:
        raise PrefdynError("param: --param sets parameters of --loss-expr; a registered --loss takes none")
    return get_loss(args.loss)
