"""``kiseki runs``: look at runs from the terminal."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click

from kiseki.cli.common import (
    dir_option,
    format_duration,
    format_time,
    format_value,
    friendly_errors,
)

STATE_STYLES = {
    "running": "cyan",
    "finished": "green",
    "failed": "red",
    "crashed": "magenta",
    "killed": "yellow",
}


@click.group()
def runs() -> None:
    """List and inspect runs."""


def summary_columns(run_summaries: list[dict[str, Any]], limit: int) -> list[str]:
    """The most common summary keys with scalar values (hidden ``_`` keys left out)."""
    counts: Counter[str] = Counter()
    for summary in run_summaries:
        for key, value in summary.items():
            if not key.startswith("_") and isinstance(value, int | float | dict):
                counts[key] += 1
    return [key for key, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


@runs.command("ls")
@click.argument("project", required=False)
@click.option("--entity", "-e", default=None, help="Entity owning the project.")
@click.option(
    "--order", default="+created_at", show_default=True, help="Sort, e.g. -summary_metrics.acc."
)
@click.option(
    "--columns", "max_columns", default=4, show_default=True, help="Summary columns to show."
)
@dir_option
@friendly_errors
def list_runs(
    project: str | None, entity: str | None, order: str, max_columns: int, kiseki_dir: Path | None
) -> None:
    """List the runs of PROJECT (without PROJECT: list the projects).

    Shows each run's state, name, id, creation time, duration and its main summary values.
    """
    from rich.console import Console
    from rich.table import Table

    from kiseki.api import Api

    api = Api(kiseki_dir, entity=entity) if kiseki_dir else Api(entity=entity)
    console = Console()
    if project is None:
        table = Table(title="Projects")
        for column in ("project", "entity", "runs", "last activity"):
            table.add_column(column)
        for item in api.projects():
            table.add_row(
                item.name, item.entity, str(item.run_count), format_time(item.last_activity)
            )
        console.print(table)
        return
    path = f"{entity}/{project}" if entity else project
    found = list(api.runs(path, order=order))
    keys = summary_columns([dict(r.summary) for r in found], max_columns)
    table = Table(title=f"{path} ({len(found)} runs)")
    for column in ("state", "name", "id", "created", "duration", *keys):
        table.add_column(column, overflow="fold")
    for run in found:
        style = STATE_STYLES.get(run.state, "")
        table.add_row(
            f"[{style}]{run.state}[/]" if style else run.state,
            run.name,
            run.id,
            format_time(run.created_at),
            format_duration(run.runtime),
            *(format_value(run.summary.get(key)) for key in keys),
        )
    console.print(table)
