"""Every ``Examples`` section in the package runs as a doctest, so none can rot."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import prefdyn


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(prefdyn.__path__, "prefdyn.")]
    return ["prefdyn", *sorted(n for n in names if not n.endswith("__main__"))]


def _with_examples(name: str) -> ModuleType | None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    return module if any(t.examples for t in finder.find(module)) else None


MODULES = [name for name in _modules() if _with_examples(name) is not None]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), report=True,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_the_public_entry_points_have_examples() -> None:
    assert {"prefdyn", "prefdyn.formatting", "prefdyn.report.latex"} <= set(MODULES)
