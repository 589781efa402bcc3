"""``kiseki sync``: apply offline (or interrupted) run logs to the store, exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kiseki.cli.common import dir_option, format_time, friendly_errors
from kiseki.errors import KisekiError
from kiseki.sinks.sync import find_run_dirs

__all__ = ["find_run_dirs", "format_size", "sync"]


def format_size(size: int) -> str:
    """Bytes as ``812 B``, ``4.1 KB``, ``3.2 MB`` or ``1.5 GB``."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--project", "-p", default=None, help="Put the runs in this project instead.")
@click.option("--entity", "-e", default=None, help="Put the runs under this entity instead.")
@click.option("--dry-run", is_flag=True, help="Show what would be synced; change nothing.")
@click.option("--include-synced", is_flag=True, help="Also look at runs already marked as synced.")
@click.option(
    "--status",
    is_flag=True,
    help="List run directories not yet synced (run, size, records not in the store); "
    "change nothing.",
)
@dir_option
@friendly_errors
def sync(
    paths: tuple[Path, ...],
    project: str | None,
    entity: str | None,
    dry_run: bool,
    include_synced: bool,
    status: bool,
    kiseki_dir: Path | None,
) -> None:
    """Apply run logs to the store, or upload them to the kiseki server when one is
    configured (KISEKI_BASE_URL or `kiseki login`); re-running it changes nothing.

    PATHS are run directories or run.log files; without PATHS, every run directory under
    KISEKI_DIR/runs that is not marked as synced. A torn tail (an incomplete last record, e.g.
    after a power loss) is set aside in run.log.torn-<offset> and a damaged record is skipped;
    both are reported. Logs that a running process still writes are left alone.
    """
    from kiseki.settings import resolve_settings
    from kiseki.sinks.sync import is_synced

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    targets = list(paths) or find_run_dirs(settings.runs_root)
    if not paths and not include_synced:
        targets = [p for p in targets if not is_synced(p)]
    if status:
        _print_status(targets, settings.kiseki_dir)
        return
    if not targets:
        click.echo("Nothing to sync: every run log is already in the store.")
        return
    if settings.remote:
        from kiseki.sdk.backends import RemoteBackend

        backend = RemoteBackend(settings)
        try:
            entity = entity or backend.default_entity()
        finally:
            backend.close()
        if not backend.reachable:
            raise click.ClickException(
                f"The server {settings.base_url} cannot be reached: nothing was uploaded. "
                "Run `kiseki sync` again when it answers."
            )
        click.echo(f"Uploading to {settings.base_url} as entity {entity}.")
        sink = backend.make_sink()
    else:
        from kiseki.sinks.local import LocalSink
        from kiseki.store.database import StoreLocation

        sink = LocalSink(StoreLocation.in_dir(settings.kiseki_dir))
    _sync_targets(targets, sink, project, entity, dry_run)


def _sync_targets(
    targets: list[Path], sink: Any, project: str | None, entity: str | None, dry_run: bool
) -> None:
    from kiseki.sinks.sync import sync_run_log

    def report(line: str) -> None:
        click.echo(f"  {line}")

    failures = []
    try:
        for target in targets:
            try:
                result = sync_run_log(
                    target, sink, project=project, entity=entity, dry_run=dry_run, report=report
                )
            except KisekiError as exc:  # one bad log does not stop the others
                failures.append(target)
                click.echo(f"error: {exc}", err=True)
                continue
            if result.skipped:
                click.echo(f"skipped {result.path}: {result.skipped}")
                continue
            assert result.key is not None
            verb = "would apply" if dry_run else "applied"
            notes = []
            if result.torn_tail:
                notes.append("torn tail set aside" if not dry_run else "torn tail")
            if result.damaged_ranges:
                notes.append(f"{result.damaged_ranges} damaged record(s) skipped")
            extra = f" ({'; '.join(notes)})" if notes else ""
            click.echo(
                f"{result.key.entity}/{result.key.project}/{result.key.run_id}: {verb} "
                f"{result.applied} of {result.records} record(s) from {result.path}{extra}"
            )
    finally:
        sink.close()
    if failures:
        raise click.ClickException(
            f"{len(failures)} run log(s) could not be synced (see above); the others were."
        )


def _print_status(targets: list[Path], kiseki_dir: Path) -> None:
    from kiseki.sinks.sync import StoreCursors, inspect_run_dir, run_id_from_dir
    from kiseki.store.database import StoreLocation

    location = StoreLocation.in_dir(kiseki_dir)
    assert location.sqlite_path is not None
    cursors = StoreCursors(location.sqlite_path)
    try:
        statuses = [
            inspect_run_dir(t if t.is_dir() else t.parent, cursors.applied_seq) for t in targets
        ]
    finally:
        cursors.close()
    if not statuses:
        click.echo("Every run log is in the store: nothing to sync.")
        return
    header = ("run", "project", "size", "records", "not stored", "state", "modified", "directory")
    rows = []
    for s in statuses:
        state = "running" if s.in_use else ("finished" if s.finished else "interrupted")
        rows.append(
            (
                s.key.run_id if s.key else (run_id_from_dir(s.path) or "?"),
                f"{s.key.entity}/{s.key.project}" if s.key else "?",
                format_size(s.size),
                str(s.records),
                str(s.unsynced),
                state,
                format_time(s.modified_at),
                str(s.path),
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())
    for s in statuses:
        for problem in s.problems:
            click.echo(f"note: {problem}")
    waiting = sum(s.unsynced for s in statuses if not s.in_use)
    click.echo(
        f"{len(statuses)} run director{'y' if len(statuses) == 1 else 'ies'} not marked as "
        f"synced; {waiting} record(s) to apply: run `kiseki sync`."
    )
