"""Output helpers shared by the sub-commands."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from prefdyn.errors import PrefdynError


def _check_finite(obj: Any, path: str) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise PrefdynError(f"{path}: result is not finite ({obj}); refusing to print it")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_finite(value, f"{path}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_finite(value, f"{path}[{i}]")


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout; every number must be finite."""
    _check_finite(document, "$")
    json.dump(document, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
