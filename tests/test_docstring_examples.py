"""Every ``Examples`` section in the package runs as a doctest, so none can rot."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import prefdyn


def _modules() -> list[str]:
    """Every module of the package. The layer folders are sub-packages by setuptools' mapping,
    not by being inside ``prefdyn/``, so each is walked from its own path."""
    names = {"prefdyn"}
    for package in ("prefdyn", "prefdyn.theory", "prefdyn.numerics", "prefdyn.verification"):
        module = importlib.import_module(package)
        names |= {package} | {m.name for m in pkgutil.walk_packages(module.__path__, f"{package}.")}
    return sorted(n for n in names if not n.endswith("__main__"))


def _with_examples(name: str) -> ModuleType | None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    return module if any(t.examples for t in finder.find(module)) else None


MODULES = [name for name in _modules() if _with_examples(name) is not None]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), report=True, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0


@pytest.mark.parametrize("name", [n for n in prefdyn.__all__ if callable(getattr(prefdyn, n))])
def test_public_functions_have_numpydoc_sections(name: str) -> None:
    doc = getattr(prefdyn, name).__doc__ or ""
    sections = ("Returns", "Examples") if name == "theorems" else ("Parameters", "Returns", "Examples")
    if isinstance(getattr(prefdyn, name), type):
        sections = ("Examples",)
    missing = [s for s in sections if f"\n    {s}\n    ---" not in doc and f"\n{s}\n---" not in doc]
    assert not missing, f"prefdyn.{name}: docstring lacks {missing}"
