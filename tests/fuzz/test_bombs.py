"""Decompression bombs for every compressor, in shards and N5 blocks: CorruptChunkError,
with memory bounded by the chunk, not by the bomb."""

from __future__ import annotations

import gzip
import zlib

import pytest
import zstandard

from . import bomb_cases, bombs
from .profile import from_environment
from .runner import Runner

CATALOGUE = bomb_cases.catalogue(from_environment().bomb_bytes, from_environment().slow_bomb_bytes)


@pytest.fixture(scope="module")
def runner():
    with Runner(memory_mib=bomb_cases.MEMORY_MIB, timeout_s=60) as r:
        yield r


def test_bombs_decode_to_what_they_claim():
    size = 8 * bombs.MIB
    assert gzip.decompress(bombs.gzip_member(size)) == bytes(size)
    assert zlib.decompress(bombs.zlib_stream(size)) == bytes(size)
    assert zlib.decompress(bombs.deflate_zeros(size), -15) == bytes(size)
    reader = zstandard.ZstdDecompressor().decompressobj()
    assert reader.decompress(bombs.zstd_frame(size, None)) == bytes(size)
    assert zstandard.frame_content_size(bombs.zstd_frame(bombs.MIB, 2**40)) == 2**40


@pytest.mark.parametrize("bomb", CATALOGUE, ids=lambda b: b.label)
def test_bomb(runner, bomb):
    tally = bomb_cases.run(runner, iter([(bomb, bomb_cases.bomb_store(bomb))]))
    tally.assert_clean()
