"""How the server checks the artifact records a client sends (``ArtifactLogged``,
``ArtifactUsed``) before applying them: names, aliases, digests and every manifest entry's
path (no entry may escape a download root)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kiseki.artifacts.names import (
    check_alias,
    check_artifact_name,
    check_artifact_type,
    check_entry_path,
)
from kiseki.blobs.local import is_digest
from kiseki.errors import KisekiError, UsageError

MAX_ENTRIES = 1_000_000
MAX_ALIASES = 100
INT64_MAX = 2**63 - 1

Check = Callable[[Any, str, Any], Any]


def _seq(value: Any, where: str, limits: Any) -> int:
    if type(value) is not int or not 1 <= value <= INT64_MAX:
        raise UsageError(f"{where} must be an integer from 1 to 2**63-1, not {value!r}.")
    return value


def _named(check: Callable[[Any], str]) -> Check:
    def run(value: Any, where: str, limits: Any) -> str:
        try:
            return check(value)
        except KisekiError as exc:
            raise UsageError(f"{where}: {exc}") from exc

    return run


def _digest(value: Any, where: str, limits: Any) -> str:
    if not is_digest(value):
        raise UsageError(f"{where} must be a SHA-256 digest (64 lowercase hex characters).")
    return str(value)


def _text(max_length: int) -> Check:
    def run(value: Any, where: str, limits: Any) -> str:
        if type(value) is not str or not value or len(value) > max_length:
            raise UsageError(f"{where} must be a non-empty string of at most {max_length} chars.")
        return value

    return run


def _description(value: Any, where: str, limits: Any) -> str | None:
    if value is not None and (type(value) is not str or len(value) > limits.max_string_bytes):
        raise UsageError(f"{where} must be a string or null.")
    return value


def _mapping(value: Any, where: str, limits: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise UsageError(f"{where} must be an object.")
    return value


def _aliases(value: Any, where: str, limits: Any) -> list[str]:
    if type(value) is not list or len(value) > MAX_ALIASES:
        raise UsageError(f"{where} must be a list of at most {MAX_ALIASES} aliases.")
    return [_named(check_alias)(alias, where, limits) for alias in value]


def _time(value: Any, where: str, limits: Any) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{where} must be a time in epoch seconds.")
    return float(value)


def _manifest(value: Any, where: str, limits: Any) -> list[dict[str, Any]]:
    if type(value) is not list or len(value) > MAX_ENTRIES:
        raise UsageError(f"{where} must be a list of at most {MAX_ENTRIES} entries.")
    seen: set[str] = set()
    entries = []
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        if type(entry) is not dict:
            raise UsageError(f"{at} must be an object with path, digest and size.")
        path = _named(check_entry_path)(entry.get("path"), f"{at}.path", limits)
        if path in seen:
            raise UsageError(f"{at}.path {path!r} appears twice in the manifest.")
        seen.add(path)
        size = entry.get("size")
        if type(size) is not int or not 0 <= size <= INT64_MAX:
            raise UsageError(f"{at}.size must be a size in bytes.")
        ref = entry.get("ref")
        if ref is not None and (type(ref) is not str or len(ref) > 4096):
            raise UsageError(f"{at}.ref must be a URI string.")
        digest = entry.get("digest")
        if ref is None:
            _digest(digest, f"{at}.digest", limits)
        elif type(digest) is not str or len(digest) > 256:
            raise UsageError(f"{at}.digest must be the reference's checksum or ETag.")
        entries.append({"path": path, "digest": digest, "size": size, "ref": ref})
    return entries


ARTIFACT_RECORD_CHECKS: dict[str, dict[str, Check]] = {
    "ArtifactLogged": {
        "seq": _seq,
        "name": _named(check_artifact_name),
        "artifact_type": _named(check_artifact_type),
        "digest": _digest,
        "manifest": _manifest,
        "aliases": _aliases,
        "description": _description,
        "metadata": _mapping,
        "created_at": _time,
    },
    "ArtifactUsed": {
        "seq": _seq,
        "entity": _text(128),
        "project": _text(128),
        "name": _named(check_artifact_name),
        "digest": _digest,
    },
}
"""Field checks of the artifact record types, merged into the server's record checks."""
