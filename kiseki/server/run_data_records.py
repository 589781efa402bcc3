"""How the server checks the console, file and system-metric records a client sends
(``ConsoleLines``, ``FileSaved``, ``SystemSampled``) before applying them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kiseki.blobs.local import is_digest
from kiseki.errors import UsageError

INT64_MAX = 2**63 - 1
MAX_LINES_PER_RECORD = 10_000
MAX_SYSTEM_KEYS = 10_000
STREAMS = ("stdout", "stderr", "kiseki")
FILE_KINDS = ("file", "code")

Check = Callable[[Any, str, Any], Any]


def _seq(value: Any, where: str, limits: Any) -> int:
    if type(value) is not int or not 1 <= value <= INT64_MAX:
        raise UsageError(f"{where} must be an integer from 1 to 2**63-1, not {value!r}.")
    return value


def _number(value: Any, where: str, limits: Any) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise UsageError(f"{where} must be a finite number, not {value!r}.")
    return float(value)


def _lines(value: Any, where: str, limits: Any) -> list[list[Any]]:
    if type(value) is not list or len(value) > MAX_LINES_PER_RECORD:
        raise UsageError(f"{where} must be a list of at most {MAX_LINES_PER_RECORD} lines.")
    for i, line in enumerate(value):
        if (
            type(line) is not list
            or len(line) != 3
            or type(line[0]) not in (int, float)
            or line[1] not in STREAMS
            or type(line[2]) is not str
            or len(line[2]) > limits.max_string_bytes
        ):
            raise UsageError(
                f"{where}[{i}] must be [timestamp, stream, text] with stream one of "
                f"{', '.join(STREAMS)} and text at most {limits.max_string_bytes} characters."
            )
    return value


def _first_line(value: Any, where: str, limits: Any) -> int | None:
    if value is not None and (type(value) is not int or not 0 <= value <= INT64_MAX):
        raise UsageError(f"{where} must be a line number (a non-negative integer) or null.")
    return value


def _path(value: Any, where: str, limits: Any) -> str:
    parts = value.split("/") if type(value) is str else []
    if not parts or len(value) > 1024 or any(p in ("", ".", "..") for p in parts):
        raise UsageError(
            f"{where} must be a relative path of at most 1024 characters without empty, '.' "
            f"or '..' parts, not {value!r}."
        )
    if "\\" in value or "\x00" in value:
        raise UsageError(f"{where} must not hold backslashes or NUL characters.")
    return str(value)


def _digest(value: Any, where: str, limits: Any) -> str:
    if not is_digest(value):
        raise UsageError(f"{where} must be a SHA-256 digest (64 lowercase hex characters).")
    return str(value)


def _size(value: Any, where: str, limits: Any) -> int:
    if type(value) is not int or not 0 <= value <= INT64_MAX:
        raise UsageError(f"{where} must be a byte count (a non-negative integer).")
    return value


def _kind(value: Any, where: str, limits: Any) -> str:
    if value not in FILE_KINDS:
        raise UsageError(f"{where} must be one of {', '.join(FILE_KINDS)}, not {value!r}.")
    return str(value)


def _system_values(value: Any, where: str, limits: Any) -> dict[str, Any]:
    if type(value) is not dict or len(value) > MAX_SYSTEM_KEYS:
        raise UsageError(f"{where} must be an object of at most {MAX_SYSTEM_KEYS} keys.")
    for key, item in value.items():
        if not key.startswith("system/") or len(key) > limits.max_key_length:
            raise UsageError(f"{where}: key {key!r} must start with 'system/' and be short.")
        if type(item) not in (int, float):
            raise UsageError(f"{where}[{key!r}] must be a number, not {item!r}.")
    return value


RUN_DATA_RECORD_CHECKS: dict[str, dict[str, Check]] = {
    "ConsoleLines": {"seq": _seq, "lines": _lines, "first_line": _first_line},
    "FileSaved": {
        "seq": _seq,
        "path": _path,
        "digest": _digest,
        "size": _size,
        "mtime": _number,
        "kind": _kind,
    },
    "SystemSampled": {
        "seq": _seq,
        "timestamp": _number,
        "runtime": _number,
        "values": _system_values,
    },
}
"""Field checks of the run-data records, merged into :mod:`kiseki.server.records`' table."""
