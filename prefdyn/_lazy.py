"""Lazy public names (PEP 562): a package names what it exports and where, and imports each on first
use, so importing the package stays light (no torch, no SymPy until needed)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``exports`` maps each public name to the
    module defining it (absolute, or relative to ``package`` when it starts with a dot).

    >>> getattr_ = lazy_attributes("prefdyn", {"sig": "prefdyn.formatting"})
    >>> getattr_("sig")(0.5)
    '0.5'
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    return __getattr__
