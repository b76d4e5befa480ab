"""Node metadata in the store: find, read, write and walk it, in Zarr v3 and v2.

A node is an array or a group. Its metadata is ``zarr.json`` (v3) or ``.zarray`` /
``.zgroup`` plus ``.zattrs`` (v2). With ``zarr_format=None`` both are looked for and v3
wins where both exist (a store migrated in place keeps its v2 documents beside the v3
ones); ``zarr_format=2`` or ``3`` reads that format only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cuzarr.errors import (
    ContainsNodeError,
    InvalidKeyError,
    NodeNotFoundError,
    NotAZarrHierarchyError,
    UnsupportedError,
)
from cuzarr.metadata import n5
from cuzarr.metadata.convert import from_zarray, to_zarray
from cuzarr.metadata.v2 import (
    ZARRAY,
    ZATTRS,
    ZGROUP,
    dump_json_v2,
    load_object,
    parse_zarray,
    parse_zattrs,
    parse_zgroup,
    zgroup_json,
)
from cuzarr.metadata.v3 import (
    ArrayMetadata,
    GroupMetadata,
    dump_json,
    parse_array_metadata,
    parse_group_metadata,
    parse_node_json,
)
from cuzarr.stores.base import Store, check_key

V3_KEY = "zarr.json"
V2_KEYS = (ZARRAY, ZGROUP)
N5_KEY = "attributes.json"
NodeMetadata = ArrayMetadata | GroupMetadata


def node_prefix(path: str) -> str:
    return f"{path}/" if path else ""


def node_path(path: str | None) -> str:
    """A node path as given by a user or a document (``"a/b"``, ``"/a/b/"``, ``""`` or
    None for the root) -> its normal form, refusing paths that would leave the store or
    alias another node (``..``, ``.``, empty segments, backslashes, NUL bytes) with an
    :class:`InvalidKeyError`, before any key derived from it reaches a store."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidKeyError(f"node paths are str, got {type(path).__name__} {path!r}")
    path = path.strip("/")
    if path:
        check_key(path, "a node path")
    return path


def member_folders(store: Store, path: str) -> list[str]:
    """The sub-folder names under node ``path`` that can name a member. Stores built by
    other tools (a dict, a zip) may hold keys like ``a/./b`` or ``a//b``: their folders
    name no node, so a walk skips them rather than failing or looping."""
    return [d for d in store.list_dir(node_prefix(path))[1] if _is_node_name(d)]


def _is_node_name(name: str) -> bool:
    """One segment that the store key check accepts."""
    if "/" in name:
        return False
    try:
        check_key(name, "a node name")
    except InvalidKeyError:
        return False
    return True


def join_path(*parts: str) -> str:
    """Node paths joined with ``/``, each checked by :func:`node_path`."""
    return "/".join(p for p in map(node_path, parts) if p)


def describe_location(store: Store, path: str) -> str:
    return f"{store}" + (f" at path {path!r}" if path else "")


def check_format(zarr_format: int | None) -> None:
    if zarr_format not in (None, 2, 3, "n5"):
        raise UnsupportedError(
            f"zarr_format must be 2, 3, 'n5' or None (detect), not {zarr_format!r}"
        )


# -- reading ----------------------------------------------------------------------------


def parse_v2_node(
    store: Store, path: str, zarray: Any, zgroup: Any, zattrs: Any
) -> NodeMetadata | None:
    """Raw v2 documents of one node -> its metadata (None when neither .zarray nor .zgroup)."""
    where = f"{store}/{node_prefix(path)}"
    if zarray is None and zgroup is None:
        return None
    attrs = parse_zattrs(zattrs, where + ZATTRS)
    if zarray is not None:
        doc = load_object(zarray, where + ZARRAY)
        return from_zarray(parse_zarray(doc, where + ZARRAY), attrs, where + ZARRAY)
    parse_zgroup(load_object(zgroup, where + ZGROUP), where + ZGROUP)
    return GroupMetadata(attributes=attrs, zarr_format=2)


def parse_v3_node(store: Store, path: str, raw: Any) -> NodeMetadata:
    where = f"{store}/{node_prefix(path)}{V3_KEY}"
    doc = parse_node_json(raw, where)
    if doc["node_type"] == "array":
        return parse_array_metadata(doc, where)
    return parse_group_metadata(doc, where)


def read_node(store: Store, path: str, zarr_format: int | None = None) -> NodeMetadata:
    """The metadata of the node at ``path``. When there is none, the error says what the
    location holds instead (the other Zarr format, N5, unrelated files, nothing)."""
    check_format(zarr_format)
    prefix = node_prefix(path)
    if zarr_format in (None, 3):
        raw = store.get(prefix + V3_KEY)
        if raw is not None:
            return parse_v3_node(store, path, raw)
    if zarr_format in (None, 2):
        node = read_v2_node(store, path)
        if node is not None:
            return node
    if zarr_format in (None, "n5"):
        node = n5.read_n5_node(store, path)
        if node is not None:
            return node
    raise not_found(store, path, zarr_format)


def read_v2_node(store: Store, path: str) -> NodeMetadata | None:
    prefix = node_prefix(path)
    return parse_v2_node(
        store, path, *store.get_many([prefix + k for k in (ZARRAY, ZGROUP, ZATTRS)])
    )


def not_found(store: Store, path: str, zarr_format: int | None) -> Exception:
    prefix = node_prefix(path)
    where = describe_location(store, path)
    if zarr_format == 3 and any(store.get(prefix + k) is not None for k in V2_KEYS):
        return NodeNotFoundError(
            f"{where} holds Zarr v2 metadata but no zarr.json; open it with zarr_format=2 "
            "(or None), or add v3 metadata with cuzarr.migrate"
        )
    if zarr_format == 2 and store.get(prefix + V3_KEY) is not None:
        return NodeNotFoundError(f"{where} holds Zarr v3 metadata (zarr.json), not v2")
    if zarr_format != "n5" and store.get(prefix + N5_KEY) is not None:
        return NodeNotFoundError(
            f"{where} holds N5 metadata (attributes.json); open it with zarr_format='n5' or None"
        )
    keys, dirs = store.list_dir(prefix)
    if keys or dirs:
        shown = ", ".join((keys + [d + "/" for d in dirs])[:8])
        return NotAZarrHierarchyError(
            f"{where} is not a Zarr hierarchy: no zarr.json, .zarray, .zgroup or attributes.json; "
            f"it contains {shown}{' ...' if len(keys) + len(dirs) > 8 else ''}"
        )
    return NodeNotFoundError(f"nothing found at {where}")


def node_exists(store: Store, path: str, zarr_format: int | None = None) -> bool:
    keys = {None: (V3_KEY, *V2_KEYS, N5_KEY), 3: (V3_KEY,), 2: V2_KEYS, "n5": (N5_KEY,)}[
        zarr_format
    ]
    prefix = node_prefix(path)
    if any(v is not None for v in store.get_many([prefix + k for k in keys])):
        return True
    return zarr_format == "n5" and n5.read_n5_node(store, path) is not None  # a bare folder


def read_children(store: Store, path: str, zarr_format: int) -> list[tuple[str, NodeMetadata]]:
    """(name, metadata) of the group's direct children of its own format, sorted by name,
    with one batched read for all of their documents."""
    if zarr_format == "n5":
        return n5.read_n5_children(store, path)
    dirs = member_folders(store, path)
    if zarr_format == 3:
        raws = store.get_many([node_prefix(join_path(path, d)) + V3_KEY for d in dirs])
        return [
            (d, parse_v3_node(store, join_path(path, d), r))
            for d, r in zip(dirs, raws)
            if r is not None
        ]
    names = (ZARRAY, ZGROUP, ZATTRS)
    raws = store.get_many([node_prefix(join_path(path, d)) + k for d in dirs for k in names])
    out = []
    for i, d in enumerate(dirs):
        node = parse_v2_node(store, join_path(path, d), *raws[3 * i : 3 * i + 3])
        if node is not None:
            out.append((d, node))
    return out


# -- writing ----------------------------------------------------------------------------


def write_array_metadata(store: Store, path: str, metadata: ArrayMetadata) -> None:
    prefix = node_prefix(path)
    if metadata.zarr_format == "n5":
        return n5.write_n5_array_metadata(store, path, metadata)
    if metadata.zarr_format != 2:
        store.set(prefix + V3_KEY, dump_json(metadata.to_json()))
        return
    zarray = to_zarray(metadata, f"{store}/{prefix}{ZARRAY}")
    store.set(prefix + ZARRAY, dump_json_v2(zarray.to_json()))
    write_v2_attributes(store, path, metadata.attributes)


def write_group_metadata(store: Store, path: str, metadata: GroupMetadata) -> None:
    prefix = node_prefix(path)
    if metadata.zarr_format == "n5":
        return n5.write_n5_group_metadata(store, path, metadata)
    if metadata.zarr_format != 2:
        store.set(prefix + V3_KEY, dump_json(metadata.to_json()))
        return
    store.set(prefix + ZGROUP, dump_json_v2(zgroup_json()))
    write_v2_attributes(store, path, metadata.attributes)


def write_v2_attributes(store: Store, path: str, attributes: dict[str, Any]) -> None:
    """``.zattrs``, or none when there are no attributes (as zarr-python 2 leaves it)."""
    key = node_prefix(path) + ZATTRS
    if attributes:
        store.set(key, dump_json_v2(attributes))
    else:
        store.delete(key)


def ensure_parent_groups(store: Store, path: str, zarr_format: int = 3) -> None:
    """Write group metadata for every missing ancestor of ``path``, in the new node's
    format (v3 has no implicit groups; v2 asks for them too; N5 needs its root marked)."""
    if zarr_format == "n5":
        return n5.ensure_n5_container(store, path)
    parts = path.split("/")[:-1] if path else []
    for i in range(len(parts) + 1):
        parent = "/".join(parts[:i])
        if parent == path:
            continue
        prefix = node_prefix(parent)
        docs = dict(
            zip(
                (V3_KEY, ZARRAY, ZGROUP),
                store.get_many([prefix + k for k in (V3_KEY, ZARRAY, ZGROUP)]),
            )
        )
        if docs[ZARRAY] is not None or (
            docs[V3_KEY] is not None
            and parse_node_json(docs[V3_KEY], f"{store}/{prefix}{V3_KEY}")["node_type"] != "group"
        ):
            raise ContainsNodeError(
                f"cannot create {path!r}: {parent!r} in {store} is an array, not a group"
            )
        if docs[V3_KEY] is None and docs[ZGROUP] is None:
            write_group_metadata(store, parent, GroupMetadata(zarr_format=zarr_format))


# -- walking ----------------------------------------------------------------------------


def walk_documents(
    store: Store, path: str, zarr_format: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path relative to ``path``, raw documents) of every node below ``path``, parents
    before children, one batched read per level. v3 yields ``{"zarr.json": doc}``; v2
    ``{".zarray" or ".zgroup": doc, ".zattrs": doc}``, and ``{}`` for a folder that holds
    nodes but no ``.zgroup`` (an implicit group, which real v2 stores have)."""
    level = [""]
    while level:
        found: list[tuple[str, str]] = []  # (relative path, full path) of sub-folders
        for rel in level:
            full = join_path(path, rel)
            found += [
                (join_path(rel, d), join_path(full, d)) for d in member_folders(store, full)
            ]
        names = (V3_KEY,) if zarr_format == 3 else (ZARRAY, ZGROUP, ZATTRS)
        raws = store.get_many([node_prefix(full) + k for _, full in found for k in names])
        level = []
        for i, (rel, full) in enumerate(found):
            docs = {
                k: load_object(r, f"{store}/{node_prefix(full)}{k}")
                for k, r in zip(names, raws[i * len(names) : (i + 1) * len(names)])
                if r is not None
            }
            if zarr_format == 3:
                if V3_KEY not in docs:
                    continue  # v3 has no implicit groups: nothing below is a member
                yield rel, docs
                if docs[V3_KEY].get("node_type") == "group":
                    level.append(rel)
            elif ZARRAY in docs:
                yield rel, docs
            elif ZGROUP in docs:
                yield rel, docs
                level.append(rel)
            elif _holds_v2_nodes(store, full):
                yield rel, {}
                level.append(rel)


def _holds_v2_nodes(store: Store, path: str) -> bool:
    prefix = node_prefix(path)
    return any(k.endswith((ZARRAY, ZGROUP)) for k in store.list_prefix(prefix))


class Node:
    """What arrays and groups share: where they live and what format they are in.
    Subclasses set ``_store``, ``_path``, ``_metadata`` and ``_read_only``."""

    _store: Store
    _path: str
    _metadata: Any
    _read_only: bool

    @property
    def store(self) -> Store:
        return self._store

    @property
    def path(self) -> str:
        return self._path

    @property
    def name(self) -> str:
        return "/" + self._path

    @property
    def basename(self) -> str:
        return self._path.rsplit("/", 1)[-1]

    @property
    def zarr_format(self) -> int | str:
        return self._metadata.zarr_format

    @property
    def read_only(self) -> bool:
        return self._read_only
