"""Seeded mutations of JSON documents: structural ones on the parsed document (drop a
field, swap its type, put a hostile value in it) and textual ones on its bytes
(truncation, invalid UTF-8, not JSON at all, nesting 100000 deep). Each mutation comes
with a description precise enough to redo it by hand."""

from __future__ import annotations

import json
import math
import random
from typing import Any

DEEP = 100_000
HOSTILE: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    "x",
    "",
    "../x",
    "\u0000",
    [],
    {},
    [None],
    [-1],
    [0],
    [2**64],
    ["x"],
    {"name": "x"},
    {"name": "bytes", "configuration": None},
    math.nan,
    math.inf,
    -math.inf,
    "a" * 5000,
    list(range(40)),
)
KNOWN_KEYS = (
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "codecs",
    "fill_value",
    "must_understand",
    "consolidated_metadata",
    "storage_transformers",
    "chunks",
    "dtype",
    "compressor",
    "filters",
    "dimension_separator",
    "dimensions",
    "blockSize",
    "dataType",
    "compression",
)
_PLACEHOLDER = "\u2603fuzz-placeholder\u2603"


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (a tuple of keys and indices) to a value in ``doc``, the root excluded."""
    out: list[tuple] = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        path = (*prefix, key)
        out.append(path)
        out += paths(value, path)
    return out


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _copy(doc: Any) -> Any:
    return json.loads(json.dumps(doc))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...({len(text)} chars)"


def _retyped(value: Any) -> Any:
    """The same content under another JSON type."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return [value]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return 0


def structural(doc: dict, rng: random.Random) -> tuple[Any, str]:
    """One structural mutation -> (new document, or bytes for a textual result; what)."""
    doc = _copy(doc)
    where = paths(doc)
    path = rng.choice(where) if where else ()
    kind = rng.choice(("drop", "hostile", "hostile", "hostile", "retype", "list", "add", "deep"))
    if kind == "drop" and path and isinstance(_get(doc, path[:-1]), dict):
        del _get(doc, path[:-1])[path[-1]]
        return doc, f"drop {list(path)}"
    if kind == "retype" and path:
        value = _retyped(_get(doc, path))
        _set(doc, path, value)
        return doc, f"set {list(path)} = {_show(value)} (retyped)"
    if kind == "list":
        lists = [p for p in where if isinstance(_get(doc, p), list)]
        if lists:
            return _edit_list(doc, rng.choice(lists), rng)
    if kind == "add":
        dicts = [()] + [p for p in where if isinstance(_get(doc, p), dict)]
        target = rng.choice(dicts)
        key = rng.choice(KNOWN_KEYS + ("fuzz",))
        value = rng.choice(HOSTILE + ({"must_understand": False},))
        _get(doc, target)[key] = value
        return doc, f"set {list(target) + [key]} = {_show(value)} (added)"
    if kind == "deep" and path:
        _set(doc, path, _PLACEHOLDER)
        text = json.dumps(doc).replace(json.dumps(_PLACEHOLDER), "[" * DEEP + "]" * DEEP)
        return text.encode(), f"set {list(path)} = a list nested {DEEP} deep"
    if not path:
        return doc, "unchanged (empty document)"
    value = rng.choice(HOSTILE)
    _set(doc, path, value)
    return doc, f"set {list(path)} = {_show(value)}"


def _edit_list(doc: Any, path: tuple, rng: random.Random) -> tuple[Any, str]:
    items = _get(doc, path)
    how = rng.choice(("empty", "pop", "duplicate", "append", "long", "reverse"))
    if how == "empty":
        items.clear()
    elif how == "pop" and items:
        items.pop(rng.randrange(len(items)))
    elif how == "duplicate" and items:
        items.append(items[rng.randrange(len(items))])
    elif how == "long":
        items.extend([items[0] if items else 1] * 40)
    elif how == "reverse":
        items.reverse()
    else:
        how = "append"
        items.append(rng.choice(HOSTILE))
    return doc, f"list {list(path)}: {how} -> {_show(items)}"


def textual(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One mutation of a document's bytes -> (new bytes, what)."""
    kind = rng.choice(
        (
            "truncate",
            "utf8",
            "garbage",
            "top",
            "deep",
            "bom",
            "utf16",
            "duplicate",
            "bignum",
            "surrogate",
            "trailing",
        )
    )
    if kind == "truncate":
        cut = rng.randrange(len(raw) + 1)
        return raw[:cut], f"truncated to {cut} of {len(raw)} bytes"
    if kind == "utf8":
        at = rng.randrange(len(raw) + 1)
        bad = rng.choice((b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"))
        return raw[:at] + bad + raw[at:], f"invalid UTF-8 {bad!r} inserted at byte {at}"
    if kind == "garbage":
        text = rng.choice((b"", b"not json", b"\x00" * 16, rng.randbytes(64), b"{", b"}"))
        return text, f"replaced by {text[:20]!r}"
    if kind == "top":
        text = rng.choice((b"[]", b"null", b"1", b'"x"', b"true", b"NaN", b"[{}]"))
        return text, f"replaced by top-level {text!r}"
    if kind == "deep":
        text = rng.choice((b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP))
        return text, f"replaced by JSON nested {DEEP} deep"
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw, "UTF-8 byte order mark prepended"
    if kind == "utf16":
        return raw.decode(errors="replace").encode("utf-16"), "encoded as UTF-16"
    if kind == "duplicate":
        key = rng.choice(KNOWN_KEYS)
        value = rng.choice((b"null", b"[]", b'"x"', b"-1"))
        at = raw.index(b"{") + 1 if b"{" in raw else 0
        text = raw[:at] + b'"' + key.encode() + b'": ' + value + b", " + raw[at:]
        return text, f"duplicate key {key!r} = {value!r} inserted first"
    if kind == "bignum":
        number = rng.choice((b"1" + b"0" * 5000, b"1e999", b"-1e999", b"1e-999", b"-0"))
        return _replace_number(raw, number, rng), f"a number replaced by {number[:12]!r}..."
    if kind == "surrogate":
        return _replace_string(raw, b'"\\ud800"', rng), r'a key replaced by "\ud800"'
    tail = rng.choice((b"garbage", b"\x00", b"{}", b"\n\n}"))
    return raw + tail, f"trailing {tail!r} appended"


def _replace_number(raw: bytes, number: bytes, rng: random.Random) -> bytes:
    spots = [
        i for i in range(len(raw)) if raw[i : i + 1].isdigit() and not raw[i - 1 : i].isdigit()
    ]
    if not spots:
        return raw + number
    at = rng.choice(spots)
    end = at
    while end < len(raw) and raw[end : end + 1].isdigit():
        end += 1
    return raw[:at] + number + raw[end:]


def _replace_string(raw: bytes, string: bytes, rng: random.Random) -> bytes:
    spots = [i for i in range(len(raw)) if raw[i : i + 1] == b'"' and raw[i + 1 : i + 2] == b":"]
    if not spots:
        return raw + string
    end = rng.choice(spots)  # the closing quote of a key: replace the key itself
    start = raw.rindex(b'"', 0, end)
    return raw[:start] + string + raw[end + 1 :]


def mutate(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to three mutations of a serialized document -> (new bytes, what was done)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    done: list[str] = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if doc is not None and rng.random() < 0.75:
            new, what = structural(doc, rng)
            if isinstance(new, bytes):
                raw, doc = new, None
            else:
                doc = new
                raw = json.dumps(doc).encode()
        else:
            raw, what = textual(raw, rng)
            doc = None
        done.append(what)
    return raw, "; ".join(done)
