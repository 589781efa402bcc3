"""``kiseki sync``: apply offline (or interrupted) run logs to the store, exactly once."""

from __future__ import annotations

from pathlib import Path

import click

from kiseki.cli.common import dir_option, friendly_errors


def find_run_dirs(runs_root: Path) -> list[Path]:
    """Every run directory (holding a ``run.log``) under ``runs_root``, oldest first."""
    if not runs_root.is_dir():
        return []
    return sorted(path.parent for path in runs_root.glob("run-*/run.log"))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--project", "-p", default=None, help="Put the runs in this project instead.")
@click.option("--entity", "-e", default=None, help="Put the runs under this entity instead.")
@click.option("--dry-run", is_flag=True, help="Show what would be synced; change nothing.")
@click.option("--include-synced", is_flag=True, help="Also look at runs already marked as synced.")
@dir_option
@friendly_errors
def sync(
    paths: tuple[Path, ...],
    project: str | None,
    entity: str | None,
    dry_run: bool,
    include_synced: bool,
    kiseki_dir: Path | None,
) -> None:
    """Apply run logs to the embedded store; re-running it changes nothing.

    PATHS are run directories or run.log files; without PATHS, every run directory under
    KISEKI_DIR/runs that is not marked as synced.
    """
    from kiseki.settings import resolve_settings
    from kiseki.sinks.local import LocalSink
    from kiseki.sinks.sync import SYNCED_MARKER, sync_run_log
    from kiseki.store.database import StoreLocation

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    targets = list(paths) or find_run_dirs(settings.runs_root)
    if not paths and not include_synced:
        targets = [p for p in targets if not (p / SYNCED_MARKER).exists()]
    if not targets:
        click.echo("Nothing to sync: every run log is already in the store.")
        return
    sink = LocalSink(StoreLocation.in_dir(settings.kiseki_dir))
    try:
        for target in targets:
            result = sync_run_log(target, sink, project=project, entity=entity, dry_run=dry_run)
            verb = "would apply" if dry_run else "applied"
            notes = []
            if result.torn_tail:
                notes.append("torn tail set aside")
            if result.damaged_ranges:
                notes.append(f"{result.damaged_ranges} damaged record(s) skipped")
            extra = f" ({'; '.join(notes)})" if notes else ""
            click.echo(
                f"{result.key.entity}/{result.key.project}/{result.key.run_id}: {verb} "
                f"{result.applied} of {result.records} record(s) from {result.path}{extra}"
            )
    finally:
        sink.close()
