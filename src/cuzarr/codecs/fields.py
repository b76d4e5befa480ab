"""Checks of the fields of a codec's configuration.

Each check takes the value as JSON gave it and returns it, or raises a MetadataError
naming the codec and the field. Nothing is coerced: ``true`` is not the integer 1,
``1.9`` and ``"3"`` are not integers, an object is not a list.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from cuzarr.errors import MetadataError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def is_int(value: Any) -> bool:
    """An integer, and not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def integer(codec: str, name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an integer in ``low..high``."""
    if not is_int(value) or not low <= value <= high:
        raise MetadataError(
            f"{codec} codec: {name} must be an integer in {low}..{high}, not {value!r}"
        )
    return value


def number(codec: str, name: str, value: Any) -> int | float:
    """``value`` as a finite number (an integer no bigger than int64's)."""
    if is_int(value) and abs(value) <= INT64_MAX:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise MetadataError(f"{codec} codec: {name} must be a finite number, not {value!r}")


def integers(codec: str, name: str, value: Any, low: int, high: int) -> tuple[int, ...]:
    """``value`` as a JSON array of integers in ``low..high`` (numpy integers, which code
    building a codec may hand over, become Python ones)."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and low <= v <= high
        for v in value
    ):
        raise MetadataError(
            f"{codec} codec: {name} must be a list of integers in {low}..{high}, not {value!r}"
        )
    return tuple(int(v) for v in value)


def one_of(codec: str, name: str, value: Any, choices: tuple) -> Any:
    """``value`` when it is one of ``choices`` (of the same type: ``True`` is not 1)."""
    if not any(type(value) is type(c) and value == c for c in choices):
        raise MetadataError(
            f"{codec} codec: {name} must be one of {list(choices)}, not {value!r}"
        )
    return value


def codec_list(codec: str, name: str, value: Any) -> list[Any]:
    """``value`` as a JSON array (of codec specifications)."""
    if not isinstance(value, list | tuple):
        raise MetadataError(f"{codec} codec: {name} must be a list of codecs, not {value!r}")
    return list(value)


def type_string(codec: str, name: str, value: Any) -> str:
    """``value`` as a numpy type string (``"<i4"``, ``"|u1"``)."""
    if not isinstance(value, str):
        raise MetadataError(f"{codec} codec: {name} must be a data type string, not {value!r}")
    return value
