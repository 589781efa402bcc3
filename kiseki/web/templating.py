"""Rendering the web app's Jinja2 templates (autoescaped) and serving its static files.

Every template extends ``base.html``; user text reaches the HTML only through Jinja's
autoescaping, and data for scripts only through the ``tojson`` filter (which escapes ``<``,
``>``, ``&`` and ``'``), never through ``|safe``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from kiseki import __version__

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_PREFIX = "/web-static"
"""Where the app's scripts, styles and Plotly's JS are served."""


def format_time(epoch: float | None) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SS UTC`` (scripts show it in local time)."""
    if epoch is None:
        return ""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(epoch: float | None) -> str:
    """Epoch seconds as ISO 8601 in UTC (for ``<time datetime=...>``)."""
    if epoch is None:
        return ""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def format_duration(seconds: float | None) -> str:
    """Seconds as ``4.2s``, ``3m 05s``, ``1h 02m`` or ``2d 3h``."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def format_bytes(count: Any) -> str:
    """A byte count as ``16.0 GiB``."""
    if not isinstance(count, (int, float)) or isinstance(count, bool):
        return ""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # pragma: no cover - the loop always returns


def show_value(value: Any) -> str:
    """A config or summary value as text: JSON spelling for ``None``, booleans, lists, dicts."""
    if value is None or isinstance(value, (bool, list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def path_segment(text: Any) -> str:
    """``text`` percent-encoded as one URL path segment (``/`` encoded too)."""
    return quote(str(text), safe="")


@cache
def static_version() -> str:
    """A short hash of the static files (and kiseki's version): changes bust browser caches."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of one of the app's static files, with a cache-busting version."""
    return f"{STATIC_PREFIX}/{name}?v={static_version()}"


@cache
def plotly_js_path() -> Path:
    """The minified Plotly.js shipped inside the installed ``plotly`` Python package."""
    from kiseki.errors import NotFoundError

    try:
        found = resources.files("plotly") / "package_data" / "plotly.min.js"
        path = Path(str(found))
    except ModuleNotFoundError:
        path = Path("/nonexistent")
    if not path.is_file():
        raise NotFoundError(
            "Plotly's JavaScript was not found in the installed `plotly` package: "
            "reinstall kiseki (pip install kiseki) so that its `plotly` dependency is present."
        )
    return path


@cache
def environment() -> Environment:
    """The Jinja2 environment of the web app's templates."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["time"] = format_time
    env.filters["iso"] = iso_time
    env.filters["duration"] = format_duration
    env.filters["bytes"] = format_bytes
    env.filters["seg"] = path_segment
    env.filters["show"] = show_value
    env.globals["static"] = static_url
    env.globals["version"] = __version__
    return env


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Render template ``name`` with ``context`` (plus ``request``) as an HTML response."""
    page = environment().get_template(name).render(request=request, **context)
    return HTMLResponse(
        page,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
