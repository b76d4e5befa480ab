"""Consolidated metadata: every node's metadata document in one object.

Two conventions, both zarr-python's (neither is in a spec yet):

- v2 ``.zmetadata`` at the group's prefix: ``{"zarr_consolidated_format": 1, "metadata":
  {".zgroup": {...}, ".zattrs": {...}, "a/.zarray": {...}, "a/.zattrs": {...}}}`` — keys
  are store keys relative to the group, values the parsed documents.
- v3 inline, in the group's own ``zarr.json``: ``"consolidated_metadata": {"kind":
  "inline", "must_understand": false, "metadata": {"a": <a's zarr.json>, "b/c": ...}}`` —
  a flat map from descendant path to document; child groups' entries carry an empty
  ``consolidated_metadata`` of their own.

Both are a read-side snapshot: a group opened from one answers ``members()`` and
``group[name]`` from it without reading per-node documents, and it stays as it was
when written until :func:`cuzarr.consolidate_metadata` runs again.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from cuzarr.errors import InvalidKeyError, MetadataError, UnsupportedError
from cuzarr.metadata import shown
from cuzarr.metadata.convert import from_zarray
from cuzarr.metadata.v2 import ZARRAY, ZATTRS, ZGROUP, parse_zarray, parse_zgroup
from cuzarr.metadata.v3 import (
    ArrayMetadata,
    GroupMetadata,
    parse_array_metadata,
    parse_group_metadata,
    with_where,
)
from cuzarr.stores.base import check_key

NodeMetadata = ArrayMetadata | GroupMetadata
EMPTY_INLINE = {"kind": "inline", "must_understand": False, "metadata": {}}


class Consolidated:
    """Node documents by path relative to the consolidating group, parsed on first use."""

    def __init__(self, docs: dict[str, dict[str, Any]], where: str):
        self._docs = docs  # path -> v3 document, or v2 {".zarray"/".zgroup": .., ".zattrs": ..}
        self._parsed: dict[str, NodeMetadata] = {}
        self.where = where

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self._docs

    def get(self, path: str) -> NodeMetadata | None:
        path = path.strip("/")
        if path not in self._docs:
            return None
        if path not in self._parsed:
            self._parsed[path] = _parse_node(self._docs[path], f"{self.where}[{path!r}]")
        return self._parsed[path]

    def children(self) -> list[str]:
        """Names of the direct children, sorted."""
        return sorted(p for p in self._docs if "/" not in p)

    def sub(self, name: str) -> Consolidated:
        """The view of the descendants of child ``name`` (paths relative to it)."""
        prefix = name.strip("/") + "/"
        docs = {p[len(prefix) :]: d for p, d in self._docs.items() if p.startswith(prefix)}
        view = Consolidated(docs, self.where)
        view._parsed = {
            p[len(prefix) :]: m for p, m in self._parsed.items() if p.startswith(prefix)
        }
        return view


def _attributes(doc: dict[str, Any], name: str) -> Any:
    """The attributes a document holds; absent or null means none (a non-object value is
    left for the node's metadata to refuse)."""
    value = doc.get(name)
    return {} if value is None else value


def _parse_node(doc: dict[str, Any], where: str) -> NodeMetadata:
    try:
        return _parse_node_document(doc, where)
    except (MetadataError, UnsupportedError) as e:
        raise with_where(e, where) from None


def _parse_node_document(doc: dict[str, Any], where: str) -> NodeMetadata:
    if ZARRAY in doc or ZGROUP in doc:  # a v2 node, gathered from .zmetadata
        attrs = _attributes(doc, ZATTRS)
        if ZARRAY in doc:
            return from_zarray(parse_zarray(doc[ZARRAY], where), attrs, where)
        parse_zgroup(doc[ZGROUP], where)
        return GroupMetadata(attributes=attrs, zarr_format=2)
    if doc.get("zarr_format") == 2:  # a v2 document inside v3 inline metadata
        if "shape" in doc:
            attrs = _attributes(doc, "attributes")
            core = {k: v for k, v in doc.items() if k != "attributes"}
            return from_zarray(parse_zarray(core, where), attrs, where)
        return GroupMetadata(attributes=_attributes(doc, "attributes"), zarr_format=2)
    if doc.get("node_type") == "array":
        return parse_array_metadata(doc, where)
    if doc.get("node_type") == "group":
        # an entry's own (empty) consolidated_metadata says nothing: its members are in the
        # flat map. Dropped, so rewriting this group's attributes cannot hide its members.
        doc = {k: v for k, v in doc.items() if k != "consolidated_metadata"}
        return parse_group_metadata(doc, where)
    raise MetadataError(f"{where}: neither an array nor a group document")


# -- reading ----------------------------------------------------------------------------


def _member_path(path: str, where: str) -> str:
    """A member's path as the document states it -> its normal form; a path that would
    leave the group (``..``, ``.``, empty segments, a backslash, a NUL byte) makes the
    whole document invalid, before any key is derived from it."""
    path = path.strip("/")
    if path:
        try:
            check_key(path, "a consolidated member")
        except InvalidKeyError as e:
            raise MetadataError(f"{where}: member {path!r} is not a valid node path ({e})") from e
    return path


def parse_inline(obj: Any, where: str) -> Consolidated:
    """A v3 group's ``consolidated_metadata`` value -> view."""
    if not isinstance(obj, dict) or obj.get("kind") != "inline":
        kind = obj.get("kind") if isinstance(obj, dict) else obj
        raise MetadataError(f"{where}: consolidated_metadata kind must be 'inline', not {shown(kind)}")
    docs = obj.get("metadata")
    if not isinstance(docs, dict) or not all(isinstance(d, dict) for d in docs.values()):
        raise MetadataError(f"{where}: consolidated_metadata.metadata must map paths to objects")
    members = {_member_path(k, where): v for k, v in docs.items()}
    if "" in members:
        raise MetadataError(f"{where}: consolidated_metadata lists the group itself as a member")
    return Consolidated(members, where)


def parse_zmetadata(doc: Any, where: str) -> tuple[GroupMetadata, Consolidated]:
    """A v2 ``.zmetadata`` document -> (the group's own metadata, view of its members)."""
    if not isinstance(doc, dict) or doc.get("zarr_consolidated_format") != 1:
        found = doc.get("zarr_consolidated_format") if isinstance(doc, dict) else doc
        raise MetadataError(f"{where}: zarr_consolidated_format must be 1, found {shown(found)}")
    entries = doc.get("metadata")
    if not isinstance(entries, dict):
        raise MetadataError(f"{where}: 'metadata' must be an object")
    nodes: dict[str, dict[str, Any]] = {}
    for key, value in entries.items():
        path, _, name = key.rpartition("/")
        if name in (ZARRAY, ZGROUP, ZATTRS):
            nodes.setdefault(_member_path(path, where), {})[name] = value
    root = nodes.pop("", {})
    if ZGROUP not in root:
        raise MetadataError(f"{where}: no '.zgroup' entry for the group itself")
    parse_zgroup(root[ZGROUP], where)
    members = {p: d for p, d in nodes.items() if ZARRAY in d or ZGROUP in d}
    try:
        group = GroupMetadata(attributes=_attributes(root, ZATTRS), zarr_format=2)
    except MetadataError as e:
        raise with_where(e, f"{where}['.zattrs']") from None
    return group, Consolidated(members, where)


# -- writing ----------------------------------------------------------------------------


def _sort_key(path: str) -> tuple[int, str]:
    # zarr-python >= 3.1.1: by depth, then by NFKC-casefolded path
    return path.count("/"), unicodedata.normalize("NFKC", path).casefold()


def inline_document(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``consolidated_metadata`` value for a group whose descendants' ``zarr.json``
    documents are ``docs`` (path -> document)."""
    flat = {}
    for path in sorted(docs, key=_sort_key):
        doc = dict(docs[path])
        if doc.get("node_type") == "group":
            doc["consolidated_metadata"] = dict(EMPTY_INLINE)  # members are listed flat here
        flat[path] = doc
    return {"kind": "inline", "must_understand": False, "metadata": flat}


def zmetadata_document(docs: dict[str, Any]) -> dict[str, Any]:
    """A ``.zmetadata`` document from store keys (relative, ending in .zarray, .zgroup or
    .zattrs) -> parsed documents."""
    return {"metadata": {k: docs[k] for k in sorted(docs)}, "zarr_consolidated_format": 1}
