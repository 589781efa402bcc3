"""Reading the records of an ingest request: decode, check every field, enforce the limits.

The body is ``{"records": [{"type": <type code>, **fields}, ...]}`` where the fields are
those of the run-log record dataclasses (:mod:`kiseki.runlog.records`) and values use
kiseki's JSON tags for NaN, infinities and huge integers (:mod:`kiseki.jsoncodec`). A
request is checked whole before anything is applied: the first problem found is reported,
naming the record (``records[12]``) and the field, and nothing of the request is stored.

History rows (type 2) are by far the most frequent record, so they are checked on a fast
path; every other type goes through a table of field checks.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import MISSING, fields
from math import fsum
from typing import Any

import orjson

from kiseki import jsoncodec
from kiseki.errors import UsageError
from kiseki.runlog.records import RECORD_TYPES, HistoryRow, RunStarted
from kiseki.server.artifact_records import ARTIFACT_RECORD_CHECKS
from kiseki.server.config import Limits
from kiseki.server.errors import PayloadTooLargeError
from kiseki.server.media_records import MEDIA_RECORD_CHECKS
from kiseki.server.run_data_records import RUN_DATA_RECORD_CHECKS
from kiseki.store.schema import PRIVACIES

INT64_MAX = 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
RESERVED_KEYS = frozenset({"_step", "_runtime", "_timestamp"})
RUN_UPDATE_FIELDS = ("name", "notes", "tags", "group", "job_type")
MAX_SECONDS = 1e15
"""Times and runtimes are finite numbers of seconds below this."""
_TYPE_NAMES = ", ".join(f"{code} {cls.__name__}" for code, cls in sorted(RECORD_TYPES.items()))

Check = Callable[[Any, str, Limits], Any]


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The request body, gunzipped when ``encoding`` says gzip, refused above ``limit`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise _too_large(limit)
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UsageError(
            f"Content-Encoding {encoding!r} is not supported: send gzip or an uncompressed body."
        )
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, limit + 1)
        if len(data) <= limit and not inflater.eof:
            data += inflater.flush()
    except zlib.error as exc:
        raise UsageError(f"The body is not valid gzip data: {exc}.") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise _too_large(limit)
    return data


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body is larger than {limit // (1024 * 1024)} MiB (uncompressed): send "
        "fewer records per request."
    )


def parse_json(data: bytes) -> Any:
    """Decode a JSON body, restoring kiseki's tagged values; :class:`UsageError` if invalid."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"The body is not valid JSON: {exc}.") from None
    if b'"$kiseki"' in data:
        value = jsoncodec.untag(value)
    return value


def read_records(payload: Any, limits: Limits) -> list[Any]:
    """The run-log records of an ingest body, checked; :class:`UsageError` names the problem.

    Sequence numbers must rise strictly within a request.
    """
    if type(payload) is not dict or set(payload) != {"records"}:
        raise UsageError('The body must be a JSON object {"records": [...]} and nothing else.')
    items = payload["records"]
    if type(items) is not list:
        raise UsageError('"records" must be a list of records.')
    if len(items) > limits.max_records:
        raise UsageError(
            f"{len(items)} records in one request: at most {limits.max_records} are accepted; "
            "split them over several requests."
        )
    records: list[Any] = []
    append = records.append
    known_keys: set[str] = set()  # history keys already checked in this request
    max_keys = limits.max_keys_per_row
    previous = 0
    for index, item in enumerate(items):
        # the common case, a history row of plain numbers with keys seen before, is checked
        # with a few C-level operations; anything else takes the path that names problems
        if type(item) is dict and len(item) == 6:
            code, seq, step = item.get("type"), item.get("seq"), item.get("step")
            timestamp, runtime, values = (
                item.get("timestamp"),
                item.get("runtime"),
                item.get("values"),
            )
            if (
                type(code) is int
                and code == 2
                and type(seq) is int
                and previous < seq <= INT64_MAX
                and type(step) is int
                and 0 <= step <= INT64_MAX
                and type(timestamp) is float
                and -MAX_SECONDS < timestamp < MAX_SECONDS
                and type(runtime) is float
                and -MAX_SECONDS < runtime < MAX_SECONDS
                and type(values) is dict
                and len(values) <= max_keys
                and known_keys.issuperset(values)
                and _all_numbers(values)
            ):
                append(HistoryRow(seq, step, timestamp, runtime, values))
                previous = seq
                continue
        record = _checked_record(item, f"records[{index}]", limits, known_keys)
        if record.seq <= previous:
            raise UsageError(
                f"records[{index}]: seq {record.seq} does not follow {previous}: sequence "
                "numbers must rise strictly within a request."
            )
        previous = record.seq
        append(record)
    return records


def _all_numbers(values: dict[str, Any]) -> bool:
    """Whether every value is a number or a boolean (summed at C speed: strings, None, lists
    and huge integers make it fail, and those rows take the full check)."""
    try:
        fsum(values.values())
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _checked_record(item: Any, where: str, limits: Limits, known_keys: set[str]) -> Any:
    if type(item) is not dict:
        raise UsageError(f"{where} must be an object with a 'type' and the record's fields.")
    code = item.get("type")
    if type(code) is int and code == 2:
        return _history_row(item, where, limits, known_keys)
    return _record(item, where, limits)


# -- history rows: the fast path -------------------------------------------------------------
def _history_row(
    item: dict[str, Any], where: str, limits: Limits, known_keys: set[str]
) -> HistoryRow:
    if len(item) != 6:
        _check_names(item, HistoryRow, where)
    try:
        seq, step, timestamp, runtime, values = (
            item["seq"],
            item["step"],
            item["timestamp"],
            item["runtime"],
            item["values"],
        )
    except KeyError:
        _check_names(item, HistoryRow, where)
        raise  # pragma: no cover - _check_names raised
    seq = _seq(seq, f"{where}.seq", limits)
    if type(step) is not int or not 0 <= step <= INT64_MAX:
        raise UsageError(f"{where}.step must be an integer from 0 to 2**63-1, not {step!r}.")
    timestamp = _time(timestamp, f"{where}.timestamp", limits)
    runtime = _time(runtime, f"{where}.runtime", limits)
    if type(values) is not dict:
        raise UsageError(f"{where}.values must be an object mapping keys to values.")
    if len(values) > limits.max_keys_per_row:
        raise UsageError(
            f"{where}.values has {len(values)} keys: at most {limits.max_keys_per_row} are "
            "accepted in one row."
        )
    max_key, max_string = limits.max_key_length, limits.max_string_bytes
    for key, value in values.items():
        if key not in known_keys:
            if not key or len(key) > max_key or key in RESERVED_KEYS:
                _bad_key(key, where, limits)
            known_keys.add(key)
        kind = type(value)
        if kind is float or kind is int or kind is bool or value is None:
            continue
        if kind is str:
            if len(value) > max_string:
                raise UsageError(_long_value(f"{where}.values[{key!r}]", max_string))
            continue
        if len(jsoncodec.dumps_bytes(value)) > max_string:
            raise UsageError(_long_value(f"{where}.values[{key!r}]", max_string))
    return HistoryRow(seq, step, timestamp, runtime, values)


def _bad_key(key: str, where: str, limits: Limits) -> None:
    if not key:
        raise UsageError(f"{where}.values has an empty key: name every value.")
    if key in RESERVED_KEYS:
        raise UsageError(
            f"{where}.values has the reserved key {key!r}: kiseki sets _step, _runtime and "
            "_timestamp itself (they are the row's own fields)."
        )
    raise UsageError(
        f"{where}.values has a key of {len(key)} characters ({key[:40]!r}...): keys are at "
        f"most {limits.max_key_length} characters."
    )


def _long_value(where: str, limit: int) -> str:
    return (
        f"{where} is longer than {limit // 1024} KiB: log large text or data as a file "
        "instead of a history value."
    )


# -- every other record: checked field by field ----------------------------------------------
def _record(item: dict[str, Any], where: str, limits: Limits) -> Any:
    code = item.get("type")
    cls = RECORD_TYPES.get(code) if type(code) is int else None
    if cls is None:
        raise UsageError(f"{where}.type {code!r} is not a record type: use one of {_TYPE_NAMES}.")
    _check_names(item, cls, where)
    checks = _CHECKS[cls.__name__]
    values = {
        name: checks[name](value, f"{where}.{name}", limits)
        for name, value in item.items()
        if name != "type"
    }
    return cls(**values)


def _check_names(item: dict[str, Any], cls: type, where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(item) - known - {"type"})
    if unknown:
        raise UsageError(
            f"{where}: unknown field {unknown[0]!r} for {cls.__name__} (type "
            f"{cls.type_code}); its fields are {', '.join(sorted(known))}."  # type: ignore[attr-defined]
        )
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(item))
    if missing:
        raise UsageError(f"{where}: {cls.__name__} needs the field {missing[0]!r}.")


def _seq(value: Any, where: str, limits: Limits) -> int:
    if type(value) is not int or not 1 <= value <= INT64_MAX:
        raise UsageError(f"{where} must be an integer from 1 to 2**63-1, not {value!r}.")
    return value


def _time(value: Any, where: str, limits: Limits) -> float:
    kind = type(value)
    if (
        (kind is not float and kind is not int)
        or not math.isfinite(value)
        or abs(value) >= MAX_SECONDS
    ):
        raise UsageError(f"{where} must be a finite number of seconds, not {value!r}.")
    return float(value)


def _text(max_length: int, *, optional: bool = False, nonempty: bool = False) -> Check:
    def check(value: Any, where: str, limits: Limits) -> Any:
        if value is None and optional:
            return None
        if type(value) is not str or len(value) > max_length or (nonempty and not value):
            kind = "a non-empty string" if nonempty else "a string"
            extra = " or null" if optional else ""
            raise UsageError(f"{where} must be {kind}{extra} of at most {max_length} characters.")
        return value

    return check


def _notes(value: Any, where: str, limits: Limits) -> str | None:
    return _text(limits.max_string_bytes, optional=True)(value, where, limits)  # type: ignore[no-any-return]


def _tags(value: Any, where: str, limits: Limits) -> list[str]:
    if type(value) is not list or len(value) > 1000:
        raise UsageError(f"{where} must be a list of at most 1000 strings.")
    for tag in value:
        if type(tag) is not str or not tag or len(tag) > 256:
            raise UsageError(f"{where} must hold non-empty strings of at most 256 characters.")
    return value


def _mapping(value: Any, where: str, limits: Limits) -> dict[str, Any]:
    if type(value) is not dict:
        raise UsageError(f"{where} must be an object.")
    _check_strings(value, where, limits.max_string_bytes)
    return value


def _check_strings(value: Any, where: str, limit: int) -> None:
    kind = type(value)
    if kind is str:
        if len(value) > limit:
            raise UsageError(_long_value(where, limit))
    elif kind is dict:
        for key, item in value.items():
            _check_strings(item, f"{where}[{key!r}]", limit)
    elif kind is list:
        for item in value:
            _check_strings(item, where, limit)


def _flag(value: Any, where: str, limits: Limits) -> bool:
    if type(value) is not bool:
        raise UsageError(f"{where} must be true or false, not {value!r}.")
    return value


def _privacy(value: Any, where: str, limits: Limits) -> str | None:
    if value is not None and value not in PRIVACIES:
        raise UsageError(f"{where} must be 'private', 'public' or null, not {value!r}.")
    return value  # type: ignore[no-any-return]


def _exit_code(value: Any, where: str, limits: Limits) -> int:
    if type(value) is not int or not INT32_MIN <= value <= INT32_MAX:
        raise UsageError(f"{where} must be a 32-bit integer, not {value!r}.")
    return value


def _run_fields(value: Any, where: str, limits: Limits) -> dict[str, Any]:
    if type(value) is not dict:
        raise UsageError(f"{where} must be an object.")
    for name, item in value.items():
        check = _CHECKS["RunStarted"].get(name) if name in RUN_UPDATE_FIELDS else None
        if check is None:
            raise UsageError(
                f"{where}: {name!r} cannot change during a run; fields are "
                f"{', '.join(RUN_UPDATE_FIELDS)}."
            )
        check(item, f"{where}.{name}", limits)
    return value


def _definition(value: Any, where: str, limits: Limits) -> dict[str, Any]:
    value = _mapping(value, where, limits)
    name = value.get("name")
    if type(name) is not str or not name or len(name) > limits.max_key_length:
        raise UsageError(f"{where}.name must be a metric name (a non-empty string).")
    return value


_CHECKS: dict[str, dict[str, Check]] = {
    "RunStarted": {
        "seq": _seq,
        "run_id": _text(64, nonempty=True),
        "project": _text(128, nonempty=True),
        "entity": _text(128, nonempty=True),
        "name": _text(256, nonempty=True),
        "created_at": _time,
        "notes": _notes,
        "tags": _tags,
        "group": _text(256, optional=True),
        "job_type": _text(128, optional=True),
        "config": _mapping,
        "author": _text(128, optional=True),
        "resumed": _flag,
        "privacy": _privacy,
    },
    "SummaryChanged": {"seq": _seq, "summary": _mapping},
    "ConfigChanged": {"seq": _seq, "config": _mapping},
    "RunUpdated": {"seq": _seq, "fields": _run_fields},
    "MetricDefined": {"seq": _seq, "definition": _definition},
    "MetadataCaptured": {"seq": _seq, "metadata": _mapping},
    "RunFinished": {
        "seq": _seq,
        "exit_code": _exit_code,
        "finished_at": _time,
        "runtime": _time,
    },
    **ARTIFACT_RECORD_CHECKS,
    **RUN_DATA_RECORD_CHECKS,
    **MEDIA_RECORD_CHECKS,
}


def claim_run(
    records: list[Any], entity: str, project: str, run_id: str, author: str | None
) -> None:
    """Make every ``RunStarted`` name the run of the request's path, and its author the
    signed-in user (what the client sent is not trusted)."""
    for record in records:
        if type(record) is RunStarted:
            record.entity, record.project, record.run_id = entity, project, run_id
            if author is not None:
                record.author = author
