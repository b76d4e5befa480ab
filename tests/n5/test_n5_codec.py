"""The N5 block codec (``n5_default``: header + inner chain) and lz4-java's LZ4Block
framing (``n5_lz4``), against the N5 README's example and hand-built streams."""

from __future__ import annotations

import struct

import numcodecs.lz4
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec
from cuzarr.codecs.bytes import BytesCodec
from cuzarr.codecs.gzip import GzipCodec
from cuzarr.codecs.n5 import (
    LZ4_SEED,
    N5DefaultCodec,
    N5LZ4Codec,
    decode_header,
    encode_header,
    xxh32,
    xxh32_equal_blocks,
)
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.errors import ChecksumError, CorruptChunkError, UnsupportedError

# The N5 README's example: a uint16 block of size 1 x 2 x 3 (N5 order), values 1..6, raw.
README_BLOCK = bytes.fromhex("0000 0003 00000001 00000002 00000003 0001 0002 0003 0004 0005 0006")


def _codec(ndim: int, *compressor) -> N5DefaultCodec:
    """n5_default as the registry defines it: input in N5 order, payload F order."""
    rev = TransposeCodec(tuple(range(ndim - 1, -1, -1)))
    return N5DefaultCodec([rev, BytesCodec("big"), *compressor])


def test_readme_example_decodes_and_encodes():
    codec = _codec(3)
    spec = ChunkSpec((1, 2, 3), np.dtype("u2"), 0)
    block = codec.decode_chunk(README_BLOCK, spec)
    # dimension 0 varies fastest: element (i, j, k) is number i + j + 2k (+1)
    expected = np.arange(1, 7, dtype="u2").reshape(3, 2, 1).T
    np.testing.assert_array_equal(block, expected)
    assert bytes(codec.encode_chunk(expected, spec)) == README_BLOCK


def test_header_round_trip_and_registry_form():
    assert encode_header((5, 1, 70000)) == bytes.fromhex("0000 0003 00000005 00000001 00011170")
    assert decode_header(memoryview(encode_header((4, 2))), 2) == ((4, 2), None, 12)
    codec = _codec(2, GzipCodec(5))
    again = as_codec(codec.to_v3())
    assert again == codec and again.compressor == GzipCodec(5)
    assert codec.to_v3()["name"] == "n5_default"


def test_truncated_edge_block_is_padded_with_the_fill_value():
    codec = _codec(2)
    spec = ChunkSpec((4, 3), np.dtype("i4"), 0)
    short = np.arange(6, dtype="i4").reshape(2, 3)
    data = encode_header((2, 3)) + short.T.astype(">i4").tobytes()
    block = codec.decode_chunk(data, spec)
    assert block.shape == (4, 3)
    np.testing.assert_array_equal(block[:2], short)
    assert not block[2:].any()


def test_edge_block_is_written_truncated_to_the_extent():
    codec = _codec(2, GzipCodec(1))
    spec = ChunkSpec((4, 3), np.dtype("f8"), 0, extent=(2, 1))
    full = np.arange(12, dtype="f8").reshape(4, 3)
    data = bytes(codec.encode_chunk(full, spec))
    assert decode_header(memoryview(data), 2)[0] == (2, 1)
    back = codec.decode_chunk(data, ChunkSpec((4, 3), np.dtype("f8"), 0))
    np.testing.assert_array_equal(back[:2, :1], full[:2, :1])
    assert not back[2:].any() and not back[:, 1:].any()


def test_varlength_blocks_are_read_when_the_count_fills_the_box():
    codec = _codec(1)
    spec = ChunkSpec((4,), np.dtype("u1"), 0)
    head = struct.pack(">HHII", 1, 1, 3, 3)
    np.testing.assert_array_equal(codec.decode_chunk(head + b"\x07\x08\x09", spec), [7, 8, 9, 0])
    with pytest.raises(UnsupportedError, match="varlength"):
        codec.decode_chunk(struct.pack(">HHII", 1, 1, 3, 2) + b"\x07\x08", spec)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"\x00", CorruptChunkError, "shorter than a block header"),
        (struct.pack(">HI", 2, 3) + b"abc", UnsupportedError, "object-mode"),
        (struct.pack(">HH", 7, 1), CorruptChunkError, "unknown block mode 7"),
        (struct.pack(">HHI", 0, 2, 4), CorruptChunkError, "2 dimensions, the dataset 1"),
        (struct.pack(">HH", 0, 1) + b"\x00", CorruptChunkError, "shorter than its 8-byte header"),
        (struct.pack(">HHI", 0, 1, 9) + bytes(9), CorruptChunkError, "exceeds the block size"),
        (struct.pack(">HHI", 0, 1, 4) + bytes(3), CorruptChunkError, "3 bytes"),
    ],
)
def test_bad_blocks_are_refused(data, error, match):
    with pytest.raises(error, match=match):
        _codec(1).decode_chunk(data, ChunkSpec((4,), np.dtype("u1"), 0))


# -- XXH32 and the LZ4Block framing ---------------------------------------------------------


def _sanity_buffer(n: int) -> bytes:
    """xxHash's own self-test input."""
    out, gen = bytearray(), 2654435761
    for _ in range(n):
        out.append(gen >> 24)
        gen = gen * gen & 0xFFFFFFFF
    return bytes(out)


@pytest.mark.parametrize(
    ("n", "seed", "expected"),
    [
        (0, 0, 0x02CC5D05),
        (0, 2654435761, 0x36B78AE7),
        (1, 0, 0xB85CBEE5),
        (1, 2654435761, 0xD5845D64),
        (14, 0, 0xE5AA0AB4),
        (14, 2654435761, 0x4481951D),
        (101, 0, 0x1F1AA412),
        (101, 2654435761, 0x498EC8E2),
    ],
)
def test_xxh32_matches_the_reference_vectors(n, seed, expected):
    assert xxh32(_sanity_buffer(n), seed) == expected


@pytest.mark.parametrize("block_size", [7, 16, 100, 4096])
def test_xxh32_of_many_blocks_matches_one_at_a_time(block_size):
    data = np.random.default_rng(1).integers(0, 256, block_size * 6, dtype=np.uint8).tobytes()
    each = [xxh32(data[i : i + block_size], LZ4_SEED) for i in range(0, len(data), block_size)]
    assert xxh32_equal_blocks(data, block_size, LZ4_SEED) == each


def _lz4block(method: int, level: int, body: bytes, decoded: bytes) -> bytes:
    check = xxh32(decoded, 0x9747B28C) & 0x0FFFFFFF
    return (
        b"LZ4Block"
        + bytes([method | level])
        + struct.pack("<iii", len(body), len(decoded), check)
        + body
    )


END = b"LZ4Block" + bytes([0x10]) + bytes(12)


def test_hand_built_lz4_java_stream_decodes():
    # An LZ4 block of literals only: token 0x50 = five literals, no match.
    stream = _lz4block(0x20, 0, b"\x50hello", b"hello") + _lz4block(0x10, 0, b" raw", b" raw") + END
    assert N5LZ4Codec().decode_chunk(stream, None) == b"hello raw"
    # a missing end marker is tolerated; two concatenated streams are read on
    assert N5LZ4Codec().decode_chunk(stream[: -len(END)], None) == b"hello raw"
    assert N5LZ4Codec().decode_chunk(stream + stream, None) == b"hello raw" * 2


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 1000])
def test_lz4_framing_round_trips_in_blocks(size):
    codec = N5LZ4Codec(block_size=100)
    data = (np.arange(size) // 7).astype("u1").tobytes()
    encoded = codec.encode_chunk(data, None)
    assert codec.decode_chunk(encoded, None) == data
    assert encoded.endswith(END)  # level of block size 100 is 0
    assert encoded.count(b"LZ4Block") == -(-size // 100) + 1


def test_lz4_framing_header_fields():
    data = bytes(70000)
    encoded = N5LZ4Codec().encode_chunk(data, None)
    magic, token, clen, dlen, check = struct.unpack_from("<8sBiii", encoded)
    assert (magic, token, dlen) == (b"LZ4Block", 0x20 | 6, 65536)  # ceil(log2(65536)) - 10
    assert check == xxh32(bytes(65536), 0x9747B28C) & 0x0FFFFFFF
    raw = numcodecs.lz4.decompress(struct.pack("<I", dlen) + encoded[21 : 21 + clen])
    assert raw == bytes(65536)


def test_incompressible_blocks_are_stored_raw():
    data = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes()
    encoded = N5LZ4Codec(block_size=1024).encode_chunk(data, None)
    assert encoded[8] == 0x10 and encoded[21 : 21 + 300] == data


def test_lz4_checksum_and_corruption_are_detected():
    codec = N5LZ4Codec(block_size=64)
    good = bytearray(codec.encode_chunk(bytes(range(200)), None))
    bad = bytearray(good)
    bad[17] ^= 1  # the first block's checksum
    with pytest.raises(ChecksumError, match="block 0"):
        codec.decode_chunk(bytes(bad), None)
    with pytest.raises(CorruptChunkError, match="magic"):
        codec.decode_chunk(b"LZ4Blocc" + bytes(good[8:]), None)
    with pytest.raises(CorruptChunkError):
        codec.decode_chunk(bytes(good[:30]), None)
    with pytest.raises(CorruptChunkError, match="stray"):
        codec.decode_chunk(bytes(good) + b"xx", None)
    with pytest.raises(CorruptChunkError, match="bad block header"):  # raw with unequal lengths
        codec.decode_chunk(b"LZ4Block\x10" + struct.pack("<iii", 2, 3, 0) + b"ab", None)


def test_lz4_block_size_is_checked():
    with pytest.raises(Exception, match="blockSize"):
        N5LZ4Codec(block_size=10)
