"""A run's saved files and console lines in the read API, from the embedded store or a server.

``Run.files()`` returns :class:`RunFile` objects (``download()`` writes one to disk),
``Run.logs()`` returns :class:`~kiseki.store.run_data_queries.ConsoleLine` objects.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from kiseki.errors import ApiError, NotFoundError, UsageError
from kiseki.store.run_data_queries import ConsoleLine, FileRecord


@dataclass(frozen=True)
class RunFile:
    """One file a run saved (its latest version): ``name``, ``size`` in bytes, ``digest``
    (SHA-256), ``kind`` (``file`` or ``code``), ``updated_at`` and how many ``versions`` were
    saved.

    >>> run.file("config.yaml").download(root="restored")  # doctest: +SKIP
    """

    name: str
    size: int
    digest: str
    kind: str
    updated_at: datetime
    versions: int
    _source: Any

    def read_bytes(self) -> bytes:
        """The file's bytes."""
        with self._source.open_file(self) as stream:
            return bytes(stream.read())

    def download(
        self, root: str | os.PathLike[str] = ".", replace: bool = False, exist_ok: bool = False
    ) -> Path:
        """Write the file to ``root/<name>`` and return that path.

        An existing file is refused unless ``replace=True`` (overwrite) or ``exist_ok=True``
        (keep it and return its path), as in wandb.
        """
        target = Path(root) / self.name
        if target.exists() and not replace:
            if exist_ok:
                return target
            raise UsageError(
                f"{target} already exists: pass replace=True to overwrite it, exist_ok=True to "
                "keep it, or another root=."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".kiseki-partial")
        with self._source.open_file(self) as stream, open(partial, "wb") as out:
            shutil.copyfileobj(stream, out)
        os.replace(partial, target)
        return target

    def __repr__(self) -> str:
        return f"<RunFile {self.name} ({self.size} bytes)>"


def _run_file(record: FileRecord, source: Any) -> RunFile:
    return RunFile(
        name=record.path,
        size=record.size,
        digest=record.digest,
        kind=record.kind,
        updated_at=datetime.fromtimestamp(record.saved_at, tz=timezone.utc),
        versions=record.versions,
        _source=source,
    )


class EmbeddedRunData:
    """Files and console lines of a run in an embedded store (blobs in the local blob store)."""

    def __init__(self, queries: Any, run_pk: int) -> None:
        self._queries = queries
        self._pk = run_pk

    def files(self) -> list[RunFile]:
        """Every saved file, by name."""
        from kiseki.store import run_data_queries

        with self._queries.reading() as conn:
            return [_run_file(f, self) for f in run_data_queries.files(conn, self._pk)]

    def console(
        self, after: int, limit: int, search: str | None, stream: str | None
    ) -> list[ConsoleLine]:
        """Console lines numbered above ``after``."""
        from kiseki.store import run_data_queries

        with self._queries.reading() as conn:
            return run_data_queries.console_lines(conn, self._pk, after, limit, search, stream)

    def open_file(self, file: RunFile) -> BinaryIO:
        """The file's bytes as a stream, from the blob store next to the store."""
        from kiseki.blobs import local_blob_store

        blobs = local_blob_store(_kiseki_dir(self._queries))
        if not blobs.has(file.digest):
            raise NotFoundError(
                f"The bytes of {file.name} (blob {file.digest}) are not in {blobs.root}: they "
                "stay on the machine that ran the run until it is synced."
            )
        return blobs.open(file.digest)


def _kiseki_dir(queries: Any) -> Path:
    """The kiseki directory whose blob store goes with ``queries``' store."""
    url = queries.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).parent
    from kiseki.settings import resolve_settings

    return resolve_settings().kiseki_dir


class RemoteRunData:
    """Files and console lines of a run on a kiseki server."""

    def __init__(self, client: Any, path: tuple[str, str, str]) -> None:
        self._client = client
        self._base = "/api/v1/runs/" + "/".join(urllib.parse.quote(p, safe="") for p in path)

    def files(self) -> list[RunFile]:
        """Every saved file, by name."""
        data = self._client.request("GET", self._base + "/files").data
        return [_run_file(FileRecord(**f), self) for f in data["files"]]

    def console(
        self, after: int, limit: int, search: str | None, stream: str | None
    ) -> list[ConsoleLine]:
        """Console lines numbered above ``after``."""
        query: dict[str, Any] = {"after": after, "limit": limit}
        if search:
            query["search"] = search
        if stream:
            query["stream"] = stream
        url = self._base + "/logs?" + urllib.parse.urlencode(query)
        return [ConsoleLine(**x) for x in self._client.request("GET", url).data["lines"]]

    def open_file(self, file: RunFile) -> BinaryIO:
        """The file's bytes, streamed from the server."""
        import urllib.error
        import urllib.request

        url = (
            self._client.base_url + self._base + "/files/" + urllib.parse.quote(file.name, safe="/")
        )
        request = urllib.request.Request(url)
        if self._client.api_key:
            request.add_header("Authorization", f"Bearer {self._client.api_key}")
        try:
            response: BinaryIO = urllib.request.urlopen(request, timeout=self._client.timeout)
        except urllib.error.HTTPError as exc:
            message = exc.read()[:300].decode(errors="replace")
            exc.close()
            if exc.code == 404:
                raise NotFoundError(f"{file.name}: {message}") from None
            raise ApiError(f"GET {url} failed ({exc.code}): {message}", status=exc.code) from None
        except OSError as exc:
            raise ApiError(f"GET {url} failed: {exc}", status=0) from None
        return response


def run_data_source(queries: Any, pk: Any) -> EmbeddedRunData | RemoteRunData:
    """Where a read-API run's files and console lines come from."""
    client = getattr(queries, "client", None)
    if client is not None:
        return RemoteRunData(client, pk)
    return EmbeddedRunData(queries, pk)


def iter_console(
    source: EmbeddedRunData | RemoteRunData,
    search: str | None,
    stream: str | None,
    page: int = 5000,
) -> Iterator[ConsoleLine]:
    """Every console line (matching ``search``/``stream``), a page at a time."""
    after = -1
    while True:
        lines = source.console(after, page, search, stream)
        yield from lines
        if len(lines) < page:
            return
        after = lines[-1].line_no
