"""``consolidate_metadata`` and ``open_consolidated``: one object that describes a whole
hierarchy, so opening it and listing every member costs one store read.

v3 stores get zarr-python's inline ``consolidated_metadata`` in the group's ``zarr.json``;
v2 stores get ``.zmetadata``. Either is a snapshot: see :mod:`cuzarr.group` for how a
stale one behaves (it wins until consolidated again).
"""

from __future__ import annotations

from typing import Any

from cuzarr.errors import MetadataError
from cuzarr.group import Group, open_group_at
from cuzarr.metadata.consolidated import inline_document, zmetadata_document
from cuzarr.metadata.v2 import ZATTRS, ZGROUP, ZMETADATA, dump_json_v2
from cuzarr.metadata.v3 import GroupMetadata
from cuzarr.nodes import V3_KEY, node_prefix, walk_documents, write_group_metadata
from cuzarr.stores import make_store


def consolidate_metadata(
    store: Any,
    path: str = "",
    zarr_format: int | None = None,
    *,
    storage_options: dict | None = None,
) -> Group:
    """Gather the metadata of every node below the group at ``path`` into that group
    (v3: inline in its ``zarr.json``; v2: ``.zmetadata``) and return the group, opened
    from it."""
    s = make_store(store, mode="a", storage_options=storage_options)
    path = (path or "").strip("/")
    group = open_group_at(s, path, read_only=False, zarr_format=zarr_format, use_consolidated=False)
    docs = dict(walk_documents(s, path, group.zarr_format))
    if group.zarr_format == 3:
        entries = {rel: d[V3_KEY] for rel, d in docs.items()}
        metadata = GroupMetadata(group.attrs.asdict(), 3, inline_document(entries))
        write_group_metadata(s, path, metadata)
    else:
        entries: dict[str, Any] = {ZGROUP: {"zarr_format": 2}}
        if group.attrs.asdict():
            entries[ZATTRS] = group.attrs.asdict()
        for rel, d in docs.items():
            entries.update({f"{rel}/{k}": v for k, v in d.items()})
        s.set(node_prefix(path) + ZMETADATA, dump_json_v2(zmetadata_document(entries)))
    return open_group_at(
        s, path, read_only=False, zarr_format=group.zarr_format, use_consolidated=True
    )


def open_consolidated(
    store: Any,
    *,
    path: str | None = None,
    mode: str = "r",
    zarr_format: int | None = None,
    storage_options: dict | None = None,
) -> Group:
    """Open the group at ``path`` from its consolidated metadata (an error when it has
    none): zarr-python's ``open_consolidated``."""
    from cuzarr.api import open_group

    if mode not in ("r", "r+", "a"):
        raise MetadataError(f"open_consolidated: mode must be 'r', 'r+' or 'a', not {mode!r}")
    return open_group(
        store,
        mode=mode,
        path=path,
        zarr_format=zarr_format,
        storage_options=storage_options,
        use_consolidated=True,
    )
