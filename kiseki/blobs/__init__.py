"""Content-addressed blob storage: files kept once per SHA-256 digest.

Artifacts, saved run files and media all store their bytes here and refer to them by
digest (64 lowercase hex characters). :class:`LocalBlobStore` keeps them in a directory;
the SDK writes every blob locally first (so it survives a crash or an offline run) and a
sink uploads the blobs a record refers to before sending the record.
"""

from kiseki.blobs.local import (
    BlobCorruptError,
    LocalBlobStore,
    blob_digests_of,
    is_digest,
    local_blob_store,
)

__all__ = ["BlobCorruptError", "LocalBlobStore", "blob_digests_of", "is_digest", "local_blob_store"]
