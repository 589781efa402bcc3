"""Reference entries: files that stay where they are (``file://``, ``http(s)://``, ``s3://``).

A reference is tracked, not copied: its entry holds the URI and a checksum (SHA-256 of a
local file) or the server's ETag, so a changed object gives the artifact a new digest, and a
download verifies that it still is what was logged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from kiseki.artifacts.manifest import ArtifactEntry, hash_file
from kiseki.blobs.local import BlobCorruptError
from kiseki.errors import NotFoundError, UsageError

SCHEMES = ("file", "http", "https", "s3")


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def reference_entries(uri: str, name: str | None) -> list[ArtifactEntry]:
    """The entries a reference adds: one per file (a ``file://`` directory or an ``s3://``
    prefix gives several, under ``name``)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in SCHEMES:
        raise UsageError(
            f"{uri!r} is not a reference kiseki can track: use a file://, http(s):// or s3:// URI."
        )
    if parsed.scheme == "file":
        return _file_entries(uri, Path(urllib.parse.unquote(parsed.path)), name)
    if parsed.scheme == "s3":
        return _s3_entries(uri, parsed.netloc, parsed.path.lstrip("/"), name)
    return [_http_entry(uri, name or Path(parsed.path).name or parsed.netloc)]


def _file_entries(uri: str, path: Path, name: str | None) -> list[ArtifactEntry]:
    if path.is_file():
        digest, size = hash_file(path)
        return [ArtifactEntry(name or path.name, digest, size, ref=uri)]
    if path.is_dir():
        entries = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path).as_posix()
            digest, size = hash_file(file)
            entries.append(
                ArtifactEntry(
                    f"{name}/{relative}" if name else relative, digest, size, ref=file.as_uri()
                )
            )
        return entries
    raise NotFoundError(f"The reference {uri} names nothing on this machine ({path}).")


def _http_entry(uri: str, name: str) -> ArtifactEntry:
    request = urllib.request.Request(uri, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            etag = response.headers.get("ETag")
            length = response.headers.get("Content-Length")
    except OSError as exc:
        raise NotFoundError(f"Cannot reach the reference {uri}: {exc}.") from exc
    digest = (etag or "").strip('"') or hashlib.sha256(uri.encode()).hexdigest()
    return ArtifactEntry(name, digest, int(length or 0), ref=uri)


def _s3_entries(uri: str, bucket: str, key: str, name: str | None) -> list[ArtifactEntry]:
    client = _s3_client()
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
        return [
            ArtifactEntry(
                name or Path(key).name,
                str(head["ETag"]).strip('"'),
                int(head["ContentLength"]),
                ref=uri,
            )
        ]
    except ClientError:
        pass
    prefix = key.rstrip("/") + "/" if key else ""
    entries = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            entries.append(
                ArtifactEntry(
                    f"{name}/{relative}" if name else relative,
                    str(item["ETag"]).strip('"'),
                    int(item["Size"]),
                    ref=f"s3://{bucket}/{item['Key']}",
                )
            )
    if not entries:
        raise NotFoundError(f"The reference {uri} names no object: check the bucket and key.")
    return entries


def fetch_reference(entry: ArtifactEntry, target: Path) -> None:
    """Copy a reference's object to ``target`` and check it is still what was logged."""
    assert entry.ref is not None
    parsed = urllib.parse.urlsplit(entry.ref)
    temp = target.with_name(f".{target.name}.part")
    try:
        if parsed.scheme == "file":
            shutil.copyfile(urllib.parse.unquote(parsed.path), temp)
            found = hash_file(temp)[0]
        elif parsed.scheme == "s3":
            client = _s3_client()
            client.download_file(parsed.netloc, parsed.path.lstrip("/"), str(temp))
            found = str(
                client.head_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["ETag"]
            ).strip('"')
        else:
            with urllib.request.urlopen(entry.ref, timeout=60) as response, open(temp, "wb") as out:
                shutil.copyfileobj(response, out, 1024 * 1024)
                found = (response.headers.get("ETag") or "").strip('"') or entry.digest
        if found != entry.digest:
            raise BlobCorruptError(
                f"The reference {entry.ref} changed since it was logged (checksum {found}, "
                f"logged {entry.digest}); log a new version of the artifact."
            )
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
