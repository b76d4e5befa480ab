"""v2 -> v3 migration in place: a ``zarr.json`` beside every ``.zarray`` / ``.zgroup``.

No chunk is rewritten. Each array's ``zarr.json`` uses the ``v2`` chunk key encoding
with the array's separator, so it names the chunks that are there; order F becomes a
leading ``transpose``; filters and compressor become codecs (numcodecs-only ones under
their ``numcodecs.*`` names); the dtype's byte order moves to the ``bytes`` codec;
``.zattrs`` becomes ``attributes``. Afterwards the store opens as v3 (cuzarr, zarr-python
3, tensorstore) and still as v2.

An array whose v2 metadata has no faithful v3 form is skipped, never approximated; the
report names it and says why. ``fill_value: null`` becomes the type's default, the value
zarr-python 3 and cuzarr read for missing chunks of such an array (v2 leaves them
undefined). Writes through one view afterwards do not update the other's metadata:
re-run with ``overwrite=True``, or treat the store as read-only until ``remove_v2``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec
from cuzarr.codecs.blosc import BloscCodec
from cuzarr.codecs.categorize import CategorizeCodec
from cuzarr.codecs.filters import QuantizeCodec
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.errors import MetadataError, NodeNotFoundError, UnsupportedError
from cuzarr.metadata.consolidated import inline_document
from cuzarr.metadata.convert import from_zarray
from cuzarr.metadata.dtypes import byte_order, spelled
from cuzarr.metadata.v2 import ZARRAY, ZATTRS, ZGROUP, ZMETADATA, load_object, parse_zarray
from cuzarr.metadata.v3 import ArrayMetadata, GroupMetadata, dump_json
from cuzarr.nodes import V3_KEY, describe_location, join_path, node_prefix, walk_documents
from cuzarr.stores import make_store
from cuzarr.stores.base import Store


class NotMigratable(Exception):
    """Why an array's v2 metadata has no faithful v3 form (internal: becomes a report row)."""


@dataclass
class MigrationReport:
    """What :func:`migrate` did (or, with ``dry_run``, would do)."""

    store: str
    dry_run: bool
    written: list[str] = field(default_factory=list)  # node paths given a zarr.json
    # node paths that already have v3 metadata, agreeing with their v2 metadata: left as
    # they are
    already: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (node path, why)
    removed: list[str] = field(default_factory=list)  # v2 keys deleted (remove_v2)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> zarr.json

    @property
    def ok(self) -> bool:
        """True when every node was migrated (now or before)."""
        return not self.skipped

    def __str__(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        lines = [f"{self.store}: {verb} zarr.json for {len(self.written)} node(s)"]
        lines += [f"  + /{p}" for p in self.written]
        if self.already:
            lines.append(f"{len(self.already)} node(s) already have v3 metadata: nothing to do")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} node(s):")
            lines += [f"  - /{p}: {why}" for p, why in self.skipped]
        if self.removed:
            lines.append(
                f"{'would remove' if self.dry_run else 'removed'} {len(self.removed)} v2 key(s)"
            )
        return "\n".join(lines)


def _v3_spelling(dtype: np.dtype) -> np.dtype:
    """The v3 names other readers know: zarr-python reads ``raw_bytes``, not ``r<N>``."""
    if dtype.kind == "V" and dtype.fields is None and dtype.subdtype is None:
        return spelled(dtype, "raw_bytes")
    return dtype


def v3_array_document(
    zarray_doc: dict[str, Any], attributes: dict[str, Any], where: str
) -> dict[str, Any]:
    """The ``zarr.json`` that reads the same values as a ``.zarray``; NotMigratable when
    there is none."""
    try:
        meta = from_zarray(parse_zarray(zarray_doc, where), attributes, where)
    except (MetadataError, UnsupportedError) as e:
        raise NotMigratable(str(e)) from None
    if any(isinstance(c, CategorizeCodec) for c in meta.codecs):
        raise NotMigratable(
            "the categorize filter's v3 form, numcodecs.categorize, is unknown to zarr-python 3 "
            "and tensorstore, so the array would open in cuzarr only"
        )
    for c in meta.codecs:
        if isinstance(c, QuantizeCodec) and c.astype is not None and c.astype != c.dtype:
            raise NotMigratable(
                f"numcodecs.quantize with astype {c.astype.str} (dtype {c.dtype.str}) reads "
                "differently in zarr-python 3, which keeps the array's type between the filters"
            )
    if byte_order(meta.dtype) == "mixed":
        raise NotMigratable(
            f"structured dtype {meta.dtype} mixes byte orders; the v3 bytes codec has one endian"
        )
    codecs, spec = [], ChunkSpec(meta.chunk_shape, meta.dtype, meta.fill_value)
    for codec in meta.codecs:
        if isinstance(codec, TransposeCodec) and list(codec.order) == sorted(codec.order):
            continue  # order F of a 0-d or 1-d array: no permutation at all
        if isinstance(codec, BloscCodec):
            # v2's AUTOSHUFFLE has no v3 spelling; it meant what evolve resolves it to, and
            # blosc decoding reads the shuffle from each chunk's header anyway
            codec = codec.evolve(spec)
        codecs.append(codec)
        if codec.kind == "array_to_array":
            spec = codec.resolve(spec)
    base = {f.name: getattr(meta, f.name) for f in fields(ArrayMetadata)}
    base.update(dtype=_v3_spelling(meta.dtype), codecs=tuple(codecs), zarr_format=3)
    try:
        return ArrayMetadata(**base).to_json()
    except (MetadataError, UnsupportedError) as e:
        raise NotMigratable(str(e)) from None


def _nodes(store: Store, path: str) -> list[tuple[str, dict[str, Any]]]:
    """(path relative to ``path``, raw v2 documents) of the node at ``path`` and below."""
    prefix = node_prefix(path)
    raws = store.get_many([prefix + k for k in (ZARRAY, ZGROUP, ZATTRS)])
    root = {
        k: load_object(r, f"{store}/{prefix}{k}")
        for k, r in zip((ZARRAY, ZGROUP, ZATTRS), raws)
        if r is not None
    }
    if ZARRAY in root:
        return [("", root)]
    below = list(walk_documents(store, path, 2))
    if ZGROUP not in root and not below:
        raise NodeNotFoundError(
            f"{describe_location(store, path)} holds no Zarr v2 metadata to migrate"
        )
    return [("", root), *below]


def migrate(
    store: Any,
    zarr_format: int = 3,
    *,
    path: str = "",
    dry_run: bool = False,
    remove_v2: bool = False,
    overwrite: bool = False,
    storage_options: dict | None = None,
) -> MigrationReport:
    """Add v3 metadata (``zarr.json``) beside the v2 metadata of every group and array at
    ``path`` and below, leaving chunks untouched; see the module docstring. With
    ``dry_run`` nothing is written; ``remove_v2`` then deletes the migrated nodes' v2
    documents (and ``.zmetadata``); ``overwrite`` replaces existing ``zarr.json``s."""
    if zarr_format != 3:
        raise UnsupportedError(
            f"migrate: only v2 -> v3 is supported, not zarr_format={zarr_format!r}"
        )
    s = make_store(store, mode="r" if dry_run else "a", storage_options=storage_options)
    path = (path or "").strip("/")
    report = MigrationReport(str(s), dry_run)
    nodes = _nodes(s, path)
    existing = s.get_many([node_prefix(join_path(path, rel)) + V3_KEY for rel, _ in nodes])
    confirmed = []  # nodes whose zarr.json says what their v2 metadata says
    for (rel, docs), there in zip(nodes, existing):
        full = join_path(path, rel)
        where = f"{s}/{node_prefix(full)}{ZARRAY}"
        try:
            doc = _v3_document(docs, where)
        except NotMigratable as e:
            doc, why = None, f"no faithful v3 form: {e}".replace(f"{where}: ", "")
        if there is not None and not overwrite:
            if doc is not None and not _same_document(there, doc):
                report.skipped.append(
                    (full, "it already has a zarr.json, which differs from what its v2 metadata "
                     "gives (overwrite replaces it)")
                )  # fmt: skip
                continue
            report.already.append(full)  # nothing to do
            if doc is not None:
                confirmed.append(full)
        elif doc is None:
            report.skipped.append((full, why))
        else:
            report.written.append(full)
            report.documents[full] = doc
    _carry_consolidated(s, path, report)
    if not dry_run:
        s.set_many([(node_prefix(p) + V3_KEY, dump_json(d)) for p, d in report.documents.items()])
    if remove_v2:
        _remove_v2(s, path, report, report.written + confirmed)
    return report


def _v3_document(docs: dict[str, Any], where: str) -> dict[str, Any]:
    attrs = docs.get(ZATTRS) or {}
    if ZARRAY in docs:
        return v3_array_document(docs[ZARRAY], attrs, where)
    # a group, or a folder of nodes without .zgroup: v3 needs it explicit
    return GroupMetadata(attributes=attrs).to_json()


def _same_document(raw: Any, doc: dict[str, Any]) -> bool:
    """Whether an existing zarr.json says what ``doc`` says (consolidated metadata aside,
    which a migrated root carries)."""
    try:
        there = json.loads(bytes(raw))
    except ValueError:
        return False
    if not isinstance(there, dict):
        return False
    there.pop("consolidated_metadata", None)
    wanted = json.loads(dump_json(doc))
    wanted.pop("consolidated_metadata", None)
    return there == wanted


def _carry_consolidated(store: Store, path: str, report: MigrationReport) -> None:
    """A v2 root consolidated with .zmetadata gets v3 inline consolidated metadata."""
    root = report.documents.get(path)
    if root is None or root.get("node_type") != "group":
        return
    if store.get(node_prefix(path) + ZMETADATA) is None:
        return
    n = len(path) + 1 if path else 0
    entries = {p[n:]: d for p, d in report.documents.items() if p != path}
    report.documents[path] = {**root, "consolidated_metadata": inline_document(entries)}


def _remove_v2(store: Store, path: str, report: MigrationReport, migrated: list[str]) -> None:
    """Delete the v2 documents of ``migrated`` nodes (and the root's .zmetadata)."""
    keys = [node_prefix(p) + k for p in migrated for k in (ZARRAY, ZGROUP, ZATTRS)]
    keys.append(node_prefix(path) + ZMETADATA)
    present = [k for k, v in zip(keys, store.get_many(keys)) if v is not None]
    report.removed = present
    if not report.dry_run and present:
        store.delete_many(present)
