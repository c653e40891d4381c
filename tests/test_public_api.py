"""The public API (``import prefdyn as pd``): its docstring examples run as doctests, and the
import itself loads neither SymPy nor torch."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest

import prefdyn


def test_public_examples_run_as_doctests() -> None:
    result = doctest.testmod(prefdyn, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


def test_import_is_light() -> None:
    code = "import sys, prefdyn; print('sympy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_registered_loss_takes_no_parameters() -> None:
    with pytest.raises(TypeError, match="takes no parameters"):
        prefdyn.loss("ipo", gamma=1.0)


def test_no_subpackage_shadows_a_public_function() -> None:
    """Importing a sub-package binds it as an attribute of its parent: a sub-package named like a
    public function (``prefdyn.report`` once shadowed ``pd.report`` after its first call) would
    replace that function. Every public callable survives importing the whole package."""
    import importlib
    import pkgutil
    import types

    before = {name: getattr(prefdyn, name) for name in prefdyn.__all__ if name != "__version__"}
    for package in ("prefdyn", "prefdyn.theory", "prefdyn.numerics", "prefdyn.verification"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    for name, value in before.items():
        assert getattr(prefdyn, name) is value and not isinstance(value, types.ModuleType), name
