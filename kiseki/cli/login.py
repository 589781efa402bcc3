"""``kiseki login``: remember a kiseki server and an API key for this machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from kiseki.cli.common import dir_option, friendly_errors


def save_credentials(kiseki_dir: Path, base_url: str, api_key: str) -> Path:
    """Store ``api_key`` for ``base_url`` (made the default) in a file only the user can read."""
    from kiseki.settings import credentials_path, read_credentials

    data = read_credentials(kiseki_dir)
    hosts = dict(data.get("hosts") or {})
    hosts[base_url] = api_key
    path = credentials_path(kiseki_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"default": base_url, "hosts": hosts}, handle, indent=2)
    os.chmod(path, 0o600)
    return path


@click.command()
@click.option("--host", required=True, help="The server's URL, e.g. http://tracker:5757.")
@click.option(
    "--key",
    "api_key",
    default=None,
    help="The API key (from `kiseki user create`); asked for when not given.",
)
@dir_option
@friendly_errors
def login(host: str, api_key: str | None, kiseki_dir: Path | None) -> None:
    """Check an API key against a kiseki server and save both for this machine.

    Later runs (and `kiseki.Api()`) then stream to that server without any environment
    variable. The key is stored in KISEKI_DIR/credentials.json, readable only by you.
    """
    from kiseki.httpclient import HttpClient
    from kiseki.settings import resolve_settings

    settings = resolve_settings({"kiseki_dir": kiseki_dir, "base_url": host})
    assert settings.base_url is not None
    if api_key is None:
        api_key = click.prompt("API key", hide_input=True).strip()
    client = HttpClient(settings.base_url, api_key, timeout=10.0)
    try:
        viewer = client.request("GET", "/api/v1/viewer").data or {}
    finally:
        client.close()
    path = save_credentials(settings.kiseki_dir, settings.base_url, api_key)
    click.echo(
        f"Logged in to {settings.base_url} as {viewer.get('username', '?')}; "
        f"the key is saved in {path}."
    )
