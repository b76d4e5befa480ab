"""Decompression bombs: chunks that decode to far more than the chunk may hold.

Each bomb is stored as the one chunk of a tiny array (32 uint16 values, 64 bytes) and read
through the public API. Unbounded, every one of them would decode to 1 GiB or more (or
allocate what its header claims); bounded, the read fails with CorruptChunkError as soon
as the decoder passes the bound. The reads run in a child process whose address space
has only 512 MiB to spare, so a decoder that lets a bomb through fails its case with a
MemoryError instead of eating the machine.

The bombs are real streams of the codecs' own libraries, built cheaply: zeros compress
to almost nothing, DEFLATE and zstd streams repeat a compressed piece (their checksums
are then wrong, which a decoder sees only at the end), and concatenated streams repeat
one whole stream.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import lzma
import os
import struct
import subprocess
import sys
import zlib

import numcodecs.blosc
import numcodecs.lz4
import numpy as np
import pytest
import zstandard

import cuzarr
from cuzarr.codecs import ChunkSpec
from cuzarr.codecs import blosc_plan as bp
from cuzarr.codecs.blosc import BloscCodec
from cuzarr.codecs.bytes import BytesCodec
from cuzarr.codecs.bz2 import BZ2Codec
from cuzarr.codecs.crc32c import Crc32cCodec
from cuzarr.codecs.gzip import GzipCodec
from cuzarr.codecs.lz4 import LZ4Codec
from cuzarr.codecs.lzma import LZMACodec
from cuzarr.codecs.n5 import _LZ4_HEADER, LZ4_MAGIC, METHOD_LZ4, N5LZ4Codec
from cuzarr.codecs.sharding import ShardingCodec
from cuzarr.codecs.shuffle import ShuffleCodec
from cuzarr.codecs.vlen import VlenUTF8Codec
from cuzarr.codecs.zlib import ZlibCodec
from cuzarr.codecs.zstd import ZstdCodec
from cuzarr.errors import CorruptChunkError
from cuzarr.pipeline.chain import CodecChain

MIB = 1 << 20
BOMB = 1 << 30  # what each bomb decodes to, twice the child's spare address space
SPARE = 512 * MIB
PEAK = 64 * MIB  # the most resident memory a bomb's read may add
BIG_ENDIAN = {"name": "bytes", "configuration": {"endian": "big"}}
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


# -- bombs ------------------------------------------------------------------------------------


@functools.cache
def deflate_zeros(wbits: int, total: int = BOMB) -> bytes:
    """One zlib / gzip / raw DEFLATE stream (``wbits`` as for zlib) of ``total`` zeros: a
    compressed MiB repeated (each ends on a byte boundary with a sync flush)."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = c.compress(bytes(MIB)) + c.flush(zlib.Z_SYNC_FLUSH)
    step = c.compress(bytes(MIB)) + c.flush(zlib.Z_SYNC_FLUSH)
    return head + step * (total // MIB - 1) + c.flush()


@functools.cache
def repeated_streams(kind: str) -> bytes:
    """Sixteen whole, valid streams of 64 MiB of zeros each, laid end to end."""
    zeros = bytes(64 * MIB)
    if kind == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        one = c.compress(zeros) + c.flush()
    elif kind == "bz2":
        one = bz2.compress(zeros, 9)
    else:
        one = lzma.compress(zeros, preset=0)
    return one * (BOMB // len(zeros))


def zstd_frame(total: int = BOMB, content_size: int | None = None) -> bytes:
    """One zstd frame of ``total`` zeros in RLE blocks of 128 KiB (4 bytes each), stating
    ``content_size`` (None: no size, as streaming writers make frames)."""
    if content_size is None:  # no size; window descriptor 2**(10 + 7) = 128 KiB
        header = ZSTD_MAGIC + b"\x00\x38"
    else:  # single segment, an 8-byte content size
        header = ZSTD_MAGIC + b"\xe0" + content_size.to_bytes(8, "little")
    block = 128 << 10
    rle = (block << 3 | 1 << 1).to_bytes(3, "little") + b"\0"
    last = (block << 3 | 1 << 1 | 1).to_bytes(3, "little") + b"\0"
    return header + rle * (total // block - 1) + last


def size_claim(codec: str) -> bytes:
    """A chunk whose header says it decodes to BOMB bytes."""
    if codec == "lz4":  # numcodecs' LZ4: a uint32 LE size, then one raw LZ4 block
        return struct.pack("<I", BOMB) + numcodecs.lz4.compress(bytes(64))[4:]
    chunk = bytearray(numcodecs.blosc.compress(bytes(4096), b"lz4", 5, 1))
    chunk[4:8] = struct.pack("<I", BOMB)  # nbytes
    return bytes(chunk)


def lzma_alone(dict_size: int) -> bytes:
    """A legacy .lzma stream of the chunk whose header asks for a ``dict_size`` dictionary,
    which the decoder would allocate up front."""
    stream = bytearray(lzma.compress(bytes(64), lzma.FORMAT_ALONE, preset=0))
    stream[1:5] = struct.pack("<I", dict_size)
    return bytes(stream)


RAW_LZMA2 = [{"id": lzma.FILTER_LZMA2}]


@functools.cache
def n5_lz4_stream() -> bytes:
    """lz4-java LZ4Block framing: 32 LZ4 blocks of 32 MiB of zeros each, and the end."""
    block = 32 * MIB
    body = numcodecs.lz4.compress(bytes(block))[4:]
    level = 15  # blocks of up to 2**(10 + 15) bytes
    header = _LZ4_HEADER.pack(LZ4_MAGIC, METHOD_LZ4 | level, len(body), block, 0)
    end = _LZ4_HEADER.pack(LZ4_MAGIC, 0x10 | level, 0, 0, 0)
    return (header + body) * (BOMB // block) + end


# -- arrays holding them ----------------------------------------------------------------------


def stored_with(chunk: bytes, value: object = 1, **kwargs) -> dict:
    """The store of a 32-value uint16 array (one 64-byte chunk) whose chunk is ``chunk``."""
    store: dict = {}
    kwargs.setdefault("serializer", BIG_ENDIAN)  # decoded into a buffer of the codec's own
    kwargs.setdefault("dtype", "u2")
    array = cuzarr.create_array(store, shape=(32,), chunks=(32,), **kwargs)
    before = set(store)
    array[...] = value
    (key,) = set(store) - before
    store[key] = chunk
    return store


def sharded_with(inner: bytes, compressors: list) -> dict:
    """A 64-value shard of two 32-value inner chunks: the first ``inner``, the second absent."""
    store: dict = {}
    array = cuzarr.create_array(
        store, shape=(64,), chunks=(32,), shards=(64,), dtype="u2",
        serializer=BIG_ENDIAN, compressors=compressors,
    )  # fmt: skip
    array[...] = 1
    (key,) = set(store) - {"zarr.json"}
    store[key] = array.metadata.codecs[0].assemble([inner, None], (64,))
    return store


def raw_lzma2_with_dictionary(dict_size: int) -> dict:
    """A raw-LZMA2 array whose chunk is good but whose configuration states ``dict_size``
    (written with a small one: an encoder's memory is many times its dictionary)."""
    small = {"format": lzma.FORMAT_RAW, "filters": [{**RAW_LZMA2[0], "dict_size": 1 << 16}]}
    store = stored_with(
        lzma.compress(bytes(64), lzma.FORMAT_RAW, filters=RAW_LZMA2),
        compressors=[{"name": "numcodecs.lzma", "configuration": small}],
    )
    doc = json.loads(store["zarr.json"])
    doc["codecs"][-1]["configuration"]["filters"][0]["dict_size"] = dict_size
    store["zarr.json"] = json.dumps(doc).encode()
    return store


def n5_with(payload: bytes, compression: dict) -> dict:
    """An N5 dataset whose one block is a full-size block header and ``payload``."""
    return stored_with(
        struct.pack(">HHI", 0, 1, 32) + payload, zarr_format="n5", compressors=compression,
        serializer="auto",
    )  # fmt: skip


ZSTD = [{"name": "zstd"}]
CASES = {
    "gzip": lambda: stored_with(deflate_zeros(16 + zlib.MAX_WBITS), compressors=[{"name": "gzip"}]),
    "gzip-members": lambda: stored_with(repeated_streams("gzip"), compressors=[{"name": "gzip"}]),
    "gzip-zlib-stream": lambda: stored_with(
        deflate_zeros(zlib.MAX_WBITS), compressors=[{"name": "gzip"}]
    ),
    "gzip-raw-deflate": lambda: stored_with(
        deflate_zeros(-zlib.MAX_WBITS), compressors=[{"name": "gzip"}]
    ),
    "zlib": lambda: stored_with(
        deflate_zeros(zlib.MAX_WBITS), compressors=[{"name": "numcodecs.zlib"}]
    ),
    "zlib-v2": lambda: stored_with(
        deflate_zeros(zlib.MAX_WBITS), zarr_format=2, dtype=">u2", serializer="auto",
        compressors={"id": "zlib", "level": 1},
    ),  # fmt: skip
    "bz2-streams": lambda: stored_with(
        repeated_streams("bz2"), compressors=[{"name": "numcodecs.bz2"}]
    ),
    "xz-streams": lambda: stored_with(
        repeated_streams("xz"), compressors=[{"name": "numcodecs.lzma"}]
    ),
    "zstd-no-content-size": lambda: stored_with(zstd_frame(), compressors=ZSTD),
    "zstd-claims-2**40": lambda: stored_with(
        zstd_frame(1 << 17, content_size=1 << 40), compressors=ZSTD
    ),
    "zstd-claims-2**40-into-output": lambda: stored_with(
        zstd_frame(1 << 17, content_size=1 << 40), compressors=ZSTD,
        serializer={"name": "bytes", "configuration": {"endian": "little"}},
    ),  # fmt: skip
    "zstd-frames": lambda: stored_with(zstd_frame(64 * MIB) * 16, compressors=ZSTD),
    "lz4-claim": lambda: stored_with(size_claim("lz4"), compressors=[{"name": "numcodecs.lz4"}]),
    "blosc-claim": lambda: stored_with(size_claim("blosc"), compressors=[{"name": "blosc"}]),
    "lzma-alone-4-GiB-dictionary": lambda: stored_with(
        lzma_alone(2**32 - 1), compressors=[{"name": "numcodecs.lzma", "configuration": {
            "format": lzma.FORMAT_ALONE}}],
    ),  # fmt: skip
    "gzip-after-zstd": lambda: stored_with(
        deflate_zeros(16 + zlib.MAX_WBITS), compressors=[*ZSTD, {"name": "gzip"}]
    ),
    "vlen-zstd": lambda: stored_with(
        zstd_frame(), "a", dtype=str, serializer={"name": "vlen-utf8"}, compressors=ZSTD
    ),
    "shard-zstd": lambda: sharded_with(zstd_frame(), ZSTD),
    "shard-gzip": lambda: sharded_with(
        deflate_zeros(16 + zlib.MAX_WBITS), [{"name": "gzip"}]
    ),
    "n5-gzip": lambda: n5_with(deflate_zeros(16 + zlib.MAX_WBITS), {"type": "gzip"}),
    "n5-bzip2": lambda: n5_with(repeated_streams("bz2"), {"type": "bzip2"}),
    "n5-xz": lambda: n5_with(repeated_streams("xz"), {"type": "xz"}),
    "n5-lz4": lambda: n5_with(n5_lz4_stream(), {"type": "lz4"}),
    "n5-zstd": lambda: n5_with(zstd_frame(), {"type": "zstd"}),
    "n5-blosc": lambda: n5_with(size_claim("blosc"), {"type": "blosc", "cname": "lz4"}),
    # Good data, but metadata asking for the largest dictionary (1.5 GiB): read with one of
    # the chunk's size.
    "ok: raw-lzma2-1.5-GiB-dictionary": lambda: raw_lzma2_with_dictionary(3 << 29),
}
BOMBS = [name for name in CASES if not name.startswith("ok: ")]


# -- the child process ------------------------------------------------------------------------


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the resident high-water mark (Linux: clear_refs 5); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def read_bomb(name: str) -> dict:
    """Build case ``name``, then read it with SPARE bytes of address space to spare: the
    exception's class names and message, and the resident memory the read added."""
    import resource

    store = CASES[name]()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (_status_bytes("VmSize") + SPARE, hard))
    peak = _reset_peak()
    rss = _status_bytes("VmRSS")
    try:
        # Variable-length chunks are bounded by the configured largest chunk.
        with cuzarr.config.set(max_chunk_bytes=16 * MIB):
            values = cuzarr.open_array(store)[...]
        result = {"mro": [], "message": "read without an error", "sum": int(values.sum())}
    except BaseException as e:  # noqa: BLE001 - what the test looks at
        result = {"mro": [c.__name__ for c in type(e).__mro__], "message": str(e)[:500]}
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    result["added_mib"] = (_status_bytes("VmHWM") - rss) / MIB if peak else None
    return result


_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bombs", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import cuzarr
cuzarr.config.set(threads=1)  # no pool threads: each would reserve address space
print(json.dumps({{name: module.read_bomb(name) for name in module.CASES}}))
"""


@pytest.fixture(scope="module")
def outcomes() -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(path=os.path.abspath(__file__))],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux", reason="needs /proc and setrlimit")


@LINUX_ONLY
@pytest.mark.parametrize("name", BOMBS)
def test_bomb_is_a_corrupt_chunk(outcomes, name):
    outcome = outcomes[name]
    assert "CorruptChunkError" in outcome["mro"], outcome
    # The decoder stopped at the bound (rather than an allocation failing), and says so,
    # naming the chunk.
    assert outcome["message"].startswith("chunk '"), outcome
    assert "bytes it may hold" in outcome["message"], outcome
    if outcome["added_mib"] is not None:
        assert outcome["added_mib"] < PEAK / MIB, outcome


@LINUX_ONLY
def test_a_huge_configured_dictionary_is_not_allocated(outcomes):
    outcome = outcomes["ok: raw-lzma2-1.5-GiB-dictionary"]
    assert outcome["mro"] == [] and outcome["sum"] == 0, outcome


# -- the bounds, in process ---------------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 40


def _spec(max_nbytes: int) -> ChunkSpec:
    return ChunkSpec((len(PAYLOAD),), np.dtype("u1"), 0, max_nbytes=max_nbytes)


def _zstd_no_size(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=False).compress(data)


HALF = len(PAYLOAD) // 2
SKIPPABLE = b"\x50\x2a\x4d\x18" + struct.pack("<I", 3) + b"abc"  # a skippable zstd frame
STREAMS = {
    "gzip members": (GzipCodec(), gzip.compress(PAYLOAD[:HALF]) + gzip.compress(PAYLOAD[HALF:])),
    "gzip, many members": (
        GzipCodec(),
        b"".join(gzip.compress(PAYLOAD[i : i + 10]) for i in range(0, len(PAYLOAD), 10)),
    ),
    "zlib": (ZlibCodec(), zlib.compress(PAYLOAD)),
    "bz2 streams": (BZ2Codec(), bz2.compress(PAYLOAD[:HALF]) + bz2.compress(PAYLOAD[HALF:])),
    "xz streams": (LZMACodec(), lzma.compress(PAYLOAD[:HALF]) + lzma.compress(PAYLOAD[HALF:])),
    "raw lzma2, a 1 GiB dictionary configured": (
        LZMACodec(format=lzma.FORMAT_RAW, filters=[{**RAW_LZMA2[0], "dict_size": 1 << 30}]),
        lzma.compress(PAYLOAD, lzma.FORMAT_RAW, filters=RAW_LZMA2),
    ),
    "zstd with size": (ZstdCodec(), zstandard.ZstdCompressor().compress(PAYLOAD)),
    "zstd without size": (ZstdCodec(), _zstd_no_size(PAYLOAD)),
    "zstd frames": (ZstdCodec(), _zstd_no_size(PAYLOAD[:HALF]) + _zstd_no_size(PAYLOAD[HALF:])),
    "zstd after a skippable frame": (
        ZstdCodec(),
        SKIPPABLE + zstandard.ZstdCompressor().compress(PAYLOAD),
    ),
    "lz4": (LZ4Codec(), numcodecs.lz4.compress(PAYLOAD)),
    "blosc": (BloscCodec(), numcodecs.blosc.compress(PAYLOAD, b"zstd", 5, 1)),
    "n5 lz4": (N5LZ4Codec(1024), N5LZ4Codec(1024).encode_chunk(PAYLOAD, None)),
    "shuffle": (ShuffleCodec(4), ShuffleCodec(4).encode_chunk(PAYLOAD, None)),
    "crc32c": (Crc32cCodec(), Crc32cCodec().encode_chunk(PAYLOAD, None)),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_decodes_up_to_the_bound_and_not_a_byte_more(name):
    codec, encoded = STREAMS[name]
    assert bytes(codec.decode_chunk(encoded, _spec(len(PAYLOAD)))) == PAYLOAD
    with pytest.raises(CorruptChunkError, match=f"{len(PAYLOAD) - 1} bytes it may hold"):
        codec.decode_chunk(encoded, _spec(len(PAYLOAD) - 1))


@pytest.mark.parametrize(
    "chunk",
    [
        _zstd_no_size(PAYLOAD)[:-5],  # cut inside the last block
        _zstd_no_size(PAYLOAD) + _zstd_no_size(PAYLOAD)[:9],  # a second frame cut short
        _zstd_no_size(PAYLOAD) + b"junk",
        b"\x50\x2a\x4d\x18" + struct.pack("<I", 99) + b"abc",  # a skippable frame cut short
        b"\x28\xb5\x2f",
        b"",
    ],
)
def test_damaged_zstd_frames_are_corrupt(chunk):
    with pytest.raises(CorruptChunkError, match="zstd"):
        ZstdCodec().decode_chunk(chunk, _spec(4 * len(PAYLOAD)))
    with pytest.raises(CorruptChunkError, match="zstd"):
        ZstdCodec().decode_chunk(chunk, _spec(4 * len(PAYLOAD)), out=np.empty(len(PAYLOAD), "u1"))


def test_each_layer_is_bounded_by_the_codecs_after_it():
    spec = ChunkSpec((8, 8), np.dtype("u2"), 0)  # 128 bytes
    chain = CodecChain([BytesCodec("little"), ZstdCodec(), GzipCodec(), Crc32cCodec()])
    zstd_out, gzip_out, crc_out = (s.max_nbytes for s in chain.bytes_specs(spec))
    assert zstd_out == 128
    assert gzip_out == ZstdCodec().max_encoded_size(128) > 128
    assert crc_out == GzipCodec().max_encoded_size(gzip_out) > gzip_out
    assert chain.max_encoded_size(spec) == crc_out + 4
    # a shard: its index and each inner chunk at its largest
    shard = ShardingCodec([4, 4], [BytesCodec("little"), ZstdCodec()])
    inner = CodecChain(shard.codecs).max_encoded_size(ChunkSpec((4, 4), np.dtype("u2"), 0))
    assert shard.max_encoded_size(spec) == 4 * 16 + 4 + 4 * inner
    # variable-length values: the configured largest chunk
    strings = ChunkSpec((8,), np.dtype("O"), "")
    with cuzarr.config.set(max_chunk_bytes=12345):
        chain = CodecChain([VlenUTF8Codec(), ZstdCodec()])
        assert chain.bytes_specs(strings)[0].max_nbytes == 12345


def test_blosc_plan_leaves_headers_claiming_too_much_to_the_host():
    good = numcodecs.blosc.compress(np.arange(100, dtype="<u4"), b"lz4", 5, 1)
    bomb = size_claim("blosc")
    buf, offsets, lengths = bp.concat_chunks([good, bomb])
    plan = bp.plan_blosc_batch(buf, offsets, lengths, max_nbytes=1 << 20)
    assert plan.fallback_reason(1) == "decoded size in header exceeds the largest chunk allowed"
    assert plan.decoded_nbytes == 400  # no room for what the bomb claims
    with pytest.raises(CorruptChunkError, match="blosc"):
        bp.decode_plan(plan, buf)
