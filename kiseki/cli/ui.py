"""``kiseki ui``: serve the web app on the embedded store, on this machine, with no login."""

from __future__ import annotations

import errno
import ipaddress
import socket
from pathlib import Path

import click

from kiseki.cli.common import dir_option, friendly_errors
from kiseki.errors import UsageError

DEFAULT_PORT = 5757


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`UsageError` when ``host:port`` cannot be listened on (in use, or no such
    address), before the server prints a confusing traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"Port {port} on {host} is already in use (another `kiseki ui`?): open "
                    f"http://{host}:{port}/ if it is one, or pick another port with "
                    f"`kiseki ui --port {port + 1}`."
                ) from None
            raise UsageError(
                f"Cannot listen on {host}:{port}: {exc.strerror}. Use --host 127.0.0.1 to serve "
                "on this machine only."
            ) from None


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. kiseki ui has no login: keep it on loopback "
    "(use `kiseki server` to share runs with a team).",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@dir_option
@friendly_errors
def ui(host: str, port: int, kiseki_dir: Path | None) -> None:
    """Serve the web app on the embedded store (KISEKI_DIR) at http://HOST:PORT/.

    Browse projects, compare runs in a project's workspace (search, filter, sort, hide,
    colour, charts) and inspect one run. Everyone who can reach the address acts as you, so
    it listens on 127.0.0.1 unless told otherwise. Ctrl-C stops it.
    """
    import uvicorn

    from kiseki.server.app import create_local_app
    from kiseki.settings import resolve_settings

    settings = resolve_settings({"kiseki_dir": kiseki_dir})
    if not is_loopback(host):
        click.secho(
            f"Warning: kiseki ui has no login: anyone who can reach {host}:{port} can read, "
            "change and delete every run. Use `kiseki server` to share runs with a team.",
            fg="yellow",
            err=True,
        )
    check_port_free(host, port)
    app = create_local_app(settings.kiseki_dir)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    click.echo(f"kiseki ui: serving {settings.kiseki_dir} at {url}  (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
