"""Applying ``MediaStored`` records: the run keeps its media blobs alive.

Each digest goes into ``run_blobs`` with kind ``media``, which both keeps the blob from
garbage collection and lets whoever may see the run download it (``GET /api/v1/blobs/...``
and the web app's media route check ``run_blobs``). The history row holding the media's
JSON references is an ordinary ``HistoryRow`` applied after this record.
"""

from __future__ import annotations

from kiseki.blobs import is_digest
from kiseki.runlog.records import MediaStored
from kiseki.store.record_handlers import RunContext, register
from kiseki.store.sql import SqlRunner

MEDIA_BLOB_KIND = "media"


def apply_media_stored(db: SqlRunner, run: RunContext, record: MediaStored, now: float) -> None:
    """List the record's digests as the run's media blobs (once each)."""
    digests = sorted({d for d in record.digests if isinstance(d, str) and is_digest(d)})
    if not digests:
        return
    db.executemany(
        "INSERT INTO run_blobs (run_pk, digest, kind) VALUES (:run_pk, :digest, :kind) "
        "ON CONFLICT (run_pk, digest) DO NOTHING",
        [{"run_pk": run.run_pk, "digest": d, "kind": MEDIA_BLOB_KIND} for d in digests],
    )


register(MediaStored, apply_media_stored)
