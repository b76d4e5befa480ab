"""Mutated metadata documents of every format, opened and read through the public API:
each step succeeds or raises a ZarrError, without hanging or exhausting memory."""

from __future__ import annotations

import pytest

from . import metadata_cases
from .runner import Runner

FORMATS = (3, 2, "n5")


@pytest.fixture(scope="module")
def runner():
    with Runner(memory_mib=1024, timeout_s=6) as r:
        yield r


def test_every_format_has_documents_to_mutate():
    kinds = {(b.fmt, b.kind) for b in metadata_cases.bases()}
    assert kinds >= {(3, "array"), (3, "group"), (2, "array"), (2, "group"), ("n5", "array")}
    keys = {k.rsplit("/", 1)[-1] for b in metadata_cases.bases() for k in b.targets}
    assert keys >= {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata", "attributes.json"}


def test_mutations_change_the_documents(profile):
    cases = list(metadata_cases.generate(profile.seed, 60))
    changed = [c for c in cases if c.raw != dict(c.base.items)[c.key]]
    assert len(changed) > 50


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"zarr_format={f}")
def test_malformed_metadata(runner, profile, fmt):
    count = profile.metadata_cases // len(FORMATS)
    tally = metadata_cases.run(runner, metadata_cases.generate(profile.seed, count, fmt))
    assert tally.cases > 0
    tally.assert_clean()
