"""Corrupted chunks of every codec set-up: reads and read-modify-writes succeed or raise
a ZarrError, and no wrong value passes a crc32c checksum."""

from __future__ import annotations

import pytest

from . import chunk_cases
from .runner import Runner
from .setups import CODEC_SETUPS, chunk_keys, store_of

FORMATS = (3, 2, "n5")


@pytest.fixture(scope="module")
def runner():
    with Runner(memory_mib=1024, timeout_s=6) as r:
        yield r


def test_every_set_up_stores_chunks():
    empty = [s.label for s in CODEC_SETUPS if not chunk_keys(store_of(s))]
    assert not empty


def test_corruptions_change_the_chunks(profile):
    # A few corruptions may write what was there already (zeros over zeros).
    cases = list(chunk_cases.generate(profile.seed, 100))
    changed = [c for c in cases if dict(c.items) != store_of(c.setup)]
    assert len(changed) >= 90


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"zarr_format={f}")
def test_corrupted_chunks(runner, profile, fmt):
    count = profile.chunk_cases // len(FORMATS)
    tally = chunk_cases.run(runner, chunk_cases.generate(profile.seed, count, fmt))
    assert tally.cases > 0
    tally.assert_clean()
