"""JSON encoding that keeps every value kiseki records.

Plain JSON cannot hold NaN, +inf, -inf or integers beyond 64 bits, and PostgreSQL refuses
NaN inside JSON. kiseki keeps them by tagging: ``float("nan")`` is written as
``{"$kiseki": "nan"}``, ``float("inf")`` as ``{"$kiseki": "inf"}``, ``-inf`` as
``{"$kiseki": "-inf"}`` and an integer beyond 64 bits as ``{"$kiseki": "int", "v": "<digits>"}``.
A dict of the user's that has a ``"$kiseki"`` key itself is wrapped as
``{"$kiseki": "dict", "v": {...}}`` so that it is never mistaken for a tag.
:func:`loads` turns the tags back into Python values, so ``loads(dumps(x)) == x`` for every
value kiseki accepts (NaN compared as NaN).

This module imports nothing of kiseki's, so every layer (run log, store, server) can use it.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

TAG = "$kiseki"
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def needs_tagging(value: Any) -> bool:
    """Whether ``value`` holds a non-finite float (or, mostly, an integer beyond 64 bits).

    A flat dict of numbers is checked at C speed and may miss an integer between 2**64 and
    1e308; encoders catch orjson's ``TypeError`` for those and tag then.
    """
    kind = type(value)
    if kind is dict:
        if TAG in value:  # the user's own "$kiseki" key: wrapped, never mistaken for a tag
            return True
        try:  # the common case, a dict of numbers, checked at C speed
            return not math.isfinite(math.fsum(value.values()))
        except ValueError:  # inf + -inf
            return True
        except (TypeError, OverflowError):  # strings, nested values, huge numbers
            return any(needs_tagging(v) for v in value.values())
    if kind is float:
        return value != value or value in (math.inf, -math.inf)
    if kind is int:
        return not (_INT64_MIN <= value <= _UINT64_MAX)
    if kind is list or kind is tuple:
        return any(needs_tagging(v) for v in value)
    return False


def tag(value: Any) -> Any:
    """Return ``value`` with non-finite floats and huge integers replaced by their tags."""
    kind = type(value)
    if kind is float:
        if value != value:
            return {TAG: "nan"}
        if value == math.inf:
            return {TAG: "inf"}
        if value == -math.inf:
            return {TAG: "-inf"}
        return value
    if kind is int:
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value
        return {TAG: "int", "v": str(value)}
    if kind is dict:
        tagged = {k: tag(v) for k, v in value.items()}
        return {TAG: "dict", "v": tagged} if TAG in value else tagged
    if kind is list or kind is tuple:
        return [tag(v) for v in value]
    return value


def untag(value: Any) -> Any:
    """Inverse of :func:`tag`: turn tags back into floats and integers."""
    kind = type(value)
    if kind is dict:
        marker = value.get(TAG)
        if marker is not None and len(value) <= 2:
            if marker in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[marker]
            if marker == "int":
                return int(value["v"])
            if marker == "dict":
                return {k: untag(v) for k, v in value["v"].items()}
        return {k: untag(v) for k, v in value.items()}
    if kind is list:
        return [untag(v) for v in value]
    return value


def _has_tags(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        return TAG in value or any(_has_tags(v) for v in value.values())
    if kind is list:
        return any(_has_tags(v) for v in value)
    return False


def dumps_bytes(value: Any) -> bytes:
    """Encode ``value`` as UTF-8 JSON bytes, tagging what plain JSON would lose."""
    if needs_tagging(value):
        value = tag(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # an integer beyond 64 bits that the fast check let through
        return orjson.dumps(tag(value), option=orjson.OPT_NON_STR_KEYS)


def dumps(value: Any) -> str:
    """Encode ``value`` as a JSON string, tagging what plain JSON would lose."""
    return dumps_bytes(value).decode()


def loads(data: str | bytes) -> Any:
    """Decode JSON written by :func:`dumps` (or any plain JSON), restoring tagged values."""
    value = orjson.loads(data)
    if _has_tags(value):
        return untag(value)
    return value
