"""Translating values between the official client's encodings and kiseki's.

* config: the client sends ``{key: {"value": v, "desc": ...}, "_wandb": {...}}``; kiseki keeps
  ``{key: v}`` (the client's own ``_wandb`` telemetry entry is dropped);
* history rows and summary: the client's rows carry ``_step _runtime _timestamp`` and, in the
  summary, ``_wandb``; kiseki keeps the user's keys and ``_step _runtime _timestamp`` in their
  own columns. As W&B's server does, nested dicts of a history row are flattened with ``.``
  (``{"a": {"b": 1}}`` -> ``a.b``; a key logged as ``a/b`` stays ``a/b``), while the summary
  keeps the client's nesting (``summary["a"]["b"]``);
* system metrics: the client's ``system.cpu`` is kiseki's ``system/cpu``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROW_KEYS = frozenset({"_step", "_runtime", "_timestamp", "_wandb"})
"""Keys of a client history row that are not the user's values."""
HISTORY_KEY_SEPARATOR = "."
"""What joins the keys of a nested dict in a history key (W&B's server uses ``.``)."""


def unwrap_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{key: {"value": v}}`` -> ``{key: v}``, without the client's ``_wandb`` entry."""
    unwrapped: dict[str, Any] = {}
    for key, entry in config.items():
        if key == "_wandb":
            continue
        unwrapped[key] = entry.get("value") if isinstance(entry, Mapping) else entry
    return unwrapped


def wrap_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{key: v}`` -> ``{key: {"value": v, "desc": None}}`` (what the client reads)."""
    return {key: {"value": value, "desc": None} for key, value in config.items()}


def _flatten_into(out: dict[str, Any], prefix: str, value: Mapping[str, Any]) -> None:
    for key, inner in value.items():
        if isinstance(inner, Mapping) and "_type" not in inner:
            _flatten_into(out, f"{prefix}{key}{HISTORY_KEY_SEPARATOR}", inner)
        else:
            out[f"{prefix}{key}"] = inner


def flatten(values: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts joined with ``.`` as W&B's server does (media dicts, which carry
    ``_type``, stay whole)."""
    out: dict[str, Any] = {}
    _flatten_into(out, "", values)
    return out


def history_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """The user's values of one client history row, flattened."""
    return flatten({k: v for k, v in row.items() if k not in ROW_KEYS})


def user_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The user's part of a client summary (without ``_wandb``, ``_step``, ``_runtime``,
    ``_timestamp``), nested as the client sent it (as W&B's server keeps it)."""
    return {k: v for k, v in summary.items() if k not in ROW_KEYS}


def system_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """``system.x`` keys of a ``wandb-events.jsonl`` row as kiseki's ``system/x``."""
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key in ROW_KEYS or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        name = "system/" + key[len("system.") :] if key.startswith("system.") else key
        values[name] = value
    return values
