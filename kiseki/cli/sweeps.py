"""``kiseki sweep`` (create and control sweeps) and ``kiseki agent`` (run their trials)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiseki.cli.common import dir_option, friendly_errors

if TYPE_CHECKING:
    from kiseki.settings import Settings

_ACTIONS = ("pause", "resume", "stop", "cancel")


def _settings(kiseki_dir: Path | None, project: str | None, entity: str | None) -> Settings:
    from kiseki.settings import resolve_settings

    return resolve_settings({"kiseki_dir": kiseki_dir, "project": project, "entity": entity})


@click.command()
@click.argument("config_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--project", default=None, help="Project of the sweep (default: the config's).")
@click.option("--entity", default=None, help="Entity of the sweep (default: you).")
@click.option("--pause", "pause_id", metavar="ID", default=None, help="Pause sweep ID.")
@click.option("--resume", "resume_id", metavar="ID", default=None, help="Resume sweep ID.")
@click.option(
    "--stop", "stop_id", metavar="ID", default=None, help="Stop sweep ID (running trials finish)."
)
@click.option(
    "--cancel", "cancel_id", metavar="ID", default=None, help="Cancel sweep ID and its trials."
)
@dir_option
@friendly_errors
def sweep(
    config_file: Path | None,
    project: str | None,
    entity: str | None,
    pause_id: str | None,
    resume_id: str | None,
    stop_id: str | None,
    cancel_id: str | None,
    kiseki_dir: Path | None,
) -> None:
    """Create a sweep from CONFIG_FILE (W&B sweep YAML) and print its id and the agent command,
    or pause, resume, stop or cancel one (ID, PROJECT/ID or ENTITY/PROJECT/ID)."""
    from kiseki.sdk.session import DEFAULT_PROJECT
    from kiseki.sweeps.client import open_sweeps, resolve_sweep
    from kiseki.sweeps.config import parse_sweep_config

    chosen = {
        action: ref
        for action, ref in zip(_ACTIONS, (pause_id, resume_id, stop_id, cancel_id), strict=True)
        if ref
    }
    if len(chosen) > 1 or (chosen and config_file is not None):
        raise click.UsageError(
            "Give either a config file or one of --pause/--resume/--stop/--cancel."
        )
    if not chosen and config_file is None:
        raise click.UsageError(
            "Give a sweep config file (sweep.yaml), or --pause/--resume/--stop/--cancel ID."
        )
    if chosen:
        ((action, ref),) = chosen.items()
    config = parse_sweep_config(config_file) if config_file is not None else None
    settings = _settings(
        kiseki_dir,
        project or (config.raw.get("project") if config else None),
        entity or (config.raw.get("entity") if config else None),
    )
    client = open_sweeps(settings)
    try:
        if config is not None:
            record = client.create(settings.project or DEFAULT_PROJECT, config)
            click.echo(
                f"Created sweep {record.sweep_id} ({config.method}) in "
                f"{record.entity}/{record.project}."
            )
            click.echo(f"Run an agent with: kiseki agent {record.path}")
            return
        record = resolve_sweep(client, ref, project, entity)
        record = client.control(record, action)
        click.echo(f"Sweep {record.path} is now {record.state}.")
    finally:
        client.close()


@click.command()
@click.argument("sweep_id")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Run at most N trials.")
@click.option("--project", default=None, help="Project of the sweep, if SWEEP_ID names none.")
@click.option("--entity", default=None, help="Entity of the sweep, if SWEEP_ID names none.")
@dir_option
@friendly_errors
def agent(
    sweep_id: str,
    count: int | None,
    project: str | None,
    entity: str | None,
    kiseki_dir: Path | None,
) -> None:
    """Run trials of sweep SWEEP_ID (ID, PROJECT/ID or ENTITY/PROJECT/ID): its `program` with
    the chosen parameters, until the sweep ends or COUNT trials ran."""
    from kiseki.sweeps.agent import SweepAgent
    from kiseki.sweeps.client import open_sweeps, resolve_sweep

    settings = _settings(kiseki_dir, project, entity)
    client = open_sweeps(settings)
    try:
        record = resolve_sweep(client, sweep_id, project, entity)
        report = SweepAgent(client, record, settings, count=count).run()
    finally:
        client.close()
    click.echo(f"Agent ran {report.trials} trial(s), {report.failed} failed: {report.reason}")
