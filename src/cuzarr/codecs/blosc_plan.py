"""Blosc1 chunks as stream descriptors: the host half of decoding blosc on a device.

A device decoder cannot call c-blosc. It needs, for a whole batch of chunks at once, the
list of inner compressed streams (one per *split* of every block of every chunk), where
each one starts, how long it is and where its decoded bytes go; then which blocks must be
byte- or bit-unshuffled, and how. :func:`plan_blosc_batch` reads the 16-byte headers, the
block-start tables and the split chains of a batch held in one host buffer and returns
those descriptors as flat numpy arrays (:class:`BloscPlan`), ready to be uploaded or
turned into nvCOMP batch arguments. The work is vectorised over the batch: a handful of
numpy passes, whatever the number of chunks.

Format (formats.md section 5; c-blosc ``blosc.c``/``shuffle.c``): header ``version,
versionlz, flags, typesize, nbytes, blocksize, cbytes``; memcpyed chunks (flags 0x02) hold
their bytes raw after the header; otherwise ``bstarts`` (int32, offsets from the chunk's
start) follow, and each block is ``nsplits`` records ``int32 csize + payload`` where a
payload of exactly ``neblock`` bytes is stored raw.

A chunk the device cannot decode (BloscLZ, which nvCOMP lacks) or whose header or offsets
do not check out is not planned: it is marked for the host decoder with a reason, and the
host decoder then gives the definitive result or error. Nothing here raises on chunk
contents.

:func:`decode_plan` is a pure-numpy reference decoder driven only by the descriptors (inner
streams decompressed by numcodecs/zlib); the tests prove it byte-exact against c-blosc, and
the unshuffle references here are what the numba kernels are tested against.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cuzarr.config import config
from cuzarr.errors import CorruptChunkError, UnsupportedError

# Inner codec format codes (header flags >> 5).
BLOSCLZ, LZ4, SNAPPY, ZLIB, ZSTD = range(5)
CODEC_NAMES = ("blosclz", "lz4", "snappy", "zlib", "zstd")

# Per-block unshuffle kind after resolving c-blosc's rules.
NOSHUFFLE, BYTESHUFFLE, BITSHUFFLE = 0, 1, 2

_DOSHUFFLE, _MEMCPYED, _DOBITSHUFFLE, _RESERVED, _DONT_SPLIT = 0x01, 0x02, 0x04, 0x08, 0x10
_MAX_SPLITS, _MIN_BUFFERSIZE = 16, 128

# Why a chunk goes to the host decoder (index into FALLBACK_REASONS; 0 = it does not).
FALLBACK_REASONS = (
    "",
    "BloscLZ has no device decoder",
    "inner codec unknown",
    "chunk shorter than its header",
    "unsupported header (version, reserved flag, typesize or blocksize)",
    "compressed size in header disagrees with the chunk",
    "decoded size differs from the expected chunk size",
    "block-start table out of range",
    "split stream out of range",
    "decoded size in header exceeds the largest chunk allowed",
)


@dataclass(frozen=True)
class BloscPlan:
    """Descriptors of a batch of Blosc1 chunks. Offsets are absolute: ``*_src`` into the
    batch's compressed buffer, ``*_dst`` into the decoded buffer (``decoded_nbytes``) or,
    for splits of blocks that need unshuffling, into a stage buffer (``stage_nbytes``)."""

    # per chunk
    chunk_src: np.ndarray  # int64: chunk start in the compressed buffer
    chunk_len: np.ndarray  # int64: bytes of the chunk in the compressed buffer
    chunk_dst: np.ndarray  # int64: decoded chunk start in the decoded buffer
    nbytes: np.ndarray  # int64: decoded size (the expected one when given, else the header's)
    typesize: np.ndarray  # int64
    blocksize: np.ndarray  # int64
    nblocks: np.ndarray  # int64 (0 for memcpyed or empty chunks)
    leftover: np.ndarray  # int64: size of the partial last block, 0 if none
    flags: np.ndarray  # uint8: raw header flags
    codec: np.ndarray  # int8: inner codec format code
    memcpyed: np.ndarray  # bool
    fallback: np.ndarray  # int8: index into FALLBACK_REASONS; nonzero = host decodes it
    # per block (of chunks the device decodes)
    block_chunk: np.ndarray  # int64
    block_dst: np.ndarray  # int64: where the unshuffled block goes in the decoded buffer
    block_stage: np.ndarray  # int64: where its splits land in the stage buffer, -1 if direct
    block_size: np.ndarray  # int64: bytes in the block (the last one may be partial)
    block_typesize: np.ndarray  # int64
    block_shuffle: np.ndarray  # int8: NOSHUFFLE / BYTESHUFFLE / BITSHUFFLE
    # per split (a memcpyed chunk is one raw split)
    split_chunk: np.ndarray  # int64
    split_src: np.ndarray  # int64: payload start (after the int32 csize)
    split_len: np.ndarray  # int64: payload (compressed) length
    split_dst: np.ndarray  # int64: into stage if split_to_stage else into decoded
    split_size: np.ndarray  # int64: decoded length (neblock)
    split_raw: np.ndarray  # bool: stored uncompressed, a plain copy
    split_to_stage: np.ndarray  # bool
    split_codec: np.ndarray  # int8
    decoded_nbytes: int
    stage_nbytes: int

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_src)

    def host_chunks(self) -> np.ndarray:
        """Indices of the chunks the host must decode."""
        return np.flatnonzero(self.fallback)

    def compressed_splits(self, codec: int) -> np.ndarray:
        """Indices of the splits to decompress with ``codec`` (one device batch)."""
        return np.flatnonzero(~self.split_raw & (self.split_codec == codec))

    def raw_splits(self) -> np.ndarray:
        return np.flatnonzero(self.split_raw)

    def shuffled_blocks(self, kind: int) -> np.ndarray:
        return np.flatnonzero(self.block_shuffle == kind)

    def fallback_reason(self, i: int) -> str:
        return FALLBACK_REASONS[int(self.fallback[i])]


# -- reading the batch ----------------------------------------------------------------------


def _u32(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Little-endian uint32 at each position (positions must leave 4 bytes in ``buf``)."""
    b = buf[pos[:, None] + np.arange(4)].astype(np.int64)
    return b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16 | b[:, 3] << 24


def _i32(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    v = _u32(buf, pos)
    return np.where(v >= 2**31, v - 2**32, v)


def as_u8(data: Any) -> np.ndarray:
    """A flat uint8 numpy view of any buffer."""
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def concat_chunks(chunks: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buffer, offsets, lengths) for a list of byte buffers laid end to end."""
    lengths = np.array([memoryview(c).nbytes for c in chunks], dtype=np.int64)
    offsets = np.zeros(len(chunks), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    buf = np.empty(int(lengths.sum()), dtype=np.uint8)
    for c, o, n in zip(chunks, offsets, lengths):
        buf[o : o + n] = as_u8(c)
    return buf, offsets, lengths


def exclusive_cumsum(sizes: np.ndarray) -> np.ndarray:
    """Start of each item when items of ``sizes`` are laid end to end."""
    out = np.zeros(len(sizes), dtype=np.int64)
    if len(sizes) > 1:
        np.cumsum(sizes[:-1], out=out[1:])
    return out


@dataclass
class _Chunks:
    """Per-chunk header fields of a batch while it is being planned."""

    src: np.ndarray
    length: np.ndarray
    dst: np.ndarray
    nbytes: np.ndarray
    typesize: np.ndarray
    blocksize: np.ndarray
    cbytes: np.ndarray
    flags: np.ndarray
    codec: np.ndarray
    memcpyed: np.ndarray
    fallback: np.ndarray  # int8 reason, updated as problems are found

    def mark(self, mask: np.ndarray, reason: int) -> None:
        """Send the chunks in ``mask`` to the host for ``reason`` unless they already go."""
        self.fallback[(self.fallback == 0) & mask] = reason

    def mark_some(self, chunks: np.ndarray, reason: int) -> None:
        chunks = np.unique(chunks)
        self.fallback[chunks[self.fallback[chunks] == 0]] = reason


def _read_headers(buf: np.ndarray, src: np.ndarray, length: np.ndarray) -> _Chunks:
    n = len(src)
    short = length < 16
    rows = np.where(short, 0, src)
    h = buf[rows[:, None] + np.arange(16)] if n and len(buf) >= 16 else np.zeros((n, 16), np.uint8)
    words = np.ascontiguousarray(h[:, 4:16]).view("<u4").astype(np.int64).reshape(n, 3)
    flags = h[:, 2]
    c = _Chunks(
        src=src, length=length, dst=src, nbytes=np.where(short, 0, words[:, 0]),
        typesize=h[:, 3].astype(np.int64), blocksize=words[:, 1], cbytes=words[:, 2],
        flags=flags, codec=(flags >> 5).astype(np.int8), memcpyed=(flags & _MEMCPYED) != 0,
        fallback=np.zeros(n, dtype=np.int8),
    )  # fmt: skip
    c.mark(short, 3)
    nonempty = c.nbytes > 0
    bad = (h[:, 0] != 2) | ((flags & _RESERVED) != 0) | (c.typesize < 1) | (c.blocksize < 1)
    c.mark(nonempty & (bad | (~c.memcpyed & (h[:, 1] != 1))), 4)
    c.mark(nonempty & ((c.cbytes > length) | (c.cbytes < 16)), 5)
    c.mark(nonempty & c.memcpyed & (c.cbytes != c.nbytes + 16), 5)
    c.mark(nonempty & ~c.memcpyed & (c.codec == BLOSCLZ), 1)
    c.mark(nonempty & ~c.memcpyed & (c.codec > ZSTD), 2)
    return c


def plan_blosc_batch(
    buf: Any,
    offsets: Any,
    lengths: Any,
    expected_nbytes: Any = None,
    chunk_dst: Any = None,
    stage_align: int = 16,
    max_nbytes: int | None = None,
) -> BloscPlan:
    """Plan the decode of the Blosc1 chunks ``buf[offsets[i] : offsets[i] + lengths[i]]``.

    ``expected_nbytes`` (optional) is each chunk's known decoded size: a header that
    disagrees sends the chunk to the host, and the decoded layout uses these sizes (so a
    corrupt header cannot make it huge). Without it, the headers' sizes are used, and a
    chunk whose header states more than ``max_nbytes`` (default: the configured
    ``max_chunk_bytes``) goes to the host with no room in the layout. ``chunk_dst``
    (optional) places each decoded chunk in the decoded buffer; by default chunks are laid
    end to end. Staged blocks start at multiples of ``stage_align`` bytes in the stage
    buffer (nvCOMP outputs).
    """
    buf = as_u8(buf)
    c = _read_headers(buf, np.asarray(offsets, np.int64), np.asarray(lengths, np.int64))
    if expected_nbytes is not None:
        sizes = np.asarray(expected_nbytes, dtype=np.int64)
        c.mark(c.nbytes != sizes, 6)
    else:
        too_big = c.nbytes > (config["max_chunk_bytes"] if max_nbytes is None else max_nbytes)
        c.mark(too_big, 9)
        sizes = np.where(too_big, 0, c.nbytes)
    c.nbytes = np.where(c.fallback == 0, c.nbytes, 0)  # the host decodes the others
    c.dst = exclusive_cumsum(sizes) if chunk_dst is None else np.asarray(chunk_dst, np.int64)
    decoded_nbytes = int((c.dst + sizes).max()) if len(sizes) else 0

    blocksize = np.maximum(c.blocksize, 1)
    nblocks = np.where(~c.memcpyed, -(-c.nbytes // blocksize), 0)
    leftover = c.nbytes % blocksize
    c.mark(nblocks > (c.cbytes - 16) // 4, 7)
    nblocks[c.fallback != 0] = 0
    block_chunk, block_j = _blocks_of(nblocks)
    bstart = _i32(buf, c.src[block_chunk] + 16 + 4 * block_j)
    bad = (bstart < 16 + 4 * nblocks[block_chunk]) | (bstart > c.cbytes[block_chunk] - 4)
    c.mark_some(block_chunk[bad], 7)
    bsize, nsplits = _block_geometry(c, leftover, nblocks, block_chunk, block_j)
    c.mark_some(block_chunk[bsize % nsplits != 0], 4)
    records = _walk_splits(buf, c, block_chunk, bstart, nsplits)
    blocks = (block_chunk, block_j, bsize, nsplits)
    plan = _assemble(c, nblocks, leftover, blocks, records, (decoded_nbytes, stage_align))
    return replace(plan, nbytes=sizes)


def _blocks_of(nblocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(chunk index of each block, block number within its chunk)."""
    chunk = np.repeat(np.arange(len(nblocks)), nblocks)
    j = np.arange(int(nblocks.sum())) - np.repeat(exclusive_cumsum(nblocks), nblocks)
    return chunk, j


def _block_geometry(c: _Chunks, leftover, nblocks, block_chunk, block_j):
    """(bsize, nsplits) per block, with c-blosc's split rule (formats.md 5.2 step 6)."""
    ts = c.typesize[block_chunk]
    is_leftover = (block_j == nblocks[block_chunk] - 1) & (leftover[block_chunk] > 0)
    bsize = np.where(is_leftover, leftover[block_chunk], c.blocksize[block_chunk])
    split = (
        ((c.flags[block_chunk] & _DONT_SPLIT) == 0)
        & (ts <= _MAX_SPLITS)
        & (bsize // ts >= _MIN_BUFFERSIZE)
        & ~is_leftover
    )
    return bsize, np.where(split, ts, 1)


def _walk_splits(buf, c: _Chunks, block_chunk, bstart, nsplits):
    """Follow every block's ``int32 csize + payload`` chain, all blocks of the batch in
    step (a block has at most 16 splits). Returns one record of arrays per split number;
    chunks with a chain that leaves the chunk go to the host."""
    nsplits = np.where(c.fallback[block_chunk] == 0, nsplits, 0)
    pos = bstart.copy()  # relative to the chunk start
    end = c.cbytes[block_chunk]
    records = []
    for k in range(int(nsplits.max()) if len(nsplits) else 0):
        active = np.flatnonzero(k < nsplits)
        readable = (pos[active] >= 0) & (pos[active] <= end[active] - 4)
        csize = np.full(len(active), -1, dtype=np.int64)
        at = active[readable]
        csize[readable] = _i32(buf, c.src[block_chunk[at]] + pos[at])
        payload = pos[active] + 4
        c.mark_some(block_chunk[active[(csize < 0) | (csize > end[active] - payload)]], 8)
        records.append((active, k, payload, csize))
        pos[active] = payload + np.maximum(csize, 0)
    return records


def _assemble(c: _Chunks, nblocks, leftover, blocks, records, layout) -> BloscPlan:
    block_chunk, block_j, bsize, nsplits = blocks
    decoded_nbytes, align = layout
    keep = c.fallback[block_chunk] == 0
    ts, f = c.typesize[block_chunk], c.flags[block_chunk]
    byte = ((f & _DOSHUFFLE) != 0) & (ts > 1)
    # Bit shuffle needs a whole element; a block whose element count is not a multiple of
    # 8 was stored as it was (c-blosc's bitshuffle() falls back to memcpy).
    bit = ~byte & ((f & _DOBITSHUFFLE) != 0) & (bsize >= ts) & ((bsize // ts) % 8 == 0)
    shuffle = np.where(byte, BYTESHUFFLE, np.where(bit, BITSHUFFLE, NOSHUFFLE))
    block_dst = c.dst[block_chunk] + block_j * c.blocksize[block_chunk]
    staged = keep & (shuffle != NOSHUFFLE)
    block_stage = np.full(len(block_chunk), -1, dtype=np.int64)
    slots = -(-bsize[staged] // align) * align
    block_stage[staged] = exclusive_cumsum(slots)
    neblock = bsize // np.maximum(nsplits, 1)

    # Splits: one raw split per memcpyed chunk, then the records of the block chains.
    mc = np.flatnonzero(c.memcpyed & (c.nbytes > 0) & (c.fallback == 0))
    ones = np.ones(len(mc), dtype=bool)
    parts = [(mc, c.src[mc] + 16, c.nbytes[mc], c.dst[mc], c.nbytes[mc], ones, ~ones)]
    for active, k, payload, csize in records:
        live = keep[active]
        blk, payload, csize = active[live], payload[live], csize[live]
        size, to_stage = neblock[blk], staged[blk]
        base = np.where(to_stage, block_stage[blk], block_dst[blk])
        chunk = block_chunk[blk]
        parts.append((chunk, c.src[chunk] + payload, csize, base + k * size, size,
                      csize == size, to_stage))  # fmt: skip
    cols = [np.concatenate([p[i] for p in parts]) for i in range(7)]
    order = np.lexsort((cols[1], cols[0]))  # by chunk, then position in the chunk
    s_chunk, s_src, s_len, s_dst, s_size, s_raw, s_stage = (col[order] for col in cols)
    return BloscPlan(
        chunk_src=c.src, chunk_len=c.length, chunk_dst=c.dst, nbytes=c.nbytes,
        typesize=c.typesize, blocksize=c.blocksize, nblocks=np.where(c.fallback == 0, nblocks, 0),
        leftover=leftover, flags=c.flags, codec=c.codec, memcpyed=c.memcpyed, fallback=c.fallback,
        block_chunk=block_chunk[keep], block_dst=block_dst[keep], block_stage=block_stage[keep],
        block_size=bsize[keep], block_typesize=ts[keep], block_shuffle=shuffle[keep].astype(np.int8),
        split_chunk=s_chunk, split_src=s_src, split_len=s_len, split_dst=s_dst,
        split_size=s_size, split_raw=s_raw.astype(bool), split_to_stage=s_stage.astype(bool),
        split_codec=c.codec[s_chunk].astype(np.int8), decoded_nbytes=decoded_nbytes,
        stage_nbytes=int(slots.sum()),
    )  # fmt: skip


# -- numpy references -------------------------------------------------------------------------


def byte_unshuffle(block: np.ndarray, typesize: int) -> np.ndarray:
    """Undo Blosc's byte shuffle of one block: byte plane j holds byte j of every element;
    the ``len % typesize`` trailing bytes were left in place."""
    n = len(block) // typesize
    out = block.copy()
    out[: n * typesize] = block[: n * typesize].reshape(typesize, n).T.reshape(-1)
    return out


def byte_shuffle(block: np.ndarray, typesize: int) -> np.ndarray:
    n = len(block) // typesize
    out = block.copy()
    out[: n * typesize] = block[: n * typesize].reshape(n, typesize).T.reshape(-1)
    return out


def bit_unshuffle(block: np.ndarray, typesize: int) -> np.ndarray:
    """Undo Blosc's bit shuffle of one block: bit k of byte j of element i sits in bit row
    ``8j + k`` at bit ``i`` (LSB first); trailing ``len % typesize`` bytes stay in place;
    a block whose element count is not a multiple of 8 was not shuffled at all."""
    n = len(block) // typesize
    out = block.copy()
    if n % 8 or n == 0:
        return out
    rows = block[: n * typesize].reshape(8 * typesize, n // 8)
    bits = np.unpackbits(rows, axis=1, bitorder="little")  # (8*typesize, n)
    bits = bits.reshape(typesize, 8, n).transpose(2, 0, 1)  # (n, typesize, 8)
    out[: n * typesize] = np.packbits(bits, axis=2, bitorder="little").reshape(-1)
    return out


def bit_shuffle(block: np.ndarray, typesize: int) -> np.ndarray:
    n = len(block) // typesize
    out = block.copy()
    if n % 8 or n == 0:
        return out
    elements = block[: n * typesize].reshape(n, typesize)
    bits = np.unpackbits(elements, axis=1, bitorder="little").reshape(n, typesize, 8)
    rows = bits.transpose(1, 2, 0).reshape(8 * typesize, n)
    out[: n * typesize] = np.packbits(rows, axis=1, bitorder="little").reshape(-1)
    return out


def decompress_stream(codec: int, stream: Any, size: int) -> bytes:
    """One inner stream with a CPU library: what nvCOMP does on the device (which, as
    here, never decodes more than the ``size`` bytes the stream's block has room for)."""
    import numcodecs.lz4

    from cuzarr.codecs.base import ChunkSpec
    from cuzarr.codecs.gzip import inflate
    from cuzarr.codecs.zstd import ZstdCodec

    if codec == LZ4:  # a raw LZ4 block: give it numcodecs' 4-byte size prefix
        out = numcodecs.lz4.decompress(size.to_bytes(4, "little") + bytes(stream))
    elif codec == ZSTD:
        out = ZstdCodec().decode_chunk(stream, ChunkSpec((size,), np.dtype("u1"), 0))
    elif codec == ZLIB:
        out = inflate("blosc zlib", stream, zlib.MAX_WBITS, size)[0]
    else:
        raise UnsupportedError(f"blosc reference decoder: no CPU decoder for {CODEC_NAMES[codec]}")
    if len(out) != size:
        raise CorruptChunkError(f"blosc: an inner stream decoded to {len(out)} bytes, not {size}")
    return out


def decode_plan(plan: BloscPlan, buf: Any, host_decode: Any = None) -> np.ndarray:
    """Decode a planned batch with numpy, following only the descriptors (the device
    pipeline, step for step). ``host_decode(i)`` returns the bytes of fallback chunk i;
    by default numcodecs decodes it."""
    buf = as_u8(buf)
    out = np.zeros(plan.decoded_nbytes, dtype=np.uint8)
    stage = np.zeros(plan.stage_nbytes, dtype=np.uint8)
    for s in range(len(plan.split_src)):
        payload = buf[plan.split_src[s] : plan.split_src[s] + plan.split_len[s]]
        size = int(plan.split_size[s])
        data = (
            payload
            if plan.split_raw[s]
            else decompress_stream(int(plan.split_codec[s]), payload, size)
        )
        target = stage if plan.split_to_stage[s] else out
        target[plan.split_dst[s] : plan.split_dst[s] + size] = np.frombuffer(data, np.uint8)
    unshuffle = {BYTESHUFFLE: byte_unshuffle, BITSHUFFLE: bit_unshuffle}
    for b in np.flatnonzero(plan.block_shuffle != NOSHUFFLE):
        size, start = int(plan.block_size[b]), int(plan.block_stage[b])
        block = unshuffle[int(plan.block_shuffle[b])](
            stage[start : start + size], int(plan.block_typesize[b])
        )
        out[plan.block_dst[b] : plan.block_dst[b] + size] = block
    for i in plan.host_chunks():
        if host_decode is not None:
            data = host_decode(int(i))
        else:  # the host codec, which decodes at most the chunk's room in the layout
            from cuzarr.codecs.base import ChunkSpec
            from cuzarr.codecs.blosc import BloscCodec

            start = int(plan.chunk_src[i])
            room = ChunkSpec((int(plan.nbytes[i]),), np.dtype("u1"), 0)
            data = BloscCodec().decode_chunk(buf[start : start + int(plan.chunk_len[i])], room)
        out[plan.chunk_dst[i] : plan.chunk_dst[i] + len(data)] = np.frombuffer(data, np.uint8)
    return out
