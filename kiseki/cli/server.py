"""``kiseki server``: serve the tracking API and the web app to a team."""

from __future__ import annotations

import os
from pathlib import Path

import click

from kiseki.cli.common import F, dir_option, friendly_errors


def store_target(db: str | None, kiseki_dir: Path | None) -> str:
    """The store ``--db`` names, else the embedded store of the kiseki directory."""
    if db:
        return db
    from kiseki.settings import resolve_settings
    from kiseki.store.database import StoreLocation

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    return str(StoreLocation.in_dir(settings.kiseki_dir).sqlite_path)


def db_option(function: F) -> F:
    """``--db``: a SQLite path or a ``postgresql://`` URL (default: the embedded store)."""
    return click.option(
        "--db",
        default=None,
        metavar="PATH_OR_URL",
        help="SQLite file or postgresql:// URL (default: KISEKI_DIR/kiseki.db).",
    )(function)


def shown(target: str) -> str:
    """A store target without its password, for messages."""
    if "://" in target and "@" in target:
        scheme, rest = target.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return target


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5757, show_default=True, type=click.IntRange(1, 65535))
@db_option
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port and the database.",
)
@click.option(
    "--heartbeat-timeout",
    type=click.FloatRange(min=1),
    default=None,
    metavar="S",
    help="Seconds without a heartbeat before a running run is marked crashed "
    "(default: KISEKI_HEARTBEAT_TIMEOUT or 60).",
)
@click.option(
    "--blob-store",
    default="",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="Where artifact, file and media bytes go: a directory (default: 'blobs' next to a "
    "SQLite store) or S3-compatible storage (credentials from the usual AWS variables).",
)
@click.option(
    "--s3-endpoint-url",
    default="",
    metavar="URL",
    help="Endpoint of a self-hosted S3-compatible store (MinIO, Ceph) for --blob-store s3://.",
)
@dir_option
@friendly_errors
def server(
    host: str,
    port: int,
    db: str | None,
    workers: int,
    heartbeat_timeout: float | None,
    blob_store: str,
    s3_endpoint_url: str,
    kiseki_dir: Path | None,
) -> None:
    """Serve the tracking API (/api/v1) and the web app on one store.

    The schema is created or migrated on start. Create users with `kiseki user create`;
    training machines then run `kiseki login --host http://HOST:PORT`. SIGTERM (or Ctrl-C)
    lets requests in flight finish first, so nothing acknowledged is lost.
    """
    import uvicorn

    from kiseki.server.app import CONFIG_ENV, create_app
    from kiseki.server.config import ServerConfig
    from kiseki.settings import resolve_settings
    from kiseki.store.accounts import AccountStore
    from kiseki.store.database import create_store_engine, ensure_schema

    settings = resolve_settings({"kiseki_dir": kiseki_dir, "heartbeat_timeout": heartbeat_timeout})
    target = store_target(db, kiseki_dir)
    config = ServerConfig(
        store=target,
        heartbeat_timeout=settings.heartbeat_timeout,
        blob_store=blob_store,
        s3_endpoint_url=s3_endpoint_url,
    )
    ensure_schema(config.location)
    engine = create_store_engine(config.location)
    try:
        users = AccountStore(engine).count_users()
    finally:
        engine.dispose()
    click.echo(f"kiseki server on http://{host}:{port} (store: {shown(target)})")
    if users == 0:
        click.echo(
            "No users yet: create one with "
            f"`kiseki user create NAME --admin --password{_db_flag(db)}`."
        )
    options = {"host": host, "port": port, "timeout_graceful_shutdown": 30, "log_level": "info"}
    if workers == 1:
        uvicorn.run(create_app(config), **options)  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = config.to_json()
    uvicorn.run(
        "kiseki.server.app:app_from_env",
        factory=True,
        workers=workers,
        **options,  # type: ignore[arg-type]
    )


def _db_flag(db: str | None) -> str:
    return f" --db {shown(db)}" if db else ""
