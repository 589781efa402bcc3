"""The ``kiseki`` command."""

from __future__ import annotations

import click

from kiseki import __version__
from kiseki.cli.artifacts import artifact
from kiseki.cli.demo import demo
from kiseki.cli.gc import gc
from kiseki.cli.login import login
from kiseki.cli.runs import runs
from kiseki.cli.server import server
from kiseki.cli.sweeps import agent, sweep
from kiseki.cli.sync import sync
from kiseki.cli.ui import ui
from kiseki.cli.users import team, user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="kiseki")
def cli() -> None:
    """kiseki: a local-first experiment tracker (runs, metrics, summaries) with a wandb-shaped API.

    Data lives in KISEKI_DIR (default ~/.kiseki). Start with `kiseki demo`, then
    `kiseki runs ls kiseki-demo`.
    """


cli.add_command(agent)
cli.add_command(artifact)
cli.add_command(demo)
cli.add_command(gc)
cli.add_command(login)
cli.add_command(runs)
cli.add_command(server)
cli.add_command(sweep)
cli.add_command(sync)
cli.add_command(team)
cli.add_command(ui)
cli.add_command(user)


def main() -> None:
    """Entry point of the ``kiseki`` console script."""
    cli(prog_name="kiseki")
