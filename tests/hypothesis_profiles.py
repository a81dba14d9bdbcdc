"""Hypothesis profiles: ``dev`` (the default), ``ci`` and ``deep``.

Registered by tests/conftest.py (``register()``), so ``pytest --hypothesis-profile=NAME`` can
pick one; without that option ``dev`` is loaded, or the profile named by ``HYPOTHESIS_PROFILE``.

- ``dev``: Hypothesis's defaults (100 examples, random, with the example database).
- ``ci``: a fixed budget that gives the same run every time: 200 examples, derandomised, no
  deadline (shared CI machines are slow now and then), no example database, and no complaint
  about slow data generation (the mail strategies build whole MIME trees).
- ``deep``: 20,000 examples, for a long run by hand or at night:
  ``pytest tests/matching/test_properties.py --hypothesis-profile=deep``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("dev", "ci", "deep")


def register() -> None:
    settings.register_profile("dev", settings.get_profile("default"))
    settings.register_profile(
        "ci",
        max_examples=200,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
    )
    settings.register_profile(
        "deep",
        max_examples=20_000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
