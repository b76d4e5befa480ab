"""The fuzz suite's profile (``FUZZ_PROFILE`` "quick" or "long", ``FUZZ_SEED``). Each
test module makes its own child-process runner with the limits its category needs."""

from __future__ import annotations

import pytest

from .profile import Profile, from_environment


@pytest.fixture(scope="session")
def profile() -> Profile:
    return from_environment()
