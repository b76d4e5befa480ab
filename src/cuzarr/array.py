"""``Array``: metadata + store + runtime settings; turns indexing into pipeline calls."""

from __future__ import annotations

import contextlib
import json
import reprlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from cuzarr import indexing
from cuzarr.attributes import Attributes
from cuzarr.buffers import resolve_device, to_host
from cuzarr.config import config
from cuzarr.errors import (
    DeviceUnavailableError,
    IndexingError,
    MetadataError,
    ReadOnlyError,
    ZarrError,
)
from cuzarr.indexing import is_integer
from cuzarr.metadata.v3 import ArrayMetadata
from cuzarr.nodes import Node, node_prefix, write_array_metadata  # noqa: F401 (api imports it here)
from cuzarr.pipeline.chunk_io import make_chunk_io
from cuzarr.pipeline.read import read_projections
from cuzarr.pipeline.write import trim, write_projections
from cuzarr.stores.base import Store

# numpy's limit: every chunk is a numpy array.
MAX_NDIM = 64
MAX_EXTENT = 2**63 - 1  # indices are int64


def as_shape(value: Any, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints (numpy integers too; bools, floats and strings are
    refused, not converted) -> a shape; a MetadataError naming ``what`` otherwise."""
    if is_integer(value):
        value = (value,)
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        value = tuple(value)
    if (
        not isinstance(value, Sequence)
        or isinstance(value, (str, bytes))
        or len(value) > MAX_NDIM
        or not all(map(is_integer, value))
    ):
        raise MetadataError(
            f"{what} must be an int or a sequence of at most {MAX_NDIM} ints, not "
            f"{type(value).__name__} {reprlib.repr(value)}"
        )
    out = tuple(int(v) for v in value)
    if any(not 0 <= v <= MAX_EXTENT for v in out):
        raise MetadataError(f"{what} {out}: every extent must be in 0..2**63-1")
    return out


def check_device(device: Any) -> None:
    """``device=``: None (the config's), "auto", "cpu" or "gpu"."""
    if not (device is None or (isinstance(device, str) and device in ("auto", "cpu", "gpu"))):
        raise DeviceUnavailableError(
            f"device must be 'auto', 'cpu' or 'gpu', not {reprlib.repr(device)}"
        )


class Array(Node):
    """A Zarr array. Create one with :func:`cuzarr.create_array`, open one with
    :func:`cuzarr.open_array`."""

    def __init__(
        self,
        store: Store,
        path: str,
        metadata: ArrayMetadata,
        *,
        read_only: bool = False,
        device: str | None = None,
        write_empty_chunks: bool | None = None,
    ):
        self._store = store
        self._path = path.strip("/")
        self._metadata = metadata
        self._read_only = read_only or store.read_only
        check_device(device)
        # What was asked for, resolved on every read: a process forked from this one after
        # CUDA was set up cannot use the GPU, and "auto" then means the CPU there.
        self._requested_device = device or config["device"]
        resolve_device(self._requested_device, metadata.dtype)  # an unusable "gpu": now
        self._write_empty_chunks = write_empty_chunks
        self._io = make_chunk_io(store, node_prefix(self._path), metadata)

    # -- description ----------------------------------------------------------------------
    @property
    def metadata(self) -> ArrayMetadata:
        return self._metadata

    @property
    def shape(self) -> tuple[int, ...]:
        return self._metadata.shape

    @property
    def dtype(self) -> np.dtype:
        return self._metadata.dtype

    @property
    def chunks(self) -> tuple[Any, ...]:
        """The chunk shape; for a rectilinear grid, per dimension the chunk lengths."""
        return self._metadata.chunk_grid.chunks(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def fill_value(self) -> Any:
        return self._metadata.fill_value

    @property
    def dimension_names(self) -> tuple[str | None, ...] | None:
        return self._metadata.dimension_names

    @property
    def codecs(self) -> tuple[Any, ...]:
        return self._metadata.codecs

    @property
    def compressors(self) -> tuple[Any, ...]:
        return tuple(c for c in self.codecs if c.kind == "bytes_to_bytes")

    @property
    def filters(self) -> tuple[Any, ...]:
        return tuple(c for c in self.codecs if c.kind == "array_to_array")

    @property
    def serializer(self) -> Any:
        return next(c for c in self.codecs if c.kind == "array_to_bytes")

    @property
    def device(self) -> str:
        """``"cpu"`` or ``"gpu"``: where reads decode and what they return."""
        return resolve_device(self._requested_device, self.dtype)

    @property
    def cdata_shape(self) -> tuple[int, ...]:
        return self._metadata.chunk_grid.grid_shape(self.shape)

    @property
    def nchunks(self) -> int:
        return int(np.prod(self.cdata_shape, dtype=np.int64))

    @property
    def nchunks_initialized(self) -> int:
        """How many chunks are stored (the rest read as the fill value)."""
        return sum(1 for _ in self._stored_chunk_coords())

    @property
    def attrs(self) -> Attributes:
        where = f"array {self.name!r} in {self._store}"
        return Attributes(lambda: self._metadata.attributes, self._set_attributes, where)

    @property
    def info(self) -> ArrayInfo:
        return ArrayInfo(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<cuzarr.Array {self._store}{self.name} shape={self.shape} dtype={self.dtype}>"

    # -- reads ----------------------------------------------------------------------------
    def __getitem__(self, selection: Any) -> Any:
        if indexing.is_pure_vectorized(selection, self.ndim):
            return self.get_coordinate_selection(selection)
        return self.get_orthogonal_selection(selection)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = np.asarray(to_host(self[...]))  # numpy asks for host memory
        return data if dtype is None else data.astype(dtype, copy=False)

    def get_basic_selection(self, selection: Any = Ellipsis, *, out: Any = None) -> Any:
        return self._read(indexing.basic_selection(selection, self.shape, self._io.dims), out)

    def get_orthogonal_selection(self, selection: Any, *, out: Any = None) -> Any:
        return self._read(indexing.orthogonal_selection(selection, self.shape, self._io.dims), out)

    def get_coordinate_selection(self, selection: Any, *, out: Any = None) -> Any:
        return self._read(indexing.vectorized_selection(selection, self.shape, self._io.dims), out)

    def get_mask_selection(self, mask: Any, *, out: Any = None) -> Any:
        return self.get_coordinate_selection(_as_mask(mask), out=out)

    @property
    def oindex(self) -> _OIndex:
        return _OIndex(self)

    @property
    def vindex(self) -> _VIndex:
        return _VIndex(self)

    def _read(self, sel: indexing.Selection, out: Any) -> Any:
        if self.device == "gpu":
            from cuzarr.pipeline.device import read_selection

            return read_selection(self._io, sel, out)
        result = self._output_buffer(sel, out)
        sel.read_into(result, lambda view: read_projections(self._io, sel.projections, view),
                      np.empty)  # fmt: skip
        if out is None and result.ndim == 0:
            return result[()]
        return result

    def _output_buffer(self, sel: indexing.Selection, out: Any) -> np.ndarray:
        if out is None:
            return np.empty(sel.out_shape, dtype=self.dtype)
        arr = out if isinstance(out, np.ndarray) else np.asarray(out)
        sel.check_out(arr, self.dtype)
        if not arr.flags.writeable:
            raise IndexingError("out= is read-only")
        return arr

    # -- writes ---------------------------------------------------------------------------
    def __setitem__(self, selection: Any, value: Any) -> None:
        if indexing.is_pure_vectorized(selection, self.ndim):
            self.set_coordinate_selection(selection, value)
        else:
            self.set_orthogonal_selection(selection, value)

    def set_basic_selection(self, selection: Any, value: Any) -> None:
        self._write(indexing.basic_selection(selection, self.shape, self._io.dims), value)

    def set_orthogonal_selection(self, selection: Any, value: Any) -> None:
        self._write(indexing.orthogonal_selection(selection, self.shape, self._io.dims), value)

    def set_coordinate_selection(self, selection: Any, value: Any) -> None:
        self._write(indexing.vectorized_selection(selection, self.shape, self._io.dims), value)

    def set_mask_selection(self, mask: Any, value: Any) -> None:
        self.set_coordinate_selection(_as_mask(mask), value)

    def _write(self, sel: indexing.Selection, value: Any) -> None:
        self._check_writable()
        # Check and convert the whole value before any chunk is touched.
        arr = self._values(value)
        try:
            arr = np.broadcast_to(arr, sel.out_shape)
        except ValueError:
            raise IndexingError(
                f"value of shape {arr.shape} does not fit the selection of shape {sel.out_shape}"
            ) from None
        write_projections(self._io, sel.projections, sel.out_view(arr), self._write_empty())

    def _values(self, value: Any) -> np.ndarray:
        """``value`` as a host array of this array's dtype (NaN and infinities are not
        cast to integers, as numpy's own assignment refuses them)."""
        try:
            with np.errstate(invalid="raise"):
                return np.asarray(to_host(value), dtype=self.dtype)
        except (TypeError, ValueError, ArithmeticError) as e:
            raise IndexingError(
                f"cannot store {type(value).__name__} in a {self.dtype} array: {e}"
            ) from None

    def _write_empty(self) -> bool:
        """Whether chunks holding only the fill value are stored."""
        if getattr(self._metadata, "fill_value_null", False):
            # v2 "no fill value": a missing chunk is undefined to zarr-python 2, so a chunk
            # of zeros is stored rather than left out
            return True
        write_empty = self._write_empty_chunks
        return config["write_empty_chunks"] if write_empty is None else bool(write_empty)

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"array {self.name!r} in {self._store} is read-only")

    # -- shape and metadata ---------------------------------------------------------------
    def resize(self, *shape: Any) -> None:
        """Change the shape (``resize(5, 4)`` or ``resize((5, 4))``). Whatever lies
        outside the new shape is gone: it reads as the fill value if the array grows
        again. That is done before the new shape is stored, so a resize cut short leaves
        the old shape with nothing removed coming back. Growing also clears what other
        writers left stored past the old shape (zarr-python keeps edge chunks whole)."""
        self._check_writable()
        one = len(shape) == 1 and not is_integer(shape[0])
        new_shape = as_shape(shape[0] if one else shape, "resize: the new shape")
        if len(new_shape) != self.ndim:
            raise MetadataError(
                f"resize: new shape {new_shape} has {len(new_shape)} dimensions, "
                f"the array {self.ndim}"
            )
        metadata = self._metadata.with_shape(new_shape)  # checked before anything changes
        trim(self._io, new_shape, self._stored_chunk_coords(), self._write_empty())
        self._set_metadata(metadata)

    def append(self, data: Any, axis: int = 0) -> tuple[int, ...]:
        """Grow along ``axis`` and write ``data`` there; returns the new shape. The data
        is checked and converted first: when it does not fit, the array is unchanged."""
        self._check_writable()
        if not self.ndim:
            raise IndexingError("append: a 0-d array has no axis to grow along")
        if not is_integer(axis) or not -self.ndim <= axis < self.ndim:
            raise IndexingError(f"append: axis must be an int in {-self.ndim}..{self.ndim - 1}")
        axis = int(axis) % self.ndim
        arr = self._values(data)
        if arr.ndim != self.ndim:
            raise IndexingError(f"append: data has {arr.ndim} dimensions, the array {self.ndim}")
        if any(i != axis and a != b for i, (a, b) in enumerate(zip(self.shape, arr.shape))):
            raise IndexingError(
                f"append: data shape {arr.shape} does not match {self.shape} off axis {axis}"
            )
        old_shape = self.shape
        new_shape = tuple(s + arr.shape[axis] if i == axis else s for i, s in enumerate(old_shape))
        # Unlike resize, nothing is cleared first: all that comes into view is written
        # next (and cuzarr's own writes and resizes leave nothing stored past the shape).
        self._set_metadata(self._metadata.with_shape(new_shape))
        region = tuple(
            slice(old_shape[axis], None) if i == axis else slice(None) for i in range(self.ndim)
        )
        try:
            self[region] = arr
        except ZarrError:
            # The write failed (a codec, the store): take the new rows back, best effort.
            with contextlib.suppress(ZarrError):
                self.resize(old_shape)
            raise
        return new_shape

    def update_attributes(self, new: dict[str, Any]) -> Array:
        self.attrs.update(new)
        return self

    def _set_attributes(self, attributes: dict[str, Any]) -> None:
        self._check_writable()
        self._set_metadata(self._metadata.with_attributes(attributes))

    def _set_metadata(self, metadata: ArrayMetadata) -> None:
        write_array_metadata(self._store, self._path, metadata)
        self._metadata = metadata
        self._io = make_chunk_io(self._store, node_prefix(self._path), metadata)

    def _stored_chunk_coords(self):
        encoding = self._metadata.chunk_key_encoding
        prefix = node_prefix(self._path)
        for key in self._store.list_prefix(prefix):
            rest = key[len(prefix) :]
            coords = encoding.decode(rest)
            if coords is not None and len(coords) == self.ndim:
                yield coords


def _as_mask(mask: Any) -> np.ndarray:
    try:
        return np.asarray(mask, dtype=bool)
    except (TypeError, ValueError) as e:
        raise IndexingError(f"a mask selection is a boolean array, not {mask!r:.80}: {e}") from None


class _OIndex:
    def __init__(self, array: Array):
        self._array = array

    def __getitem__(self, selection: Any) -> Any:
        return self._array.get_orthogonal_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_orthogonal_selection(selection, value)


class _VIndex:
    def __init__(self, array: Array):
        self._array = array

    def __getitem__(self, selection: Any) -> Any:
        return self._array.get_coordinate_selection(selection)

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._array.set_coordinate_selection(selection, value)


class ArrayInfo:
    """What ``Array.info`` shows: the facts a user asks about first."""

    def __init__(self, array: Array):
        self._array = array

    def as_dict(self) -> dict[str, Any]:
        a = self._array
        return {
            "type": "Array",
            "zarr_format": a.zarr_format,
            "path": a.name,
            "store": str(a.store),
            "shape": a.shape,
            "chunks": a.chunks,
            "dtype": str(a.dtype),
            "fill_value": a.fill_value.item() if hasattr(a.fill_value, "item") else a.fill_value,
            "codecs": [json.dumps(c.to_v3()) for c in a.codecs],
            "read_only": a.read_only,
            "device": a.device,
            "nbytes": a.nbytes,
            "nchunks": a.nchunks,
        }

    def __repr__(self) -> str:
        rows = self.as_dict()
        width = max(map(len, rows))
        return "\n".join(f"{k.ljust(width)} : {v}" for k, v in rows.items())
