"""Turning what users log into values kiseki can record, on the caller's thread.

This is on the hot path of ``log()``: plain ``int/float/str/bool/None`` values take one type
check each; everything else (nested dicts, NumPy, PyTorch and JAX scalars, small arrays,
lists) goes through :func:`normalize_value`. Libraries are never imported here: a value is
recognised by its type's module name, so a user who never imported torch never pays for it.
"""

from __future__ import annotations

import datetime
import enum
import math
import numbers
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from kiseki.errors import UsageError, ValueTypeError

SCALAR_TYPES = frozenset({int, float, str, bool, type(None)})
FAST_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
"""Value types ``log()`` records without any further check (strings are checked for text)."""
RESERVED_KEYS = frozenset({"_step", "_runtime", "_timestamp"})
MAX_ARRAY_ELEMENTS = 32
"""NumPy/PyTorch/JAX arrays up to this many elements are logged as lists; larger numeric
ones become a :class:`kiseki.Histogram`."""
MAX_NESTING = 32
"""How deep dicts (and, separately, lists) may nest in a logged value."""
MAX_STEP = 2**63 - 1
"""The largest ``step`` a store can hold (a signed 64-bit integer)."""


def flatten_row(data: Mapping[str, Any], what: str = "log") -> dict[str, Any]:
    """Return a new flat row from ``data``: nested dicts joined with ``/``, values normalised.

    Raises :class:`~kiseki.errors.ValueTypeError` naming the key when a value cannot be
    recorded; ``data`` is not modified and nothing is returned in that case.
    """
    if not isinstance(data, Mapping):
        raise ValueTypeError(
            f"kiseki.{what}() takes a dict of values, got {type(data).__name__}: "
            f"call kiseki.{what}({{'name': value}})."
        )
    row: dict[str, Any] = {}
    for key, value in data.items():
        if type(key) is not str or not key.isascii():
            _check_key(key, what)
        if type(value) in FAST_SCALAR_TYPES:
            row[key] = value
        elif isinstance(value, Mapping):
            _flatten_into(row, key + "/", value, what, 1)
        else:
            row[key] = normalize_value(key, value, what)
    if RESERVED_KEYS.intersection(row):
        _refuse_reserved(row, what)
    if "" in row:
        raise UsageError(f"kiseki.{what}() got an empty key: give every value a name.")
    return row


def _flatten_into(
    row: dict[str, Any], prefix: str, data: Mapping[Any, Any], what: str, depth: int
) -> None:
    if depth > MAX_NESTING:
        raise ValueTypeError(
            f"The value under {prefix[:-1]!r} is nested more than {MAX_NESTING} levels deep: "
            "flatten it before logging."
        )
    for key, value in data.items():
        if type(key) is not str or not key.isascii():
            _check_key(key, what, prefix)
        full = prefix + key
        if type(value) in FAST_SCALAR_TYPES:
            row[full] = value
        elif isinstance(value, Mapping):
            _flatten_into(row, full + "/", value, what, depth + 1)
        else:
            row[full] = normalize_value(full, value, what)


def _check_key(key: Any, what: str, prefix: str = "") -> None:
    if isinstance(key, str):
        check_text(key, f"A key given to kiseki.{what}()")
        return
    raise ValueTypeError(
        f"kiseki.{what}() keys must be strings, got {type(key).__name__} key "
        f"{_safe_repr(key)} under {prefix[:-1]!r}: convert it with str()."
        if prefix
        else f"kiseki.{what}() keys must be strings, got {type(key).__name__} key "
        f"{_safe_repr(key)}: convert it with str()."
    )


def _refuse_reserved(row: Mapping[str, Any], what: str) -> None:
    names = ", ".join(sorted(RESERVED_KEYS.intersection(row)))
    raise UsageError(
        f"kiseki.{what}() got the reserved key(s) {names}: kiseki sets _step, _runtime and "
        "_timestamp itself. Pass step=N to choose the step, or rename your key."
    )


def check_text(text: str, what: str) -> None:
    """Refuse a string that is not valid Unicode text (a lone surrogate, e.g. from bytes
    decoded with ``errors="surrogateescape"``): it cannot be stored as UTF-8."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueTypeError(
            f"{what} ({_safe_repr(text)}) holds {text[exc.start : exc.start + 1]!r} at "
            f"position {exc.start}, a lone surrogate, which is not valid Unicode text and "
            "cannot be stored: decode the bytes it came from with errors='replace', or "
            "remove it."
        ) from None


def replace_invalid_text(value: Any) -> Any:
    """``value`` with lone surrogates in its strings replaced by U+FFFD (for facts kiseki
    gathers itself, e.g. command-line arguments holding undecodable bytes)."""
    kind = type(value)
    if kind is str:
        if value.isascii():
            return value
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    if kind is dict:
        return {replace_invalid_text(k): replace_invalid_text(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [replace_invalid_text(item) for item in value]
    return value


def check_texts(fields: Mapping[str, Any], what: str) -> None:
    """:func:`check_text` every string, or list of strings, of ``fields`` (named in errors)."""
    for name, value in fields.items():
        for text in value if isinstance(value, list | tuple) else [value]:
            if isinstance(text, str):
                check_text(text, f"{what} argument {name}")


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"
    return text if len(text) <= 80 else text[:77] + "..."


def _module_root(value: Any) -> str:
    module = getattr(type(value), "__module__", "") or ""
    return module.partition(".")[0]


def normalize_value(key: str, value: Any, what: str = "log", depth: int = 0) -> Any:
    """Return a JSON-able equivalent of ``value`` or raise ValueTypeError naming ``key``."""
    kind = type(value)
    if kind in FAST_SCALAR_TYPES:
        return value
    if kind is str:
        check_text(value, f"The value of {key!r}")
        return value
    root = _module_root(value)
    if root == "numpy":
        return _from_array_like(key, value, what, size=getattr(value, "size", 1))
    if root == "torch":
        numel = value.numel() if hasattr(value, "numel") else 1
        if numel == 1:
            return _scalar(key, value.item(), what)
        return _from_array_like(key, value.detach().cpu().numpy(), what, size=numel)
    if root in ("jax", "jaxlib"):
        size = getattr(value, "size", 1)
        if size == 1:
            return _scalar(key, value.item(), what)
        return _from_array_like(key, value, what, size=size)
    if kind is list or kind is tuple:
        if depth >= MAX_NESTING:
            raise ValueTypeError(
                f"Cannot log {key!r}: lists nested more than {MAX_NESTING} levels deep cannot "
                "be recorded; flatten the value before logging it."
            )
        return [
            normalize_value(f"{key}[{i}]", item, what, depth + 1) for i, item in enumerate(value)
        ]
    if isinstance(value, bool | int | float | str):  # subclasses such as IntEnum
        return _scalar(key, value, what)
    if isinstance(value, enum.Enum):
        return normalize_value(key, value.value, what)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if getattr(kind, "_kiseki_media", False) is True:
        if what == "log":
            return value  # Run.log stores it (kiseki.media.references)
        raise ValueTypeError(
            f"Cannot store {key!r}: a {kind.__name__} can only be logged with log() (the "
            "summary then keeps the last one logged under its key), not put in the config "
            "or the summary directly."
        )
    raise ValueTypeError(
        f"Cannot log {key!r}: values of type {kind.__name__} are not supported. Log numbers, "
        "strings, booleans, None, lists of those, nested dicts, or NumPy/PyTorch/JAX scalars "
        f"and arrays of at most {MAX_ARRAY_ELEMENTS} elements."
    )


def _scalar(key: str, value: Any, what: str) -> Any:
    kind = type(value)
    if kind in FAST_SCALAR_TYPES:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return normalize_value(key, str(value), what)
    return normalize_value(key, value, what)


def _from_array_like(key: str, value: Any, what: str, size: int) -> Any:
    if getattr(value, "ndim", 1) == 0 or not hasattr(value, "tolist"):
        return _scalar(key, value.item() if hasattr(value, "item") else value, what)
    if size > MAX_ARRAY_ELEMENTS:
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        if what == "log" and kind and kind in "biuf":  # numeric: a histogram, as wandb does
            from kiseki.media.histogram import Histogram

            return Histogram(value)
        numeric = "" if what == "log" else "numeric arrays become histograms only in log(); "
        raise ValueTypeError(
            f"Cannot {'log' if what == 'log' else 'store'} {key!r}: an array of {size} "
            f"{'non-numeric ' if what == 'log' else ''}elements is too large to record as a "
            f"value (at most {MAX_ARRAY_ELEMENTS}); {numeric}record a statistic of it (mean, "
            "min, max) or a list explicitly if you need every element."
        )
    return normalize_value(key, value.tolist(), what)


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is an int or a finite float (bools excluded)."""
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))


def normalize_tree(value: Any, path: str = "config", depth: int = 0) -> Any:
    """Normalise a nested structure (config, summary values) keeping dicts nested.

    Keys must be strings; values follow :func:`normalize_value`.
    """
    if depth > MAX_NESTING:
        raise ValueTypeError(
            f"{path} is nested more than {MAX_NESTING} levels deep: flatten it before logging."
        )
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueTypeError(
                    f"{path} has a {type(key).__name__} key {_safe_repr(key)}: keys must be "
                    "strings; convert it with str()."
                )
            check_text(key, f"A key of {path}")
            result[str(key)] = normalize_tree(item, f"{path}.{key}", depth + 1)
        return result
    if type(value) is list or type(value) is tuple:
        return [normalize_tree(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    return normalize_value(path, value, "config")
