"""Pieces shared by the CLI commands: options, errors, formatting."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from kiseki.errors import KisekiError

F = TypeVar("F", bound=Callable[..., Any])


def dir_option(function: F) -> F:
    """``--dir``: the kiseki directory holding the embedded store (default KISEKI_DIR)."""
    return click.option(
        "--dir",
        "kiseki_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="kiseki directory with the embedded store (default: KISEKI_DIR or ~/.kiseki).",
    )(function)


def friendly_errors(function: F) -> F:
    """Turn kiseki's own errors into a one-line message and exit code 1."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except KisekiError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def format_time(value: Any) -> str:
    """A timestamp (datetime or epoch seconds) as local ``YYYY-MM-DD HH:MM``."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = datetime.datetime.fromtimestamp(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone()
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def format_duration(seconds: float | None) -> str:
    """Seconds as ``1h02m``, ``3m05s`` or ``4.2s``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_value(value: Any) -> str:
    """A summary value, short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={format_value(v)}" for k, v in value.items())
    if value is None:
        return ""
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."
