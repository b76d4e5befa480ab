"""Every failure a user can cause raises a subclass of :class:`ZarrError`.

Messages name the store path or key and say what was expected, so a user can find the
offending object without a debugger.
"""

from __future__ import annotations


class ZarrError(Exception):
    """Base class of every error cuzarr raises on purpose."""


class NodeNotFoundError(ZarrError, KeyError):
    """No array or group (or no member of that name) exists at the given path."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ArrayNotFoundError(NodeNotFoundError):
    """No array exists at the given path."""


class GroupNotFoundError(NodeNotFoundError):
    """No group exists at the given path."""


class NotAZarrHierarchyError(ZarrError):
    """The location holds something, but not Zarr (or N5) metadata."""


class ContainsNodeError(ZarrError):
    """A node already exists where a new one was to be created."""


class MetadataError(ZarrError, ValueError):
    """A metadata document is malformed; the message names the document and the field."""


class UnsupportedError(ZarrError, NotImplementedError):
    """A codec, data type, grid or extension that cuzarr does not implement."""


class UnknownCodecError(UnsupportedError):
    """A codec name or id that is not registered."""


class CodecError(ZarrError):
    """A codec failed to encode or decode a chunk; the message names the key and codec."""


class CorruptChunkError(CodecError):
    """A stored chunk could not be decoded."""


class ChecksumError(CorruptChunkError):
    """A stored checksum does not match the data."""


class ReadOnlyError(ZarrError, PermissionError):
    """A write was attempted on a store or array opened read-only."""


class StoreError(ZarrError, OSError):
    """The underlying storage failed (I/O error, bad URL, unreadable archive)."""


class InvalidKeyError(StoreError, ValueError):
    """A key or node name that is not a plain relative path inside the store (``..``,
    an empty or ``.`` segment, a leading ``/``, a backslash, a NUL byte)."""


class IndexingError(ZarrError, IndexError):
    """A selection does not fit the array (out of bounds, wrong rank, bad type)."""


class BoundsCheckError(IndexingError):
    """An integer index is outside the array."""


class DeviceUnavailableError(ZarrError, RuntimeError):
    """The GPU backend was requested but no usable device or library is present."""


__all__ = [name for name in dir() if name.endswith("Error")]
