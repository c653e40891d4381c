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
