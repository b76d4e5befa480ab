"""The ``bytes`` codec: one codec object decodes chunks of any dtype and shape, in
either byte order, whatever it decoded before."""

import dataclasses

import numpy as np
import pytest

from cuzarr.codecs.base import ChunkSpec
from cuzarr.codecs.bytes import BytesCodec
from cuzarr.errors import CorruptChunkError


@pytest.mark.parametrize("endian", ["little", "big"])
def test_one_codec_decodes_chunks_of_changing_dtypes(endian):
    codec = BytesCodec(endian)
    order = "<" if endian == "little" else ">"
    for dtype in ["<u2", "<f4", "<u2", "u1", "<c8", "<u2", np.dtype("<u2").newbyteorder("=")]:
        dtype = np.dtype(dtype)
        values = (np.arange(12) * 7).astype(dtype).reshape(3, 4)
        spec = ChunkSpec((3, 4), dtype, 0)
        stored = values.astype(values.dtype.newbyteorder(order)).tobytes()
        got = codec.decode_chunk(stored, spec)
        assert got.dtype == dtype and got.shape == (3, 4)
        np.testing.assert_array_equal(got, values)
        assert bytes(codec.encode_chunk(values, spec)) == stored


def test_chunk_size_is_checked_against_the_spec():
    spec = ChunkSpec((3, 4), np.dtype("<u2"), 0)
    assert spec.nbytes == 24
    assert dataclasses.replace(spec, shape=(5,)).nbytes == 10
    assert ChunkSpec((3, 4), np.dtype("<u2"), 0) == spec  # nbytes takes no part in ==
    with pytest.raises(CorruptChunkError, match="23 bytes, expected 24"):
        BytesCodec("little").decode_chunk(b"\0" * 23, spec)
