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
from typing import Any

import orjson

from kiseki import jsoncodec
from kiseki.runlog.records import RECORD_TYPES

FILE_HEADER = b"KISEKI-RUNLOG 1\n"
MARKER = 0x4B53
MARKER_BYTES = struct.pack("<H", MARKER)
FRAME_HEADER = struct.Struct("<HBII")
MAX_PAYLOAD = 256 * 1024 * 1024


def encode_record(record: Any) -> bytes:
    """Return the frame for one record."""
    payload = orjson.dumps(record)
    return FRAME_HEADER.pack(MARKER, record.type_code, len(payload), zlib.crc32(payload)) + payload


def encode_payload_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Tag values plain JSON would lose (see :mod:`kiseki.jsoncodec`)."""
    return jsoncodec.tag(fields)


def decode_payload(type_code: int, payload: bytes) -> Any:
    """Build the record of ``type_code`` from its JSON payload."""
    cls = RECORD_TYPES[type_code]
    fields = jsoncodec.loads(payload)
    return cls(**fields)
