"""``kiseki gc``: delete local run directories whose whole log is safely in the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from kiseki.cli.common import dir_option, friendly_errors
from kiseki.cli.sync import format_size


@click.command()
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    required=True,
    metavar="DAYS",
    help="Only remove run directories unchanged for at least this many days.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be removed; remove nothing.")
@dir_option
@friendly_errors
def gc(older_than: float, dry_run: bool, kiseki_dir: Path | None) -> None:
    """Remove local run directories that are fully synced and older than --older-than DAYS.

    A directory is removed only when it carries the `synced` marker, the store's cursor of
    its run covers every record of its run.log, and no running process writes it. Unsynced
    run directories are never removed: `kiseki sync --status` lists them.
    """
    from kiseki.settings import resolve_settings
    from kiseki.sinks.sync import StoreCursors, find_run_dirs, plan_gc
    from kiseki.store.database import StoreLocation

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    location = StoreLocation.in_dir(settings.kiseki_dir)
    assert location.sqlite_path is not None
    cursors = StoreCursors(location.sqlite_path)
    try:
        decisions = plan_gc(find_run_dirs(settings.runs_root), cursors.applied_seq, older_than)
    finally:
        cursors.close()
    removed, freed, kept = 0, 0, 0
    verb = "would remove" if dry_run else "removed"
    for decision in decisions:
        status = decision.status
        if not decision.remove:
            kept += 1
            if decision.reason != "more recent than --older-than":
                click.echo(f"kept {status.path}: {decision.reason}")
            continue
        if not dry_run:
            try:
                shutil.rmtree(status.path)
            except OSError as exc:
                click.echo(f"could not remove {status.path}: {exc.strerror}", err=True)
                continue
        removed += 1
        freed += status.size
        key = status.key
        assert key is not None
        click.echo(
            f"{verb} {status.path} ({key.entity}/{key.project}/{key.run_id}, "
            f"{format_size(status.size)})"
        )
    click.echo(
        f"{verb} {removed} run director{'y' if removed == 1 else 'ies'} "
        f"({format_size(freed)}); kept {kept}."
    )
