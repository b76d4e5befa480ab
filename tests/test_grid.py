import pytest

from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.grid import ChunkKeyEncoding, RegularChunkGrid


def test_regular_grid_spec_example():
    grid = RegularChunkGrid((5, 20, 400))
    shape = (10, 200, 3000)
    assert grid.grid_shape(shape) == (2, 10, 8)
    dims = grid.dims(shape)
    assert tuple(int(d.chunk_of(i)) for d, i in zip(dims, (7, 150, 900))) == (1, 7, 2)
    assert dims[2].stop(7) == 3000 and dims[2].length(7) == 400  # edge chunk is full size
    with pytest.raises(MetadataError):
        grid.validate((1, 2))


@pytest.mark.parametrize(
    ("encoding", "coords", "key"),
    [
        (ChunkKeyEncoding("default", "/"), (1, 23, 45), "c/1/23/45"),
        (ChunkKeyEncoding("default", "."), (1, 23, 45), "c.1.23.45"),
        (ChunkKeyEncoding("v2", "."), (1, 23, 45), "1.23.45"),
        (ChunkKeyEncoding("v2", "/"), (1, 23, 45), "1/23/45"),
        (ChunkKeyEncoding("default", "/"), (), "c"),
        (ChunkKeyEncoding("v2", "."), (), "0"),
    ],
)
def test_chunk_keys(encoding, coords, key):
    assert encoding.encode(coords) == key
    if coords:
        assert encoding.decode(key) == coords
    assert ChunkKeyEncoding.from_json(encoding.to_json()) == encoding


def test_key_encoding_json_defaults_and_errors():
    assert ChunkKeyEncoding.from_json({"name": "v2"}).separator == "."
    assert ChunkKeyEncoding.from_json({"name": "default"}).separator == "/"
    assert ChunkKeyEncoding("default", "/").decode("zarr.json") is None
    with pytest.raises(UnsupportedError):
        ChunkKeyEncoding.from_json({"name": "weird"})
    with pytest.raises(MetadataError):
        RegularChunkGrid.from_json({"name": "regular", "configuration": {"chunk_shape": "x"}})
