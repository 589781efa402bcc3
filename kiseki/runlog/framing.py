"""How records are laid out in bytes.

A run log starts with the 16-byte :data:`FILE_HEADER`, then holds frames::

    marker  u16  0x4B53 ("SK" little-endian) -- lets a reader find the next frame after damage
    type    u8   the record type code (see ``records.RECORD_TYPES``)
    length  u32  payload length in bytes
    crc     u32  CRC-32 of the payload
    payload      JSON of the record's fields (non-finite floats and huge ints tagged)

All integers are little-endian. A frame whose CRC does not match is damaged and skipped.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

from kiseki import jsoncodec
from kiseki.errors import RunLogError
from kiseki.runlog.records import RECORD_TYPES, HistoryRow

FILE_HEADER = b"KISEKI-RUNLOG 1\n"
MARKER = 0x4B53
MARKER_BYTES = struct.pack("<H", MARKER)
FRAME_HEADER = struct.Struct("<HBII")
MAX_PAYLOAD = 256 * 1024 * 1024


class UnencodableRecordError(RunLogError):
    """A record holds something the run log cannot encode (e.g. a string that is not valid
    UTF-8 text, or a payload over 256 MiB); ``record`` is the culprit, ``reason`` says why."""

    def __init__(self, record: Any, reason: str) -> None:
        super().__init__(
            f"A {type(record).__name__} record (seq {getattr(record, 'seq', '?')}) cannot be "
            f"written to the run log: {reason}."
        )
        self.record = record
        self.reason = reason


def encode_record(record: Any) -> bytes:
    """Return the frame for one record (its fields must be plain JSON; see :func:`encode`)."""
    payload = orjson.dumps(record)
    return FRAME_HEADER.pack(MARKER, record.type_code, len(payload), zlib.crc32(payload)) + payload


def encode(record: Any) -> bytes:
    """Return the frame for one record, tagging NaN, infinities and huge integers.

    Raises :class:`UnencodableRecordError` when the record cannot be written at all.
    """
    try:
        if type(record) is HistoryRow and not jsoncodec.needs_tagging(record.values):
            try:  # the hot path: a row of plain numbers and strings
                frame = encode_record(record)
            except TypeError:  # an integer beyond 64 bits that the fast check let through
                frame = encode_record(_tagged_copy(record))
        else:
            frame = encode_record(_tagged_copy(record))
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnencodableRecordError(record, str(exc) or type(exc).__name__) from exc
    if len(frame) - FRAME_HEADER.size > MAX_PAYLOAD:
        raise UnencodableRecordError(record, f"it is larger than {MAX_PAYLOAD >> 20} MiB")
    return frame


def encode_records(records: Iterable[Any]) -> bytes:
    """The frames of ``records``, in order; raises :class:`UnencodableRecordError`."""
    return b"".join([encode(record) for record in records])


def split_encodable(records: Iterable[Any]) -> tuple[list[Any], list[UnencodableRecordError]]:
    """Separate the records that can be written from those that cannot (with the reason)."""
    good: list[Any] = []
    bad: list[UnencodableRecordError] = []
    for record in records:
        try:
            encode(record)
        except UnencodableRecordError as exc:
            bad.append(exc)
        else:
            good.append(record)
    return good, bad


def _tagged_copy(record: Any) -> Any:
    """A copy of ``record`` whose dict and list fields have NaN, inf and huge ints tagged."""
    fields = {name: getattr(record, name) for name in record.__slots__}
    for name, value in fields.items():
        if isinstance(value, dict | list):
            fields[name] = jsoncodec.tag(value)
    return type(record)(**fields)


def encode_payload_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Tag values plain JSON would lose (see :mod:`kiseki.jsoncodec`)."""
    return jsoncodec.tag(fields)


def decode_payload(type_code: int, payload: bytes) -> Any:
    """Build the record of ``type_code`` from its JSON payload."""
    cls = RECORD_TYPES[type_code]
    fields = jsoncodec.loads(payload)
    return cls(**fields)
