"""Misusing the public API raises ZarrErrors, never another exception type.

A table of wrong-typed arguments goes through every parameter of the top-level
functions and of Array and Group methods; each call either works or raises a subclass of
:class:`cuzarr.errors.ZarrError` (whose message says what was wrong). Selections that
numpy takes are taken, with numpy's results.
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import cuzarr
from cuzarr.errors import (
    IndexingError,
    InvalidKeyError,
    MetadataError,
    NodeNotFoundError,
    ZarrError,
)


def bad_values() -> list[Any]:
    """Wrong-typed arguments, fresh each time (a call may fill the list or the dict)."""
    return [
        *(None, 1.5, True, "x", [], {}, -1, 2**70, object(), b"x", (1, "x")),
        *(np.float64("nan"), np.array([]), np.array([2, 3])),  # numpy: no truth value
    ]


def leaks(call: Callable[[Any], Any]) -> list[str]:
    """The values for which ``call(value)`` raised something other than a ZarrError."""
    out = []
    for value in bad_values():
        try:
            call(value)
        except ZarrError:
            pass
        except Exception as e:  # noqa: BLE001 - what the sweep looks for
            out.append(f"{value!r}: {type(e).__name__}: {e}")
    return out


def sweep(function: Callable, good: Callable[[], dict[str, Any]]) -> dict[str, list[str]]:
    """For each keyword of ``function``: the bad values that leak, the other arguments
    being ``good()`` (fresh ones per call: a store is written to)."""
    names = [n for n in inspect.signature(function).parameters if n not in ("args", "kwargs")]
    found = {}
    for name in names:

        def call(value, name=name):
            function(**{**good(), name: value})

        bad = leaks(call)
        if bad:
            found[name] = bad
    return found


FORMATS = [3, 2, "n5"]


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_create_array_arguments(zarr_format, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # store="x" is a folder named x
    good = {"name": "a", "shape": (4, 4), "dtype": "i4", "chunks": (2, 2)}
    found = sweep(cuzarr.create_array, lambda: {**good, "store": {}, "zarr_format": zarr_format})
    assert not found


@pytest.mark.parametrize(
    "function, good",
    [
        (cuzarr.open, {"mode": "a"}),
        (cuzarr.open_array, {"mode": "a", "shape": (4,), "dtype": "i4"}),
        (cuzarr.open_group, {"mode": "a"}),
        (cuzarr.create_group, {}),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_open_and_create_group_arguments(function, good, existing, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def store():
        if not existing:
            return {}
        s = {}
        cuzarr.create_array(s, shape=(4,), dtype="i4", data=np.arange(4, dtype="i4"))
        return s

    found = sweep(function, lambda: {**good, "store": store()})
    assert not found


def _array() -> cuzarr.Array:
    a = cuzarr.create_array({}, shape=(6, 5), chunks=(4, 2), dtype="i4")
    a[...] = np.arange(30).reshape(6, 5)
    return a


ARRAY_CALLS = {
    "resize(v)": lambda a, v: a.resize(v),
    "resize(v, 4)": lambda a, v: a.resize(v, 4),
    "resize((4, v))": lambda a, v: a.resize((4, v)),
    "append(v)": lambda a, v: a.append(v),
    "append(axis=v)": lambda a, v: a.append(np.zeros((1, 5), "i4"), axis=v),
    "a[v]": lambda a, v: a[v],
    "a[v, 0]": lambda a, v: a[v, 0],
    "a[v] = 1": lambda a, v: a.__setitem__(v, 1),
    "a[0] = v": lambda a, v: a.__setitem__(0, v),
    "a[...] = v": lambda a, v: a.__setitem__(Ellipsis, v),
    "oindex[v]": lambda a, v: a.oindex[v],
    "oindex[v] = 1": lambda a, v: a.oindex.__setitem__(v, 1),
    "vindex[v]": lambda a, v: a.vindex[v],
    "vindex[v] = 1": lambda a, v: a.vindex.__setitem__(v, 1),
    "get_basic_selection(v)": lambda a, v: a.get_basic_selection(v),
    "get_basic_selection(out=v)": lambda a, v: a.get_basic_selection(out=v),
    "get_orthogonal_selection(v)": lambda a, v: a.get_orthogonal_selection(v),
    "get_coordinate_selection(v)": lambda a, v: a.get_coordinate_selection(v),
    "get_mask_selection(v)": lambda a, v: a.get_mask_selection(v),
    "set_basic_selection(v, 1)": lambda a, v: a.set_basic_selection(v, 1),
    "set_mask_selection(v, 1)": lambda a, v: a.set_mask_selection(v, 1),
    "attrs[v] = 1": lambda a, v: a.attrs.__setitem__(v, 1),
    "attrs['k'] = v": lambda a, v: a.attrs.__setitem__("k", v),
    "attrs.update(v)": lambda a, v: a.attrs.update(v),
    "attrs.put(v)": lambda a, v: a.attrs.put(v),
    "update_attributes(v)": lambda a, v: a.update_attributes(v),
}


@pytest.mark.parametrize("call", ARRAY_CALLS, ids=str)
def test_array_methods(call):
    assert not leaks(lambda v: ARRAY_CALLS[call](_array(), v))


def _group() -> cuzarr.Group:
    g = cuzarr.open_group({}, mode="w")
    g.create_group("sub")
    g.create_array("arr", shape=(3,), dtype="i4")
    return g


GROUP_CALLS = {
    "g[v]": lambda g, v: g[v],
    "g.get(v)": lambda g, v: g.get(v),
    "v in g": lambda g, v: v in g,
    "del g[v]": lambda g, v: g.__delitem__(v),
    "create_group(v)": lambda g, v: g.create_group(v),
    "create_group(overwrite=v)": lambda g, v: g.create_group("new", overwrite=v),
    "create_group(attributes=v)": lambda g, v: g.create_group("new", attributes=v),
    "create_array(v)": lambda g, v: g.create_array(v, shape=(2,), dtype="i4"),
    "create_array(shape=v)": lambda g, v: g.create_array("new", shape=v, dtype="i4"),
    "create_array(dtype=v)": lambda g, v: g.create_array("new", shape=(2,), dtype=v),
    "require_group(v)": lambda g, v: g.require_group(v),
    "require_array(v)": lambda g, v: g.require_array(v, shape=(2,), dtype="i4"),
    "require_array(shape=v)": lambda g, v: g.require_array("arr", shape=v, dtype="i4"),
    "members(v)": lambda g, v: list(g.members(v)),
    "tree(v)": lambda g, v: g.tree(v),
    "attrs['k'] = v": lambda g, v: g.attrs.__setitem__("k", v),
    "attrs.update(v)": lambda g, v: g.attrs.update(v),
}


@pytest.mark.parametrize("call", GROUP_CALLS, ids=str)
def test_group_methods(call):
    assert not leaks(lambda v: GROUP_CALLS[call](_group(), v))


MALFORMED_SELECTIONS = [
    [[0, 1], [2]],  # ragged
    (slice(None), [[0, 1], [2]]),
    [object()],
    [1.5],
    slice(0, "x"),
    slice(None, None, 0),
    [1, 2**70],
    {"a": 1},
    (0, 0, 0),
    (Ellipsis, Ellipsis),
]


@pytest.mark.parametrize("sel", MALFORMED_SELECTIONS, ids=repr)
def test_malformed_selections_are_indexing_errors(sel):
    a = _array()
    for call in (
        lambda: a[sel],
        lambda: a.oindex[sel],
        lambda: a.vindex[sel],
        lambda: a.__setitem__(sel, 1),
        lambda: a.get_mask_selection(sel),
    ):
        with pytest.raises(IndexingError):
            call()


# -- what the sweep found, one by one ----------------------------------------------------


def test_shape_and_chunks_are_not_coerced():
    for shape in [(4.0, 2), (True, 2), "12", ("4", 2), 4.5]:
        with pytest.raises(MetadataError, match="shape"):
            cuzarr.create_array({}, shape=shape, dtype="i4")
    for chunks in ["x", (2.0, 2), (True, 2), 2.5, ((2, 2.0), 2), (2,)]:
        with pytest.raises(MetadataError, match="chunks"):
            cuzarr.create_array({}, shape=(4, 4), chunks=chunks, dtype="i4")
    for shards in ["x", (4.0, 4)]:
        with pytest.raises(MetadataError, match="shards"):
            cuzarr.create_array({}, shape=(4, 4), chunks=(2, 2), shards=shards, dtype="i4")
    a = cuzarr.create_array({}, shape=np.array([4, 4]), chunks=(np.int32(2), None), dtype="i4")
    assert a.shape == (4, 4) and a.chunks == (2, 4)
    a = cuzarr.create_array({}, shape=[4, 4], chunks=np.array([2, 1]), dtype="i4")
    assert a.chunks == (2, 1)


def test_flags_are_bools():
    store = {}
    cuzarr.create_array(store, shape=(2,), dtype="i4", data=[1, 2])
    for flag in ["no", 1, None]:  # "no" is true: it would delete the array
        with pytest.raises(MetadataError, match="overwrite"):
            cuzarr.create_array(store, shape=(2,), dtype="i4", overwrite=flag)
    assert cuzarr.open_array(store)[...].tolist() == [1, 2]


def test_zarr_format_is_an_int():
    for zarr_format in [2.0, True, "3"]:
        with pytest.raises(ZarrError, match="zarr_format"):
            cuzarr.create_array({}, shape=(2,), dtype="i4", zarr_format=zarr_format)


def test_fill_value_out_of_range_is_a_metadata_error():
    with pytest.raises(MetadataError):
        cuzarr.create_array({}, shape=(2,), dtype="i4", fill_value=2**70)


def test_non_str_path_is_an_invalid_key():
    with pytest.raises(InvalidKeyError):
        cuzarr.open({}, path=123)


@pytest.mark.parametrize("key", [0, None, b"arr", "", "/", "//"], ids=repr)
def test_group_member_names_are_non_empty_str(key):
    g = _group()
    with pytest.raises(NodeNotFoundError):
        g[key]
    assert g.get(key, "default") == "default"
    assert key not in g
    with pytest.raises(NodeNotFoundError):
        del g[key]
    with pytest.raises(InvalidKeyError):
        g.create_group(key, overwrite=True)
    assert sorted(g) == ["arr", "sub"]  # the group itself was neither returned nor wiped


def test_group_member_names_are_normalised():
    g = _group()
    assert g["/sub/"].path == "sub" and "arr/" in g and g.get("/arr").shape == (3,)


# -- attributes --------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [129, 5000, 50_000])
def test_deeply_nested_attributes_are_refused(depth):
    a = cuzarr.create_array({}, shape=(2,), dtype="i4", attributes={"ok": 1})
    with pytest.raises(MetadataError, match="deeper than 128"):
        a.attrs["x"] = _nested(depth)
    with pytest.raises(MetadataError, match="deeper than 128"):
        cuzarr.create_group({}, attributes={"x": _nested(depth)})
    assert dict(a.attrs) == {"ok": 1}


def test_attributes_nested_128_deep_round_trip(tmp_path):
    a = cuzarr.create_array(str(tmp_path), shape=(2,), dtype="i4")
    a.attrs["x"] = _nested(127)  # the "x" entry is one level too
    assert cuzarr.open_array(str(tmp_path)).attrs["x"] == _nested(127)


def test_self_referencing_attributes_are_refused():
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(MetadataError, match="deeper"):
        cuzarr.create_group({}, attributes=loop)


@pytest.mark.parametrize(
    "value, match",
    [
        (np.int64(3), "int64"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (b"x", "bytes"),
        ({1: 2}, "keys must be str"),
        ({"a": {"b": object()}}, r"\['a'\]\['b'\]"),
        (np.arange(3), "tolist"),
    ],
    ids=repr,
)
def test_attributes_that_are_not_json_are_refused(value, match, tmp_path):
    a = cuzarr.create_array(str(tmp_path), shape=(2,), dtype="i4")
    doc = (tmp_path / "zarr.json").read_bytes()
    with pytest.raises(MetadataError, match=match):
        a.attrs["x"] = value
    assert (tmp_path / "zarr.json").read_bytes() == doc


def in_child(function: Callable[..., Any], *args: Any, timeout: float = 60) -> str:
    """Run ``function(*args)`` in a forked child (bounded in time, and its memory gone
    after): "returned", or the type and message of what it raised."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_report, args=(queue, function, args))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return "timed out"
    return queue.get(timeout=5) if child.exitcode == 0 else f"exit code {child.exitcode}"


def _report(queue, function, args) -> None:
    try:
        function(*args)
        queue.put("returned")
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        kind = "ZarrError" if isinstance(e, ZarrError) else type(e).__name__
        queue.put(f"{kind}: {e}")


def _open_attributes(path: str) -> None:
    cuzarr.open_array(path).attrs.asdict()


def test_reading_deeply_nested_attributes_is_a_metadata_error(tmp_path):
    """A document written by someone else, nested 100000 deep (a parser could exhaust
    the stack)."""
    cuzarr.create_array(str(tmp_path), shape=(2,), dtype="i4")
    doc = json.loads((tmp_path / "zarr.json").read_text())
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(doc).replace('"attributes": {}', '"attributes": {"x": ' + deep + "}")
    (tmp_path / "zarr.json").write_text(text)
    assert in_child(_open_attributes, str(tmp_path)).startswith("ZarrError")


def _walk_members(store: dict) -> None:
    g = cuzarr.open_group(store, mode="r")
    assert [name for name, _ in g.members(max_depth=None)] == ["a", "a/b"]
    assert g.tree().splitlines()[1:] == ["└── a", "    └── b"]


def test_walking_keys_that_name_no_member_ends():
    """Keys another program wrote with a leading slash or an empty segment list folders
    that name no member (or the group itself): the walk leaves them out."""
    doc = json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode()
    store = {"zarr.json": doc, "a/zarr.json": doc, "a/b/zarr.json": doc}
    store.update({"/abs/x/zarr.json": doc, "a//c/zarr.json": doc})
    assert in_child(_walk_members, store, timeout=20) == "returned"


# -- selections numpy takes --------------------------------------------------------------

SHAPES = [(6,), (6, 5), (3, 4, 5), (0, 4)]


def _pair(shape):
    data = np.arange(int(np.prod(shape)), dtype="i4").reshape(shape)
    chunks = tuple(max(1, (n + 1) // 2) for n in shape)
    a = cuzarr.create_array({}, shape=shape, chunks=chunks, dtype="i4")
    a[...] = data
    return a, data


def _selections(shape):
    n = shape[0]
    two_d = np.array([[0, n - 1], [n // 2, 0]]) if n else np.zeros((2, 0), dtype=int)
    out = [
        [],
        ([],),
        np.array([], dtype=np.int64),
        two_d,
        two_d[:1],
        np.array([[[n - 1]]]) if n else [],
    ]
    if len(shape) > 1:
        out += [(slice(None), []), ([], slice(None)), (two_d, slice(1, 3)), (two_d, Ellipsis)]
        if shape[1]:
            out += [(slice(None), np.array([[0, 1], [1, 0]])), (two_d, 1)]
    return out


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_selections_numpy_takes_read_as_numpy(shape):
    a, data = _pair(shape)
    for sel in _selections(shape):
        want = data[sel]
        got = a[sel]
        assert got.shape == want.shape, sel
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_selections_numpy_takes_write_as_numpy(shape):
    for sel in _selections(shape):
        a, data = _pair(shape)
        want = data[sel]
        value = -1 - np.arange(want.size, dtype="i4").reshape(want.shape)
        if _repeats(sel):  # which of two writes to one element wins is not defined
            value = np.full(want.shape, -7, dtype="i4")
        a[sel] = value
        data[sel] = value
        np.testing.assert_array_equal(a[...], data)


def _repeats(sel) -> bool:
    parts = sel if isinstance(sel, tuple) else (sel,)
    arrays = [np.asarray(p).reshape(-1) for p in parts if isinstance(p, (list, np.ndarray))]
    return any(len(np.unique(p)) < p.size for p in arrays)


def test_empty_lists_in_oindex_and_vindex():
    a, data = _pair((6, 5))
    assert a.oindex[[], :].shape == (0, 5) and a.oindex[:, []].shape == (6, 0)
    assert a.oindex[[], []].shape == (0, 0)
    assert a.vindex[[], []].shape == (0,)
    a.oindex[[], :] = 1
    a.vindex[[], []] = 1
    np.testing.assert_array_equal(a[...], data)


def test_two_d_index_into_a_strided_out():
    a, data = _pair((6, 5))
    sel = np.array([[0, 5], [2, 3]])
    out = np.zeros((2, 2, 10), dtype="i4")[:, :, ::2]
    a.get_orthogonal_selection(sel, out=out)
    np.testing.assert_array_equal(out, data[sel])
    assert (
        a[np.int64(2)].tolist() == data[2].tolist() and a[np.array(3)].tolist() == data[3].tolist()
    )
