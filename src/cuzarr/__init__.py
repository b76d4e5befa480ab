"""cuzarr: Zarr for Python, with a GPU hot path and a fast multi-threaded CPU path.

``import cuzarr as zarr`` works for common zarr-python 3 code::

    import cuzarr
    a = cuzarr.create_array("data.zarr", shape=(1000, 1000), chunks=(100, 100), dtype="f4")
    a[:10] = 1.0
    print(cuzarr.open_array("data.zarr")[:2, :3])
"""

from cuzarr import concurrency, errors
from cuzarr.api import create_array, create_group, open, open_array, open_group
from cuzarr.array import Array
from cuzarr.config import config
from cuzarr.consolidate import consolidate_metadata, open_consolidated
from cuzarr.convert import convert
from cuzarr.errors import ZarrError
from cuzarr.group import Group
from cuzarr.migrate import MigrationReport, migrate

__version__ = "0.1.0"

__all__ = [
    "Array",
    "Group",
    "MigrationReport",
    "ZarrError",
    "concurrency",
    "config",
    "consolidate_metadata",
    "convert",
    "create_array",
    "create_group",
    "errors",
    "migrate",
    "open",
    "open_array",
    "open_consolidated",
    "open_group",
]
