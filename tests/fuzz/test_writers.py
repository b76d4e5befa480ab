"""Processes writing disjoint rows that share a chunk or a shard of one local folder
array: no row is lost."""

from __future__ import annotations

import pytest

from . import writer_cases


@pytest.mark.parametrize("kind", ("sharded", "plain"))
def test_processes_sharing_a_chunk(profile, tmp_path, kind):
    tally = writer_cases.run_rounds(
        str(tmp_path), kind, profile.writer_processes, profile.writer_rounds
    )
    tally.assert_clean()


@pytest.mark.parametrize("kind", ("sharded", "plain"))
def test_dask_store_with_processes(profile, tmp_path, kind):
    pytest.importorskip("dask")
    tally = writer_cases.dask_store(str(tmp_path), kind, profile.writer_processes)
    tally.assert_clean()
