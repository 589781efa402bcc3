"""An artifact's entries and its content digest.

An entry is a path inside the artifact with the SHA-256 digest and size of its bytes, or, for
a reference (``ref``: a ``file://``, ``http(s)://`` or ``s3://`` URI), the remote object's
checksum or ETag. The artifact's digest hashes every entry's path, digest and reference, so
the same files under the same names always give the same digest (and no new version).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HASH_CHUNK = 1024 * 1024


@dataclass
class ArtifactEntry:
    """One file of an artifact.

    ``path`` is where it goes inside the artifact; ``digest`` its SHA-256 (or a reference's
    checksum/ETag); ``ref`` the URI of a reference (``None`` for stored files);
    ``local_path`` the file it was added from (before the artifact is logged).
    """

    path: str
    digest: str
    size: int
    ref: str | None = None
    local_path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"path", "digest", "size", "ref"}``."""
        return {"path": self.path, "digest": self.digest, "size": self.size, "ref": self.ref}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactEntry:
        """An entry from :meth:`to_json`'s form."""
        return cls(str(data["path"]), str(data["digest"]), int(data["size"]), data.get("ref"))


def hash_file(path: Path | str) -> tuple[str, int]:
    """``(sha256 hex digest, size)`` of a file, read in 1 MiB blocks."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def manifest_digest(entries: list[ArtifactEntry]) -> str:
    """The artifact's content digest over its entries' paths, digests and references."""
    hasher = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{entry.path}\0{entry.digest}\0{entry.ref or ''}\n".encode())
    return hasher.hexdigest()
