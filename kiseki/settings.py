"""Settings: one frozen object resolved when a run starts or an ``Api`` is made.

Precedence: explicit arguments > ``settings=`` mapping > ``KISEKI_*`` environment variables >
``WANDB_*`` environment variables (so existing scripts keep working) > defaults. This is the
only module that reads ``os.environ``; everything else receives a :class:`Settings`.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiseki.errors import ConfigError

MODES = ("online", "offline", "disabled")
RESUME_CHOICES = ("allow", "must", "never", "auto")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a run or an ``Api``, resolved once.

    Environment variables (``KISEKI_`` prefix; the ``WANDB_`` name is the fallback):
    ``PROJECT ENTITY MODE DIR RUN_ID NAME NOTES TAGS JOB_TYPE RUN_GROUP RESUME SILENT``
    (``TAGS`` comma-separated), and kiseki's own ``HEARTBEAT_INTERVAL``,
    ``HEARTBEAT_TIMEOUT``, ``FLUSH_INTERVAL`` and ``FINISH_TIMEOUT`` (seconds).
    ``SWEEP_ID`` and ``SWEEP_PARAM_PATH`` are set by ``kiseki agent`` for the trials it runs.
    System metrics and console capture: ``STATS_INTERVAL`` (seconds, ``0`` disables),
    ``STATS_PER_CORE``, ``STATS_PROCESS_TREE``, ``CONSOLE`` (``auto``/``wrap``/``off``),
    ``CONSOLE_MAX_BYTES`` and ``SAVE_CODE`` (see docs/system-and-console.md).
    """

    project: str | None = None
    entity: str | None = None
    mode: str = "online"
    kiseki_dir: Path = Path("~/.kiseki")
    run_dir_root: Path | None = None
    run_id: str | None = None
    name: str | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()
    group: str | None = None
    job_type: str | None = None
    resume: str | None = None
    silent: bool = False
    heartbeat_interval: float = 10.0
    heartbeat_timeout: float = 60.0
    flush_interval: float = 0.2
    finish_timeout: float = 60.0
    user: str = "unknown"
    base_url: str | None = None
    api_key: str | None = None
    privacy: str | None = None
    stop_raises: bool = False
    stats_interval: float = 15.0
    stats_per_core: bool = False
    stats_process_tree: bool = False
    console: str = "auto"
    console_max_bytes: int = 32 * 1024 * 1024
    save_code: bool = False
    sweep_id: str | None = None
    sweep_param_path: Path | None = None

    @property
    def remote(self) -> bool:
        """Whether runs go to a kiseki server (``base_url`` is set), not the embedded store."""
        return self.base_url is not None

    @property
    def runs_root(self) -> Path:
        """Where run directories (each holding a ``run.log``) are created."""
        return self.run_dir_root or (self.kiseki_dir / "runs")

    @property
    def default_entity(self) -> str:
        """The entity used when none is given: ``KISEKI_ENTITY`` or the local user name."""
        return self.entity or self.user


_ENV_FIELDS: dict[str, tuple[str, str]] = {
    "project": ("KISEKI_PROJECT", "WANDB_PROJECT"),
    "entity": ("KISEKI_ENTITY", "WANDB_ENTITY"),
    "mode": ("KISEKI_MODE", "WANDB_MODE"),
    "kiseki_dir": ("KISEKI_DIR", "WANDB_DIR"),
    "run_id": ("KISEKI_RUN_ID", "WANDB_RUN_ID"),
    "name": ("KISEKI_NAME", "WANDB_NAME"),
    "notes": ("KISEKI_NOTES", "WANDB_NOTES"),
    "tags": ("KISEKI_TAGS", "WANDB_TAGS"),
    "group": ("KISEKI_RUN_GROUP", "WANDB_RUN_GROUP"),
    "job_type": ("KISEKI_JOB_TYPE", "WANDB_JOB_TYPE"),
    "resume": ("KISEKI_RESUME", "WANDB_RESUME"),
    "silent": ("KISEKI_SILENT", "WANDB_SILENT"),
    "heartbeat_interval": ("KISEKI_HEARTBEAT_INTERVAL", ""),
    "heartbeat_timeout": ("KISEKI_HEARTBEAT_TIMEOUT", ""),
    "flush_interval": ("KISEKI_FLUSH_INTERVAL", ""),
    "finish_timeout": ("KISEKI_FINISH_TIMEOUT", ""),
    "base_url": ("KISEKI_BASE_URL", "WANDB_BASE_URL"),
    "api_key": ("KISEKI_API_KEY", "WANDB_API_KEY"),
    "privacy": ("KISEKI_PRIVACY", ""),
    "stop_raises": ("KISEKI_STOP_RAISES", ""),
    "stats_interval": ("KISEKI_STATS_INTERVAL", ""),
    "stats_per_core": ("KISEKI_STATS_PER_CORE", ""),
    "stats_process_tree": ("KISEKI_STATS_PROCESS_TREE", ""),
    "console": ("KISEKI_CONSOLE", "WANDB_CONSOLE"),
    "console_max_bytes": ("KISEKI_CONSOLE_MAX_BYTES", ""),
    "save_code": ("KISEKI_SAVE_CODE", "WANDB_SAVE_CODE"),
    "sweep_id": ("KISEKI_SWEEP_ID", "WANDB_SWEEP_ID"),
    "sweep_param_path": ("KISEKI_SWEEP_PARAM_PATH", "WANDB_SWEEP_PARAM_PATH"),
}
PRIVACY_CHOICES = ("private", "public")
CREDENTIALS_FILE = "credentials.json"
_FIELD_NAMES = {f.name for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    if name in ("kiseki_dir", "run_dir_root", "sweep_param_path"):
        return Path(os.path.expanduser(str(value))).absolute()
    if name == "tags":
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return tuple(str(t) for t in value)
    if name == "base_url":
        text = str(value).strip().rstrip("/")
        if not text.startswith(("http://", "https://")):
            raise ConfigError(
                f"{source}={value!r} is not a server URL: use e.g. http://tracker:5757."
            )
        return text
    if name == "privacy":
        text = str(value).strip().lower()
        if text not in PRIVACY_CHOICES:
            raise ConfigError(f"{source}={value!r} is not a privacy: use private or public.")
        return text
    if name in _RUN_DATA_COERCERS:
        return _RUN_DATA_COERCERS[name](value, source)
    if name in ("silent", "stop_raises"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ConfigError(f"{source}={value!r} is not a boolean: use true or false.")
    if name in ("heartbeat_interval", "heartbeat_timeout", "flush_interval", "finish_timeout"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}={value!r} is not a number of seconds.") from None
        if number <= 0:
            raise ConfigError(f"{source}={value!r} must be a positive number of seconds.")
        return number
    if name == "mode":
        mode = str(value).strip().lower()
        if mode in ("dryrun", "offline"):
            return "offline"
        if mode in ("run", "online"):
            return "online"
        if mode == "disabled":
            return mode
        raise ConfigError(f"{source}={value!r} is not a mode: use one of {', '.join(MODES)}.")
    if name == "resume":
        if value is None or value is False:
            return None
        if value is True:
            return "auto"
        text = str(value).strip().lower()
        if text in ("true",):
            return "auto"
        if text in ("false", "", "none"):
            return None
        if text not in RESUME_CHOICES:
            raise ConfigError(
                f"{source}={value!r} is not a resume policy: use one of "
                f"{', '.join(RESUME_CHOICES)}."
            )
        return text
    return value if value is None else str(value)


CONSOLE_CHOICES = ("auto", "wrap", "off")
_WANDB_CONSOLE_MODES = ("redirect", "wrap_raw", "wrap_emu")  # kiseki captures at Python level


def _console(value: Any, source: str) -> str:
    text = str(value).strip().lower()
    if text in _WANDB_CONSOLE_MODES:
        return "wrap"
    if text not in CONSOLE_CHOICES:
        raise ConfigError(f"{source}={value!r} is not a console mode: use auto, wrap or off.")
    return text


def _stats_interval(value: Any, source: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}={value!r} is not a number of seconds.") from None
    if not number >= 0 or number == float("inf"):
        raise ConfigError(f"{source}={value!r} must be a number of seconds >= 0 (0 disables).")
    return number


def _byte_count(value: Any, source: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}={value!r} is not a whole number of bytes.") from None
    if number < 0:
        raise ConfigError(f"{source}={value!r} must not be negative (0 keeps no console).")
    return number


def _flag_setting(value: Any, source: str) -> bool:
    return bool(_coerce("silent", value, source))


_RUN_DATA_COERCERS: dict[str, Any] = {
    "stats_interval": _stats_interval,
    "stats_per_core": _flag_setting,
    "stats_process_tree": _flag_setting,
    "console": _console,
    "console_max_bytes": _byte_count,
    "save_code": _flag_setting,
}


def resolve_settings(
    arguments: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | Settings | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from arguments, a ``settings=`` mapping and the environment.

    ``arguments`` holds explicit keyword arguments (``None`` means "not given"); ``overrides``
    is what the user passed as ``settings=``. Unknown keys in ``overrides`` are refused with a
    :class:`~kiseki.errors.ConfigError` naming them.
    """
    env = os.environ if environ is None else environ
    if isinstance(overrides, Settings):
        overrides = {f: getattr(overrides, f) for f in _FIELD_NAMES}
    overrides = dict(overrides or {})
    unknown = set(overrides) - _FIELD_NAMES
    if unknown:
        raise ConfigError(
            f"Unknown setting(s) {', '.join(sorted(unknown))}: known settings are "
            f"{', '.join(sorted(_FIELD_NAMES))}."
        )
    values: dict[str, Any] = {}
    for name in _FIELD_NAMES:
        given = (arguments or {}).get(name)
        if given is not None:
            values[name] = _coerce(name, given, name)
            continue
        if overrides.get(name) is not None:
            values[name] = _coerce(name, overrides[name], f"settings[{name!r}]")
            continue
        for variable in _ENV_FIELDS.get(name, ()):
            if variable and env.get(variable) not in (None, ""):
                values[name] = _coerce(name, env[variable], variable)
                break
    values.setdefault("kiseki_dir", Path(os.path.expanduser("~/.kiseki")).absolute())
    if "base_url" not in values or "api_key" not in values:
        _fill_from_credentials(values)
    if "user" not in values:
        values["user"] = _local_user(env)
    return Settings(**values)


def _local_user(env: Mapping[str, str]) -> str:
    try:
        return env.get("KISEKI_USERNAME") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def credentials_path(kiseki_dir: Path) -> Path:
    """Where ``kiseki login`` keeps server URLs and API keys (a 0600 file)."""
    return kiseki_dir / CREDENTIALS_FILE


def read_credentials(kiseki_dir: Path) -> dict[str, Any]:
    """The saved logins: ``{"default": url, "hosts": {url: api_key}}`` (empty when none)."""
    import json

    try:
        data = json.loads(credentials_path(kiseki_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fill_from_credentials(values: dict[str, Any]) -> None:
    """Take the server and key saved by ``kiseki login`` when the environment names none."""
    saved = read_credentials(values["kiseki_dir"])
    hosts = saved.get("hosts") or {}
    base_url = values.get("base_url") or saved.get("default")
    if not base_url:
        return
    values.setdefault("base_url", _coerce("base_url", base_url, "credentials"))
    key = hosts.get(values["base_url"])
    if key and "api_key" not in values:
        values["api_key"] = str(key)
