"""``kiseki artifact``: put, get, list and garbage-collect artifacts."""

from __future__ import annotations

import time
from pathlib import Path

import click

from kiseki.cli.common import dir_option, format_time, friendly_errors

GC_GRACE_S = 3600.0
"""Blobs younger than this are kept by ``gc``: a running process may have written them and
not yet logged the record that refers to them."""


@click.group()
def artifact() -> None:
    """Versioned datasets and models: upload, download, list, clean up."""


@artifact.command("put")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", "name", required=True, help="Artifact name, e.g. mnist-train.")
@click.option("--type", "artifact_type", required=True, help="Artifact type, e.g. dataset.")
@click.option("--project", default=None, help="Project (default: KISEKI_PROJECT).")
@click.option("--alias", "aliases", multiple=True, help="Alias to point at the version; repeat.")
@click.option("--description", default=None, help="What the artifact holds.")
@dir_option
@friendly_errors
def put(
    path: Path,
    name: str,
    artifact_type: str,
    project: str | None,
    aliases: tuple[str, ...],
    description: str | None,
    kiseki_dir: Path | None,
) -> None:
    """Log the file or directory PATH as a new version of artifact NAME (from a small run of
    job type 'upload'); identical content makes no new version."""
    import kiseki

    settings = {"silent": True, "kiseki_dir": kiseki_dir}
    entry = kiseki.Artifact(name, type=artifact_type, description=description)
    if path.is_dir():
        entry.add_dir(path)
    else:
        entry.add_file(path)
    run = kiseki.init(project=project, job_type="upload", settings=settings)
    try:
        run.log_artifact(entry, aliases=list(aliases))
    finally:
        run.finish()
    click.echo(
        f"Logged {run.entity}/{run.project}/{name} ({len(entry.manifest)} file(s), "
        f"{entry.size} bytes, digest {entry.digest[:12]}) from run {run.id}."
    )


@artifact.command("get")
@click.argument("reference")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to download into (default: ./artifacts/NAME:VERSION).",
)
@click.option("--type", "artifact_type", default=None, help="Refuse other artifact types.")
@dir_option
@friendly_errors
def get(
    reference: str, root: Path | None, artifact_type: str | None, kiseki_dir: Path | None
) -> None:
    """Download REFERENCE (project/name:alias, entity/project/name:v3, or name:alias in
    KISEKI_PROJECT); files already there with the right digest are kept."""
    from kiseki.api import Api

    with Api(kiseki_dir) as api:
        found = api.artifact(reference, type=artifact_type)
        directory = found.download(root)
    click.echo(f"Downloaded {found.qualified_name} ({len(found.manifest)} file(s)) to {directory}")


@artifact.command("ls")
@click.argument("project")
@dir_option
@friendly_errors
def ls(project: str, kiseki_dir: Path | None) -> None:
    """List the artifacts of PROJECT (project or entity/project): each version with its
    aliases, size and creation time."""
    from kiseki.api import Api
    from kiseki.artifacts.sources import source_for

    with Api(kiseki_dir) as api:
        entity, name = api._split_project_path(project)
        record = api._resolve_project(entity, name)
        source = source_for(api._require_store())
        versions = source.versions(record.entity, record.name)
    if not versions:
        click.echo(f"No artifacts in {record.entity}/{record.name}.")
        return
    click.echo(
        f"{'ARTIFACT':<32} {'TYPE':<12} {'VERSION':<8} {'SIZE':>12}  CREATED           ALIASES"
    )
    for version in versions:
        click.echo(
            f"{version.name:<32} {version.type:<12} {version.version:<8} {version.size:>12}  "
            f"{format_time(version.created_at):<16}  {', '.join(version.aliases)}"
        )


@artifact.command("gc")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option(
    "--db",
    "store",
    default=None,
    metavar="STORE",
    help="A server's store (SQLite file or postgresql:// URL) instead of KISEKI_DIR's.",
)
@click.option(
    "--blob-store",
    default=None,
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The blob store to clean (default: KISEKI_DIR/blobs, or 'blobs' next to --db).",
)
@click.option(
    "--s3-endpoint-url",
    default="",
    metavar="URL",
    help="Endpoint of a self-hosted S3-compatible store for --blob-store s3://.",
)
@dir_option
@friendly_errors
def gc(
    dry_run: bool,
    store: str | None,
    blob_store: str | None,
    s3_endpoint_url: str,
    kiseki_dir: Path | None,
) -> None:
    """Remove blobs that no artifact version and no run file or media refers to.

    Blobs named by run logs not yet synced, and blobs written in the last hour (a running
    process may not have logged their record yet), are kept.
    """
    from kiseki.blobs.s3 import open_blob_store
    from kiseki.settings import resolve_settings
    from kiseki.store.artifact_queries import ArtifactQueries
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
    from kiseki.store.queries import StoreQueries

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    location = StoreLocation.parse(store) if store else StoreLocation.in_dir(settings.kiseki_dir)
    default_root = (
        Path(location.sqlite_path).parent / "blobs"
        if store and location.sqlite_path is not None
        else settings.kiseki_dir / "blobs"
    )
    blobs = open_blob_store(blob_store or "", s3_endpoint_url or None, default_root)
    ensure_schema(location)
    queries = StoreQueries(create_store_engine(location))
    try:
        keep = _unsynced_digests(settings.runs_root) if not store else set()
        candidates = [d for d in blobs.digests() if d not in keep and not _recent(blobs, d)]
        doomed = ArtifactQueries(queries).unreferenced_blobs(candidates)
    finally:
        queries.engine.dispose()
    freed = 0
    for digest in doomed:
        freed += blobs.size(digest)
        if not dry_run:
            blobs.delete(digest)
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {len(doomed)} unreferenced blob(s), {freed} bytes, from {blobs.root}.")


def _recent(blobs: object, digest: str) -> bool:
    path = getattr(blobs, "path", None)
    if path is None:
        return False
    try:
        return bool(time.time() - path(digest).stat().st_mtime < GC_GRACE_S)
    except OSError:
        return False


def _unsynced_digests(runs_root: Path) -> set[str]:
    """The blobs that run logs not yet in the store refer to."""
    from kiseki.blobs import blob_digests_of
    from kiseki.errors import RunLogError
    from kiseki.runlog.reader import read_run_log
    from kiseki.sinks.sync import find_run_dirs, is_synced

    digests: set[str] = set()
    for run_dir in find_run_dirs(runs_root):
        if is_synced(run_dir):
            continue
        try:
            records = read_run_log(run_dir / "run.log").records
        except RunLogError:
            continue
        for record in records:
            digests.update(blob_digests_of(record))
    return digests
