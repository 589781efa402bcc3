"""Numeric history series packed into chunks (see ARCHITECTURE.md, "History storage").

A chunk holds up to ``CHUNK_SIZE`` points of one (run, key) series: steps as little-endian
int64, values as float64 (``kind='f'``) or int64 (``kind='i'``, when every value was an
integer), plus the count, min and max (NaN ignored) so that charts can downsample from chunk
statistics without unpacking.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass, field
from typing import Any

_LITTLE = sys.byteorder == "little"

CHUNK_SIZE = 1000
"""Points per sealed history chunk."""


@dataclass
class OpenChunk:
    """The chunk of a series still being filled."""

    chunk_no: int
    steps: list[int] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many points the chunk holds."""
        return len(self.steps)

    def to_row(self, run_pk: int, key: str) -> dict[str, Any]:
        """The ``history_chunks`` row for this chunk (``kind='i'`` when every value is an int)."""
        values = self.values
        try:
            packed, kind = pack_ints(values), "i"
        except TypeError:  # some value is a float
            packed, kind = pack_floats(values), "f"
        finite = [v for v in values if v == v]
        return {
            "run_pk": run_pk,
            "key": key,
            "chunk_no": self.chunk_no,
            "first_step": self.steps[0],
            "last_step": self.steps[-1],
            "count": len(self.steps),
            "vmin": float(min(finite)) if finite else None,
            "vmax": float(max(finite)) if finite else None,
            "kind": kind,
            "steps": pack_ints(self.steps),
            "vals": packed,
        }

    @classmethod
    def from_parts(cls, chunk_no: int, kind: str, steps: bytes, vals: bytes) -> OpenChunk:
        """Rebuild an open chunk from its stored columns (to continue filling it)."""
        return cls(
            chunk_no=chunk_no,
            steps=unpack_ints(bytes(steps)),
            values=unpack_values(kind, bytes(vals)),
        )


def pack_ints(values: list[int]) -> bytes:
    """Pack integers as little-endian int64."""
    packed = array("q", values)
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        packed.byteswap()
    return packed.tobytes()


def pack_floats(values: list[Any]) -> bytes:
    """Pack numbers as little-endian float64."""
    packed = array("d", values)
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        packed.byteswap()
    return packed.tobytes()


def unpack_ints(data: bytes) -> list[int]:
    """Inverse of :func:`pack_ints`."""
    unpacked = array("q")
    unpacked.frombytes(data)
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        unpacked.byteswap()
    return unpacked.tolist()


def unpack_values(kind: str, data: bytes) -> list[Any]:
    """Unpack a chunk's values according to its ``kind`` (``'f'`` or ``'i'``)."""
    if kind == "i":
        return unpack_ints(data)
    unpacked = array("d")
    unpacked.frombytes(data)
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        unpacked.byteswap()
    return unpacked.tolist()


def is_chunkable(value: Any) -> bool:
    """Whether a history value is stored in a numeric chunk (floats and int64 integers)."""
    kind = type(value)
    return kind is float or (kind is int and -(2**63) <= value < 2**63)


__all__ = ["CHUNK_SIZE", "OpenChunk", "is_chunkable", "pack_floats", "pack_ints", "unpack_values"]
