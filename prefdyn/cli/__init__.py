"""The ``prefdyn`` command line.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed namespace and returning an exit status. Modules are discovered, so adding a command
never edits a shared table. Registration must stay cheap (no torch import); heavy imports
happen inside the command.

Exit status: 0 success, 1 a check failed (e.g. a theorem did not verify), 2 bad input (one
``prefdyn COMMAND: error: field: rule`` line per error found). A result to read with care
(:class:`~prefdyn.errors.PrefdynWarning`) adds one ``prefdyn COMMAND: warning: ...`` line on
stderr when the command ends, however many times the library warned of it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import NoReturn

from prefdyn._version import __version__
from prefdyn.errors import PrefdynError, PrefdynWarning


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error when stderr is not a terminal (logs, pipes, CI): the
    usage block is for people at a prompt. Sub-command parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        if sys.stderr.isatty():
            super().error(message)
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(text: object) -> str:
    return " ".join(str(text).split()) if "\n" in str(text) or "\r" in str(text) else str(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="prefdyn",
        description="Learning dynamics of preference alignment: derive, simulate, verify, measure.",
    )
    parser.add_argument("--version", action="version", version=f"prefdyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


@contextlib.contextmanager
def _warning_lines(command: str) -> Iterator[None]:
    """Print the :class:`PrefdynWarning` s raised inside as one stderr line per warning class
    when the block ends (the first message, and how many more there were); other warnings are
    shown as Python shows them."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PrefdynWarning)
            yield
    finally:
        kinds: dict[type[Warning], list[str]] = {}
        for w in caught:
            if issubclass(w.category, PrefdynWarning):
                kinds.setdefault(w.category, []).append(_one_line(w.message))
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        for messages in kinds.values():
            more = f" (and {len(messages) - 1} more such warning(s))" if len(messages) > 1 else ""
            print(f"prefdyn {command}: warning: {messages[0]}{more}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        with _warning_lines(args.command):
            return int(args.func(args) or 0)
    except PrefdynError as err:  # several errors of one input (PrefdynErrors): one line each
        for message in getattr(err, "messages", None) or [str(err)]:
            print(f"prefdyn {args.command}: error: {_one_line(message)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `prefdyn derive ... | head`
        sys.stderr.close()
        return 0
    except (MemoryError, OverflowError, RecursionError, OSError) as err:
        # not bad input we could name, but still one clean line (PREFDYN_DEBUG=1: the traceback)
        if os.environ.get("PREFDYN_DEBUG"):
            raise
        what = {
            MemoryError: "out of memory",
            OverflowError: "a number is out of range",
            RecursionError: "input nested too deeply",
        }.get(type(err), type(err).__name__)
        detail = getattr(err, "strerror", None) or str(err)
        filename = getattr(err, "filename", None)
        where = f" ({filename})" if filename else ""
        print(f"prefdyn {args.command}: error: {what}: {_one_line(detail)[:300]}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"prefdyn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
