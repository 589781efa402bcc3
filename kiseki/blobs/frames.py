"""The wire form of batched blob transfers: a stream of length-prefixed frames.

Each frame is the blob's SHA-256 digest (64 lowercase hex ASCII bytes), its size (8 bytes,
unsigned big-endian) and then exactly that many bytes. ``POST /api/v1/blobs/batch`` takes
such a stream as its body; ``POST /api/v1/blobs/fetch`` answers with one.
"""

from __future__ import annotations

import struct

FRAME_MEDIA_TYPE = "application/x-kiseki-blob-frames"
DIGEST_BYTES = 64
HEADER = struct.Struct(">64sQ")
"""A frame's header: the digest as ASCII, then the size."""


def frame_header(digest: str, size: int) -> bytes:
    """The header that starts the frame of blob ``digest`` holding ``size`` bytes."""
    return HEADER.pack(digest.encode("ascii"), size)


def parse_header(header: bytes) -> tuple[str, int]:
    """``(digest, size)`` from a frame header (``HEADER.size`` bytes); the digest is not
    checked here."""
    raw, size = HEADER.unpack(header)
    return raw.decode("ascii", errors="replace"), int(size)
