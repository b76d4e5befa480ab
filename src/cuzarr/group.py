"""``Group``: a node holding arrays and groups; hierarchy walking and node discovery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cuzarr.array import Array, node_prefix
from cuzarr.attributes import Attributes
from cuzarr.errors import (
    ContainsNodeError,
    GroupNotFoundError,
    MetadataError,
    NodeNotFoundError,
    NotAZarrHierarchyError,
    ReadOnlyError,
    UnsupportedError,
)
from cuzarr.metadata.v3 import (
    GroupMetadata,
    dump_json,
    parse_array_metadata,
    parse_group_metadata,
    parse_node_json,
)
from cuzarr.stores.base import Store

V2_KEYS = (".zarray", ".zgroup")
N5_KEY = "attributes.json"


def join_path(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def describe_location(store: Store, path: str) -> str:
    return f"{store}" + (f" at path {path!r}" if path else "")


def read_node(store: Store, path: str) -> tuple[str, dict[str, Any]]:
    """Find the node at ``path``: ("array"|"group", its v3 document). Raises a clear error
    naming what is there when it is not Zarr v3."""
    prefix = node_prefix(path)
    raw = store.get(prefix + "zarr.json")
    if raw is not None:
        doc = parse_node_json(raw, f"{store}/{prefix}zarr.json")
        return doc["node_type"], doc
    where = describe_location(store, path)
    found = [k for k in (*V2_KEYS, N5_KEY) if store.get(prefix + k) is not None]
    if any(k in V2_KEYS for k in found):
        raise UnsupportedError(f"{where} holds Zarr v2 metadata ({', '.join(found)}); this cuzarr build reads Zarr v3 only")
    if found:
        raise UnsupportedError(f"{where} holds N5 metadata (attributes.json), which this cuzarr build does not read")
    keys, dirs = store.list_dir(prefix)
    if keys or dirs:
        shown = ", ".join((keys + [d + "/" for d in dirs])[:8])
        raise NotAZarrHierarchyError(
            f"{where} is not a Zarr hierarchy: no zarr.json, .zarray, .zgroup or attributes.json; "
            f"it contains {shown}{' ...' if len(keys) + len(dirs) > 8 else ''}"
        )
    raise NodeNotFoundError(f"nothing found at {where}")


def open_node(store: Store, path: str, *, read_only: bool = False, **array_kwargs: Any) -> Array | Group:
    kind, doc = read_node(store, path)
    where = f"{store}/{node_prefix(path)}zarr.json"
    if kind == "array":
        return Array(store, path, parse_array_metadata(doc, where), read_only=read_only, **array_kwargs)
    return Group(store, path, parse_group_metadata(doc, where), read_only=read_only)


def node_exists(store: Store, path: str) -> bool:
    prefix = node_prefix(path)
    return any(store.get(prefix + k) is not None for k in ("zarr.json", *V2_KEYS))


def write_group_metadata(store: Store, path: str, metadata: GroupMetadata) -> None:
    store.set(node_prefix(path) + "zarr.json", dump_json(metadata.to_json()))


def ensure_parent_groups(store: Store, path: str) -> None:
    """Write group metadata for every missing ancestor of ``path`` (v3 has no implicit
    groups, so a nested array needs its parents to be groups)."""
    parts = path.split("/")[:-1] if path else []
    for i in range(len(parts) + 1):
        parent = "/".join(parts[:i])
        if parent == path:
            continue
        raw = store.get(node_prefix(parent) + "zarr.json")
        if raw is None:
            if node_exists(store, parent):
                continue  # a v2 group; leave it alone
            write_group_metadata(store, parent, GroupMetadata())
        elif parse_node_json(raw, f"{store}/{node_prefix(parent)}zarr.json")["node_type"] != "group":
            raise ContainsNodeError(f"cannot create {path!r}: {parent!r} in {store} is an array, not a group")


class Group:
    """A Zarr group. Create one with :func:`cuzarr.create_group`, open one with
    :func:`cuzarr.open_group`."""

    def __init__(self, store: Store, path: str, metadata: GroupMetadata, *, read_only: bool = False):
        self._store = store
        self._path = path.strip("/")
        self._metadata = metadata
        self._read_only = read_only or store.read_only

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
    def metadata(self) -> GroupMetadata:
        return self._metadata

    @property
    def zarr_format(self) -> int:
        return self._metadata.zarr_format

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def attrs(self) -> Attributes:
        return Attributes(lambda: self._metadata.attributes, self._set_attributes)

    def _set_attributes(self, attributes: dict[str, Any]) -> None:
        self._check_writable()
        metadata = GroupMetadata(attributes, self._metadata.zarr_format, self._metadata.consolidated_metadata)
        write_group_metadata(self._store, self._path, metadata)
        self._metadata = metadata

    def update_attributes(self, new: dict[str, Any]) -> Group:
        self.attrs.update(new)
        return self

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"group {self.name!r} in {self._store} is read-only")

    def __repr__(self) -> str:
        return f"<cuzarr.Group {self._store}{self.name}>"

    # -- members --------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Array | Group:
        path = join_path(self._path, key)
        try:
            return open_node(self._store, path, read_only=self._read_only)
        except NodeNotFoundError:
            raise NodeNotFoundError(f"{self.name!r} has no member {key!r} (in {self._store})") from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except NodeNotFoundError:
            return default

    def __contains__(self, key: str) -> bool:
        return node_exists(self._store, join_path(self._path, key))

    def _child_names(self) -> list[str]:
        _, dirs = self._store.list_dir(node_prefix(self._path))
        return [d for d in dirs if node_exists(self._store, join_path(self._path, d))]

    def members(self, max_depth: int | None = 0) -> Iterator[tuple[str, Array | Group]]:
        """(name, node) for each child; with ``max_depth`` > 0 or None, descendants too
        (names relative to this group)."""
        for name in self._child_names():
            node = self[name]
            yield name, node
            if isinstance(node, Group) and (max_depth is None or max_depth > 0):
                depth = None if max_depth is None else max_depth - 1
                for sub, child in node.members(depth):
                    yield f"{name}/{sub}", child

    def keys(self) -> Iterator[str]:
        return (name for name, _ in self.members())

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __len__(self) -> int:
        return sum(1 for _ in self.members())

    def arrays(self) -> Iterator[tuple[str, Array]]:
        return ((n, m) for n, m in self.members() if isinstance(m, Array))

    def groups(self) -> Iterator[tuple[str, Group]]:
        return ((n, m) for n, m in self.members() if isinstance(m, Group))

    def array_keys(self) -> Iterator[str]:
        return (n for n, _ in self.arrays())

    def group_keys(self) -> Iterator[str]:
        return (n for n, _ in self.groups())

    def tree(self, level: int | None = None) -> str:
        """A text drawing of the hierarchy below this group."""
        lines = [self.name]

        def walk(group: Group, indent: str, depth: int) -> None:
            children = list(group.members())
            for i, (name, node) in enumerate(children):
                last = i == len(children) - 1
                label = name if isinstance(node, Group) else f"{name} {node.shape} {node.dtype}"
                lines.append(f"{indent}{'└── ' if last else '├── '}{label}")
                if isinstance(node, Group) and (level is None or depth < level):
                    walk(node, indent + ("    " if last else "│   "), depth + 1)

        walk(self, "", 1)
        return "\n".join(lines)

    # -- creating members -----------------------------------------------------------------
    def create_group(self, name: str, *, overwrite: bool = False, attributes: dict | None = None) -> Group:
        from cuzarr.api import create_group

        self._check_writable()
        return create_group(self._store, path=join_path(self._path, name), overwrite=overwrite, attributes=attributes)

    def require_group(self, name: str, **kwargs: Any) -> Group:
        """The member group ``name``, created if absent."""
        path = join_path(self._path, name)
        if node_exists(self._store, path):
            node = self[name]
            if not isinstance(node, Group):
                raise ContainsNodeError(f"{path!r} in {self._store} is an array, not a group")
            return node
        return self.create_group(name, **kwargs)

    def require_groups(self, *names: str) -> tuple[Group, ...]:
        return tuple(self.require_group(n) for n in names)

    def create_array(self, name: str, **kwargs: Any) -> Array:
        from cuzarr.api import create_array

        self._check_writable()
        return create_array(self._store, name=join_path(self._path, name), **kwargs)

    def require_array(self, name: str, *, shape: Any, **kwargs: Any) -> Array:
        path = join_path(self._path, name)
        if node_exists(self._store, path):
            node = self[name]
            if not isinstance(node, Array):
                raise ContainsNodeError(f"{path!r} in {self._store} is a group, not an array")
            if tuple(node.shape) != tuple(shape if isinstance(shape, tuple) else (shape,)):
                raise MetadataError(f"{path!r} exists with shape {node.shape}, not {shape}")
            return node
        return self.create_array(name, shape=shape, **kwargs)

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        path = join_path(self._path, key)
        if not node_exists(self._store, path):
            raise NodeNotFoundError(f"{self.name!r} has no member {key!r}")
        self._store.delete_prefix(node_prefix(path))


def open_group_at(store: Store, path: str, read_only: bool) -> Group:
    node = open_node(store, path, read_only=read_only)
    if not isinstance(node, Group):
        raise GroupNotFoundError(f"{describe_location(store, path)} is an array, not a group")
    return node
