"""``Group``: a node holding arrays and groups; opening nodes, consolidated metadata.

A group opened from consolidated metadata (v3 inline, v2 ``.zmetadata``) answers
``members()``, ``group[name]``, ``in`` and ``tree()`` from that snapshot and reads no
per-node document. The snapshot wins over the store until it is rewritten by
:func:`consolidate_metadata` (zarr-python's rule). A group's own writes (creating,
deleting members) go to the per-node documents and leave the stored snapshot as it
was, stale; the group that wrote drops its snapshot, so it sees its own writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cuzarr.array import Array, as_shape
from cuzarr.attributes import Attributes
from cuzarr.errors import (
    ContainsNodeError,
    GroupNotFoundError,
    InvalidKeyError,
    MetadataError,
    NodeNotFoundError,
    ReadOnlyError,
)
from cuzarr.indexing import is_integer
from cuzarr.metadata.consolidated import Consolidated, parse_inline, parse_zmetadata
from cuzarr.metadata.n5 import read_n5_node
from cuzarr.metadata.v2 import ZMETADATA, load_object
from cuzarr.metadata.v3 import ArrayMetadata, GroupMetadata
from cuzarr.nodes import (  # re-exported: api.py imports these from here
    V3_KEY,
    Node,
    check_format,
    describe_location,
    ensure_parent_groups,
    join_path,
    node_exists,
    node_path,
    node_prefix,
    not_found,
    parse_v3_node,
    read_children,
    read_v2_node,
    write_group_metadata,
)
from cuzarr.stores.base import Store

__all__ = [
    "Group",
    "describe_location",
    "ensure_parent_groups",
    "join_path",
    "node_exists",
    "open_group_at",
    "open_node",
    "write_group_metadata",
]


def make_node(
    store: Store,
    path: str,
    metadata: ArrayMetadata | GroupMetadata,
    *,
    read_only: bool = False,
    consolidated: Consolidated | None = None,
    **array_kwargs: Any,
) -> Array | Group:
    if not read_only:
        # what writers killed while writing this node's metadata left beside it
        store.remove_leftovers(node_prefix(path))
    if isinstance(metadata, ArrayMetadata):
        return Array(store, path, metadata, read_only=read_only, **array_kwargs)
    return Group(store, path, metadata, read_only=read_only, consolidated=consolidated)


def open_node(
    store: Store,
    path: str,
    *,
    read_only: bool = False,
    zarr_format: int | None = None,
    use_consolidated: bool | None = None,
    **array_kwargs: Any,
) -> Array | Group:
    """The node at ``path``. A group uses its consolidated metadata per
    ``use_consolidated``: None uses it when present, True requires it, False ignores it.
    Reads one object where it can: ``zarr.json`` (whose inline consolidated metadata
    describes the whole hierarchy), or ``.zmetadata`` for v2."""
    check_format(zarr_format)
    prefix = node_prefix(path)
    if zarr_format in (None, 3):
        raw = store.get(prefix + V3_KEY)
        if raw is not None:
            metadata = parse_v3_node(store, path, raw)
            view = None
            if isinstance(metadata, GroupMetadata) and use_consolidated is not False:
                view = _inline_view(store, path, metadata)
                if view is None and use_consolidated:
                    raise MetadataError(
                        f"{describe_location(store, path)} has no consolidated metadata"
                    )
            return make_node(
                store, path, metadata, read_only=read_only, consolidated=view, **array_kwargs
            )
    if zarr_format in (None, 2):
        if use_consolidated is not False:
            raw = store.get(prefix + ZMETADATA)
            if raw is not None:
                where = f"{store}/{prefix}{ZMETADATA}"
                metadata, view = parse_zmetadata(load_object(raw, where), where)
                return Group(store, path, metadata, read_only=read_only, consolidated=view)
        metadata = read_v2_node(store, path)
        if metadata is not None:
            if isinstance(metadata, GroupMetadata) and use_consolidated:
                raise MetadataError(
                    f"{describe_location(store, path)} has no consolidated metadata (.zmetadata)"
                )
            return make_node(store, path, metadata, read_only=read_only, **array_kwargs)
    if zarr_format in (None, "n5"):
        metadata = read_n5_node(store, path)
        if metadata is not None:
            return make_node(store, path, metadata, read_only=read_only, **array_kwargs)
    raise not_found(store, path, zarr_format)


def _inline_view(store: Store, path: str, metadata: GroupMetadata) -> Consolidated | None:
    cm = metadata.consolidated_metadata
    if cm is None:
        return None
    return parse_inline(cm, f"{store}/{node_prefix(path)}zarr.json consolidated_metadata")


class Group(Node):
    """A Zarr group. Create one with :func:`cuzarr.create_group`, open one with
    :func:`cuzarr.open_group`."""

    def __init__(
        self,
        store: Store,
        path: str,
        metadata: GroupMetadata,
        *,
        read_only: bool = False,
        consolidated: Consolidated | None = None,
    ):
        self._store = store
        self._path = path.strip("/")
        self._metadata = metadata
        self._read_only = read_only or store.read_only
        self._consolidated = consolidated

    @property
    def metadata(self) -> GroupMetadata:
        return self._metadata

    @property
    def consolidated(self) -> Consolidated | None:
        """The consolidated metadata this group answers from, or None."""
        return self._consolidated

    @property
    def attrs(self) -> Attributes:
        where = f"group {self.name!r} in {self._store}"
        return Attributes(lambda: self._metadata.attributes, self._set_attributes, where)

    def _set_attributes(self, attributes: dict[str, Any]) -> None:
        self._check_writable()
        m = self._metadata
        metadata = GroupMetadata(attributes, m.zarr_format, m.consolidated_metadata)
        write_group_metadata(self._store, self._path, metadata)
        self._metadata = metadata

    def update_attributes(self, new: dict[str, Any]) -> Group:
        self.attrs.update(new)
        return self

    def _check_writable(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"group {self.name!r} in {self._store} is read-only")

    def _wrote(self) -> None:
        self._consolidated = None  # our own write made the snapshot stale: read the store

    def __repr__(self) -> str:
        return f"<cuzarr.Group {self._store}{self.name}>"

    # -- members --------------------------------------------------------------------------
    def _member_path(self, key: Any, lookup: bool = False) -> tuple[str, str]:
        """(the member's name in normal form, its path) for a member name as given
        (``"a/b"``, ``"/a"``). A name that is not a str, or names no member (``""``,
        ``"/"``: the group itself) is refused: NodeNotFoundError (a KeyError) for a
        ``lookup``, else InvalidKeyError; :func:`node_path` refuses the rest."""
        name = node_path(key) if isinstance(key, str) else None
        if not name:
            error = NodeNotFoundError if lookup else InvalidKeyError
            raise error(
                f"a member of group {self.name!r} (in {self._store}) is named by a non-empty "
                f"str, not {type(key).__name__} {key!r}"
            )
        return name, join_path(self._path, name)

    def __getitem__(self, key: str) -> Array | Group:
        key, path = self._member_path(key, lookup=True)
        if self._consolidated is not None:
            meta = self._consolidated.get(key)
            if meta is None:
                raise NodeNotFoundError(
                    f"{self.name!r} has no member {key!r} in its consolidated metadata (in {self._store})"
                )
            return make_node(
                self._store,
                path,
                meta,
                read_only=self._read_only,
                consolidated=self._consolidated.sub(key)
                if isinstance(meta, GroupMetadata)
                else None,
            )
        try:
            return open_node(
                self._store,
                path,
                read_only=self._read_only,
                zarr_format=self.zarr_format,
                use_consolidated=False,
            )
        except NodeNotFoundError:
            raise NodeNotFoundError(
                f"{self.name!r} has no member {key!r} (in {self._store})"
            ) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except NodeNotFoundError:
            return default

    def __contains__(self, key: object) -> bool:
        try:
            key, path = self._member_path(key, lookup=True)
        except (NodeNotFoundError, InvalidKeyError):
            return False  # as for a dict: what cannot name a member is not one
        if self._consolidated is not None:
            return key in self._consolidated
        return node_exists(self._store, path, self.zarr_format)

    def _children(self) -> list[tuple[str, Array | Group]]:
        if self._consolidated is not None:
            return [(name, self[name]) for name in self._consolidated.children()]
        return [
            (
                name,
                make_node(
                    self._store, join_path(self._path, name), meta, read_only=self._read_only
                ),
            )
            for name, meta in read_children(self._store, self._path, self.zarr_format)
            # A key another program wrote ("/abs/zarr.json", "a//b") can list a folder
            # that names no member, or this group again: walking it would never end.
            if _is_member_name(name)
        ]

    def members(self, max_depth: int | None = 0) -> Iterator[tuple[str, Array | Group]]:
        """(name, node) for each child; with ``max_depth`` > 0 or None, descendants too
        (names relative to this group, each group followed by what it holds)."""
        _check_depth(max_depth, "members: max_depth")
        return (
            (name, node)
            for name, node, _, _ in _walk(self, None if max_depth is None else max_depth + 1)
        )

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
        _check_depth(level, "tree: level")
        lines = [self.name]
        indents = [""]  # per depth: the drawing left of a member at that depth
        for name, node, depth, last in _walk(self, level):
            del indents[depth:]
            label = name.rsplit("/", 1)[-1]
            if isinstance(node, Array):
                label = f"{label} {node.shape} {node.dtype}"
            lines.append(f"{indents[-1]}{'└── ' if last else '├── '}{label}")
            indents.append(indents[-1] + ("    " if last else "│   "))
        return "\n".join(lines)

    # -- creating members -----------------------------------------------------------------
    def create_group(
        self, name: str, *, overwrite: bool = False, attributes: dict | None = None
    ) -> Group:
        from cuzarr.api import create_group

        self._check_writable()
        group = create_group(
            self._store,
            path=self._member_path(name)[1],
            overwrite=overwrite,
            attributes=attributes,
            zarr_format=self.zarr_format,
        )
        self._wrote()
        return group

    def require_group(self, name: str, **kwargs: Any) -> Group:
        """The member group ``name``, created if absent."""
        path = self._member_path(name)[1]
        if name in self:
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
        kwargs.setdefault("zarr_format", self.zarr_format)
        array = create_array(self._store, name=self._member_path(name)[1], **kwargs)
        self._wrote()
        return array

    def require_array(self, name: str, *, shape: Any, **kwargs: Any) -> Array:
        path = self._member_path(name)[1]
        if name in self:
            node = self[name]
            if not isinstance(node, Array):
                raise ContainsNodeError(f"{path!r} in {self._store} is a group, not an array")
            if node.shape != as_shape(shape, "shape"):
                raise MetadataError(f"{path!r} exists with shape {node.shape}, not {shape}")
            return node
        return self.create_array(name, shape=shape, **kwargs)

    def __delitem__(self, key: str) -> None:
        self._check_writable()
        name, path = self._member_path(key, lookup=True)
        if name not in self:
            raise NodeNotFoundError(f"{self.name!r} has no member {key!r}")
        self._store.delete_prefix(node_prefix(path))
        self._wrote()


def _walk(group: Group, levels: int | None) -> Iterator[tuple[str, Array | Group, int, bool]]:
    """(name relative to ``group``, node, depth from 1, whether it is its group's last
    member) for every member down to ``levels`` deep (None: all), each group followed
    by its own members. Iterative: a hierarchy deeper than Python's stack is walked too."""
    stack = [("", iter(_with_last(group._children())), 1)]
    while stack:
        prefix, members, depth = stack[-1]
        step = next(members, None)
        if step is None:
            stack.pop()
            continue
        (name, node), last = step
        full = f"{prefix}{name}"
        yield full, node, depth, last
        if isinstance(node, Group) and (levels is None or depth < levels):
            stack.append((f"{full}/", iter(_with_last(node._children())), depth + 1))


def _is_member_name(name: str) -> bool:
    """One path segment that names a node below the group (not "", ".", ".." ...)."""
    try:
        return bool(name) and "/" not in name and node_path(name) == name
    except InvalidKeyError:
        return False


def _with_last(items: list[Any]) -> Iterator[tuple[Any, bool]]:
    return ((item, i == len(items) - 1) for i, item in enumerate(items))


def _check_depth(value: Any, what: str) -> None:
    if value is not None and not (is_integer(value) and value >= 0):
        raise MetadataError(f"{what} must be None or an int >= 0, not {value!r}")


def open_group_at(
    store: Store,
    path: str,
    read_only: bool,
    zarr_format: int | None = None,
    use_consolidated: bool | None = None,
) -> Group:
    node = open_node(
        store, path, read_only=read_only, zarr_format=zarr_format, use_consolidated=use_consolidated
    )
    if not isinstance(node, Group):
        raise GroupNotFoundError(f"{describe_location(store, path)} is an array, not a group")
    return node
