"""The JSON metadata models (v3 now; v2 and N5 convert into the same ArrayMetadata)."""

import reprlib

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 3, 8, 8, 60
_SHORT.maxother = _SHORT.maxlong = 60


def shown(value: object) -> str:
    """``value`` for an error message: shortened, and safe at any nesting depth (a
    hostile document may hold a list nested hundreds deep, which plain repr recurses)."""
    return _SHORT.repr(value)
