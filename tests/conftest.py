import os

import pytest
from hypothesis import HealthCheck, settings

import cuzarr

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CONFORMANCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "conformance")


@pytest.fixture(autouse=True)
def _reset_config():
    """Every test starts from the default runtime settings."""
    cuzarr.config.reset()
    yield
    cuzarr.config.reset()
