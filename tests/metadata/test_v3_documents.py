"""zarr.json parsing and validation."""

import copy
import json

import pytest

from cuzarr.errors import MetadataError, UnknownCodecError, UnsupportedError
from cuzarr.metadata.v3 import parse_array_metadata, parse_group_metadata, parse_node_json

DOC = {
    "zarr_format": 3,
    "node_type": "array",
    "shape": [10000, 1000],
    "dimension_names": ["rows", "columns"],
    "data_type": "float64",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1000, 100]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    "fill_value": "NaN",
    "attributes": {"foo": 42},
}


def test_spec_example_round_trips():
    meta = parse_array_metadata(copy.deepcopy(DOC))
    assert meta.shape == (10000, 1000)
    assert meta.chunk_shape == (1000, 100)
    assert meta.dimension_names == ("rows", "columns")
    out = meta.to_json()
    assert out["fill_value"] == "NaN"
    assert out["storage_transformers"] == []
    assert parse_array_metadata(json.loads(json.dumps(out))).to_json() == out


def with_change(**changes):
    doc = copy.deepcopy(DOC)
    for k, v in changes.items():
        if v is None:
            doc.pop(k)
        else:
            doc[k] = v
    return doc


@pytest.mark.parametrize(
    ("doc", "error", "message"),
    [
        (with_change(shape=None), MetadataError, "'shape' is missing"),
        (with_change(shape=[-1, 3]), MetadataError, "shape"),
        (with_change(data_type="float99"), UnsupportedError, "float99"),
        (with_change(codecs=[]), MetadataError, "non-empty"),
        (with_change(codecs=[{"name": "nope"}]), UnknownCodecError, "nope"),
        (with_change(codecs=[{"name": "transpose", "configuration": {"order": [1, 0]}}]), MetadataError, "exactly one array->bytes"),
        (with_change(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [0, 1]}}), MetadataError, "chunk_shape"),
        (with_change(chunk_grid={"name": "hexagonal"}), UnsupportedError, "hexagonal"),
        (with_change(chunk_key_encoding={"name": "default", "configuration": {"separator": "-"}}), MetadataError, "separator"),
        (with_change(dimension_names=["a"]), MetadataError, "dimension_names"),
        (with_change(storage_transformers=[{"name": "x"}]), UnsupportedError, "storage transformers"),
        (with_change(new_thing={"must_understand": True}), UnsupportedError, "new_thing"),
        (with_change(new_thing=3), UnsupportedError, "new_thing"),
        (with_change(fill_value="oops"), MetadataError, "fill_value"),
    ],
)
def test_bad_documents_name_the_field(doc, error, message):
    with pytest.raises(error, match=message):
        parse_array_metadata(doc, "a/zarr.json")


def test_optional_extension_fields_are_kept():
    doc = with_change(extra={"must_understand": False, "x": 1})
    meta = parse_array_metadata(doc)
    assert meta.to_json()["extra"] == {"must_understand": False, "x": 1}


def test_node_json_checks():
    with pytest.raises(MetadataError, match="not valid JSON"):
        parse_node_json(b"{", "k/zarr.json")
    with pytest.raises(MetadataError, match="zarr_format must be 3"):
        parse_node_json(b'{"zarr_format": 2, "node_type": "array"}', "k/zarr.json")
    with pytest.raises(MetadataError, match="node_type"):
        parse_node_json(b'{"zarr_format": 3, "node_type": "blob"}', "k/zarr.json")
    g = parse_group_metadata({"zarr_format": 3, "node_type": "group", "attributes": {"a": 1}})
    assert g.to_json() == {"zarr_format": 3, "node_type": "group", "attributes": {"a": 1}}
    with pytest.raises(UnsupportedError):
        parse_group_metadata({"zarr_format": 3, "node_type": "group", "surprise": 1})
