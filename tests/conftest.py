"""Shared test configuration: a deterministic Hypothesis profile (no deadlines, derandomised in CI)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "prefdyn",
    deadline=None,  # first calls pay SymPy/torch warm-up; wall-clock must never fail a test
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("prefdyn")
