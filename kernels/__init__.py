"""numba CUDA kernels of the device backend (installed as ``cuzarr.kernels``).

The device pipeline's kernels (byte and bit shuffle, byteswap, shard-index parsing,
crc32c, scatter) live in this package. Nothing here is imported by the CPU path, and
importing this package does not import numba.
"""
